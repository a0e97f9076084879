import assert from "node:assert/strict";
import {
  ConfigError,
  configWarnings,
  defaultConfig,
  loadConfig,
  parseSize,
} from "./config.ts";

Deno.test("parseSize() reads bytes and binary and decimal units", () => {
  assert.equal(parseSize(1048576), 1048576);
  assert.equal(parseSize("1048576"), 1048576);
  assert.equal(parseSize("512KiB"), 512 * 1024);
  assert.equal(parseSize("8 MiB"), 8 * 1024 * 1024);
  assert.equal(parseSize("1mb"), 1_000_000);
  assert.equal(parseSize("2GiB"), 2 * 1024 ** 3);
  for (
    const bad of [0, -1, 1.5, "", "MiB", "1.5MiB", "8 parsecs", null, true]
  ) {
    assert.equal(parseSize(bad), undefined, String(bad));
  }
});

Deno.test("loadConfig() gives the defaults when nothing is set", async () => {
  const { config, help, version } = await loadConfig([]);
  assert.deepEqual(config, defaultConfig());
  assert.deepEqual(config.listeners, [
    "tcp://127.0.0.1:1445",
    "http://127.0.0.1:8080",
    "ws://127.0.0.1:8888",
  ]);
  assert.equal(config.queueSize, 8 * 1024 * 1024);
  assert.ok(!help && !version);
});

Deno.test("loadConfig() splits listener lists and repeats of the flag", async () => {
  const { config } = await loadConfig([
    "--listeners",
    "tcp://a:1, tcp://b:2",
    "--listeners",
    "tcp://c:3",
  ]);
  assert.deepEqual(config.listeners, ["tcp://a:1", "tcp://b:2", "tcp://c:3"]);
});

Deno.test("loadConfig() refuses a stray argument", async () => {
  await assert.rejects(loadConfig(["--server", "extra"]), ConfigError);
});

Deno.test("loadConfig() reads `cluster` and `cluster-name` from flags and the file", async () => {
  const path = await Deno.makeTempFile({ suffix: ".yaml" });
  try {
    await Deno.writeTextFile(
      path,
      "cluster: redis://10.0.0.5:6379/1\ncluster-name: chat\n",
    );
    const fromFile = (await loadConfig(["--config", path])).config;
    assert.equal(fromFile.cluster, "redis://10.0.0.5:6379/1");
    assert.equal(fromFile.clusterName, "chat");
    const fromFlag = (await loadConfig([
      "--config",
      path,
      "--cluster-name",
      "other",
    ])).config;
    assert.equal(fromFlag.clusterName, "other");
  } finally {
    await Deno.remove(path);
  }
  await assert.rejects(loadConfig(["--cluster", ""]), ConfigError);
});

Deno.test("configWarnings() warns when a cluster has an authenticator of its own on each node", () => {
  const config = defaultConfig();
  assert.deepEqual(configWarnings(config), []);
  config.cluster = "redis://127.0.0.1:6379";
  assert.deepEqual(configWarnings(config), []);
  for (const authenticator of ["memory://", "scribble:///?db=/tmp/x"]) {
    config.authenticator = authenticator;
    const [warning, ...rest] = configWarnings(config);
    assert.match(warning!, /shares \(postgres:\/\/\)/);
    assert.deepEqual(rest, []);
  }
  config.authenticator = "postgres://mist@db:5432/mist";
  assert.deepEqual(configWarnings(config), []);
});
