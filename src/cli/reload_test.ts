import assert from "node:assert/strict";
import { MistServer } from "../server/server.ts";
import { newStats } from "../server/transport.ts";
import { defaultConfig, loadConfig } from "./config.ts";
import { configChanges, reconfiguration, Reloader } from "./reload.ts";

Deno.test("configChanges() sorts the changed keys into live and restart, ignoring the unchanged", () => {
  const before = { ...defaultConfig(), server: true };
  const after = {
    ...before,
    logLevel: "DEBUG" as const,
    maxTags: 3,
    listeners: ["tcp://127.0.0.1:1"],
    token: "secret-token",
  };
  assert.deepEqual(configChanges(before, after), {
    live: ["log-level", "max-tags"],
    restart: ["listeners", "token"],
  });
  assert.deepEqual(configChanges(before, { ...before }), {
    live: [],
    restart: [],
  });
});

Deno.test("reconfiguration() carries the limits, the queue size and the drain timeout", () => {
  const config = {
    ...defaultConfig(),
    maxTags: 3,
    queueSize: 2048,
    shutdownTimeout: 2,
  };
  const changes = reconfiguration(config);
  assert.equal(changes.limits?.maxTags, 3);
  assert.equal(changes.queueBytes, 2048);
  assert.equal(changes.drainTimeoutMs, 2000);
  assert.deepEqual(changes.allowedOrigins, []);
  assert.deepEqual(
    reconfiguration({ ...config, allowedOrigins: ["http://a.example"] })
      .allowedOrigins,
    ["http://a.example"],
  );
});

Deno.test("Reloader applies a changed file to the server's new connections only, and keeps restart-only keys as they were", async () => {
  const file = await Deno.makeTempFile({ suffix: ".yaml" });
  await Deno.writeTextFile(file, "max-tags: 2\n");
  await using server = new MistServer({ limits: { maxTags: 2 } });
  const args = ["--server", "--config", file];
  const config = (await loadConfig(args, { env: () => undefined })).config;
  const reloader = new Reloader({ args, config, server, env: () => undefined });
  const written: string[] = [];
  const outlet = {
    write: (frames: readonly { text: string }[]) => {
      for (const frame of frames) written.push(frame.text);
    },
    close() {},
  };
  const info = () => ({
    listener: "memory",
    remote: "test",
    stats: newStats(),
  });
  const old = server.open(outlet, info());

  await Deno.writeTextFile(file, "max-tags: 5\nnode-name: other\n");
  await reloader.reload();
  assert.equal(server.limits.maxTags, 5);
  assert.equal(reloader.config.maxTags, 5);
  assert.equal(reloader.config.nodeName, undefined, "needs a restart");

  const fresh = server.open(outlet, info());
  const publish = '{"command":"publish","tags":["a","b","c"],"data":"x"}';
  await old.receive(publish);
  await fresh.receive(publish);
  await old.drain(1000);
  assert.equal(written.length, 1);
  assert.match(written[0]!, /too many tags/);

  await Deno.writeTextFile(file, "max-tags: nope\n");
  await reloader.reload();
  assert.equal(server.limits.maxTags, 5, "a broken file changes nothing");
  old.close();
  fresh.close();
  await Deno.remove(file);
});
