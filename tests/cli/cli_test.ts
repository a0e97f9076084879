/**
 * The program as a user runs it: `mist --server` in a subprocess.
 */

import assert from "node:assert/strict";
import denoJson from "../../deno.json" with { type: "json" };
import { runProgram, ServerProcess } from "../_program.ts";
import {
  LineClient,
  RawWebSocket,
  tempFile,
  within,
  writeAll,
} from "../_helpers.ts";

Deno.test("mist --version prints the version", async () => {
  for (const flag of ["-v", "--version"]) {
    const { code, stdout } = await runProgram([flag]);
    assert.equal(code, 0);
    assert.equal(stdout, `mist ${denoJson.version}\n`);
  }
});

Deno.test("mist --help describes every server flag", async () => {
  const { code, stdout } = await runProgram(["--help"]);
  assert.equal(code, 0);
  for (
    const flag of [
      "--server",
      "--config",
      "--listeners",
      "--log-level",
      "--max-message-size",
      "--max-tags",
      "--max-tag-length",
      "--max-subscriptions",
      "--queue-size",
    ]
  ) {
    assert.ok(stdout.includes(flag), `help lacks ${flag}`);
  }
});

Deno.test("mist without --server prints the help and fails", async () => {
  const { code, stdout, stderr } = await runProgram([]);
  assert.equal(code, 2);
  assert.equal(stdout, "");
  assert.match(stderr, /Usage:/);
});

Deno.test("mist refuses bad flags, keys and values with a clear message", async (t) => {
  const badKey = await tempFile(
    "server: true\nlisteners: [tcp://127.0.0.1:0]\nlog-levle: DEBUG\n",
  );
  const badValue = await tempFile("max-tags: lots\n");
  const badYaml = await tempFile("listeners: [tcp://\n");
  const secretToken = await tempFile(
    "authenticator: memory://\ntoken: 8675309123\n",
  );
  const cases: [string, string[], RegExp][] = [
    ["an unknown flag", ["--server", "--colour"], /Unknown option '--colour'/],
    [
      "a bad log level",
      ["--server", "--log-level", "LOUD"],
      /--log-level: expected TRACE, DEBUG, INFO, WARN, ERROR, FATAL/,
    ],
    [
      "a bad size",
      ["--server", "--queue-size", "lots"],
      /--queue-size: expected a size/,
    ],
    [
      "a queue smaller than a message",
      ["--server", "--queue-size", "1KiB"],
      /queue-size \(1024\) must be at least max-message-size/,
    ],
    [
      "a bad listener URL",
      ["--server", "--listeners", "not a url"],
      /--listeners: expected URLs/,
    ],
    [
      "an unknown config key",
      ["--config", badKey],
      new RegExp(`Unknown config key "log-levle" in config file ${badKey}`),
    ],
    [
      "a bad config value",
      ["--server", "--config", badValue],
      /"max-tags" in config file .*: expected a positive integer, got "lots"/,
    ],
    [
      "a config file that is not YAML",
      ["--server", "--config", badYaml],
      /is not valid YAML/,
    ],
    [
      "a token of the wrong type, without echoing it",
      ["--server", "--config", secretToken],
      /"token" in config file .*: expected a non-empty string, got a number\n/,
    ],
    ["a missing config file", [
      "--server",
      "--config",
      "/nonexistent/mist.yaml",
    ], /Cannot read config file \/nonexistent\/mist.yaml: no such file/],
  ];
  for (const [name, args, message] of cases) {
    await t.step(name, async () => {
      const { code, stderr } = await runProgram(args);
      assert.equal(code, 2, stderr);
      assert.match(stderr, message);
    });
  }
  await Promise.all(
    [badKey, badValue, badYaml, secretToken].map((path) => Deno.remove(path)),
  );
  await t.step(
    "an authenticator URI that is not a URL, without echoing it",
    async () => {
      const { code, stderr } = await runProgram([
        "--server",
        "--authenticator",
        "postgres://me:s3cret@[not-a-host",
        "--token",
        "t",
      ]);
      assert.equal(code, 1);
      assert.match(stderr, /Invalid authenticator URI: not a URL/);
      assert.ok(!stderr.includes("s3cret"));
    },
  );
});

Deno.test("mist --server fails clearly when its port is in use", async () => {
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const url = `tcp://127.0.0.1:${taken.addr.port}`;
  const { code, stderr } = await runProgram(["--server", "--listeners", url]);
  assert.equal(code, 1);
  assert.match(
    stderr,
    new RegExp(`FATAL.*Cannot listen on ${url}: address already in use`),
  );
});

Deno.test("mist --server skips a scheme it does not support, and fails when none is left", async () => {
  const { code, stderr } = await runProgram([
    "--server",
    "--listeners",
    "udp://127.0.0.1:0,quic://127.0.0.1:0",
  ]);
  assert.equal(code, 1);
  assert.match(
    stderr,
    /WARN .*Skipping listener udp:\/\/127.0.0.1:0: scheme udp is not supported/,
  );
  assert.match(stderr, /FATAL.*No listener started/);
});

Deno.test("mist --server serves, logs each listener, and exits 0 on SIGTERM and SIGINT", async (t) => {
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    await t.step(signal, async () => {
      await using server = new ServerProcess([
        "--listeners",
        "tcp://127.0.0.1:0,udp://127.0.0.1:1",
      ]);
      const url = await server.address("tcp");
      await using client = await LineClient.connect(url);
      assert.deepEqual(await client.request({ command: "ping" }), {
        command: "ping",
        tags: [],
        data: "pong",
      });
      await server.waitFor(/Skipping listener udp:/);
      const { code, stderr } = await server.stop(signal);
      assert.equal(code, 0, stderr);
      assert.match(stderr, new RegExp(`${signal} received, shutting down`));
      assert.match(stderr, /Server closed/);
      await client.ended();
    });
  }
});

Deno.test("mist --config reads the original's keys and the limits; flags override the file", async () => {
  const config = await tempFile(
    [
      "server: true",
      "listeners:",
      "  - tcp://127.0.0.1:0",
      "log-level: warn",
      "max-tags: 2",
      "queue-size: 4MiB",
    ].join("\n"),
  );
  await using server = new ServerProcess([
    "--config",
    config,
    "--log-level",
    "INFO",
  ]);
  const url = await server.address("tcp"); // logged at INFO: the flag won
  await using client = await LineClient.connect(url);
  assert.deepEqual(
    await client.request({ command: "subscribe", tags: ["a", "b", "c"] }),
    { command: "subscribe", error: "too many tags: 3 > 2" },
  );
  const { code } = await server.stop();
  assert.equal(code, 0);
  await Deno.remove(config);
});

Deno.test("mist accepts the original README's listener list with spaces", async () => {
  await using server = new ServerProcess([
    "--listeners",
    "tcp://127.0.0.1:0,",
    "udp://127.0.0.1:0",
  ]);
  const url = await server.address("tcp");
  await server.waitFor(/Skipping listener udp:/);
  // Answered only once the server is up, signal handlers included.
  await using client = await LineClient.connect(url);
  await client.request({ command: "ping" });
  assert.equal((await server.stop()).code, 0);
});

function portsFree(ports: number[]): boolean {
  for (const port of ports) {
    try {
      Deno.listen({ hostname: "127.0.0.1", port }).close();
    } catch {
      return false;
    }
  }
  return true;
}

const DEFAULT_PORTS = [1445, 8080, 8888];
const defaultsFree = portsFree(DEFAULT_PORTS);
if (!defaultsFree) {
  // deno-lint-ignore no-console
  console.warn(
    "Skipping the default-listeners test: 1445, 8080 or 8888 is in use",
  );
}

Deno.test({
  name:
    "mist --server with no flags starts the three default listeners and logs each",
  ignore: !defaultsFree,
  async fn() {
    await using server = new ServerProcess([]);
    assert.equal(await server.address("tcp"), "tcp://127.0.0.1:1445");
    assert.equal(await server.address("http"), "http://127.0.0.1:8080");
    assert.equal(await server.address("ws"), "ws://127.0.0.1:8888");
    const ping = await fetch("http://127.0.0.1:8080/ping");
    assert.equal(await ping.text(), "pong\n");
    assert.equal((await server.stop()).code, 0);
  },
});

Deno.test("SIGTERM stops the server promptly even while WebSocket and event-stream clients stopped reading", async () => {
  await using server = new ServerProcess([
    "--listeners",
    "tcp://127.0.0.1:0,http://127.0.0.1:0",
    "--shutdown-timeout",
    "1",
  ]);
  const tcp = await server.address("tcp");
  const http = new URL(await server.address("http"));
  const encoder = new TextEncoder();
  // A WebSocket and an event stream that subscribe, then never read again.
  using ws = await Deno.connect({
    hostname: http.hostname,
    port: Number(http.port),
  });
  const socket = await RawWebSocket.handshake(ws);
  await socket.sendText('{"command":"subscribe","tags":["s"]}');
  using sse = await Deno.connect({
    hostname: http.hostname,
    port: Number(http.port),
  });
  await writeAll(
    sse,
    encoder.encode("GET /subscribe?tags=s HTTP/1.1\r\nHost: x\r\n\r\n"),
  );
  await sse.read(new Uint8Array(512)); // the headers and ": subscribed"
  await using publisher = await LineClient.connect(tcp);
  await publisher.sync();
  const line = JSON.stringify({
    command: "publish",
    tags: ["s"],
    data: "x".repeat(10_000),
  }) + "\n";
  for (let i = 0; i < 2000; i += 100) await publisher.send(line.repeat(100));
  await publisher.sync();

  const stopped = await within(
    server.stop("SIGTERM"),
    "the server to exit on SIGTERM",
    30_000,
  );
  assert.equal(stopped.code, 0, stopped.stderr);
  assert.match(stopped.stderr, /Server closed/);
});
