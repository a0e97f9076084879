/**
 * The program as a user runs it: `mist --server` in a subprocess.
 */

import assert from "node:assert/strict";
import denoJson from "../../deno.json" with { type: "json" };
import { connect } from "../../mod.ts";
import { Program, runProgram, ServerProcess } from "../_program.ts";
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

Deno.test("mist version and mist help are commands too, and exit 0", async () => {
  const version = await runProgram(["version"]);
  assert.equal(version.code, 0, version.stderr);
  assert.equal(version.stdout, `mist ${denoJson.version}\n`);
  const help = await runProgram(["help"]);
  assert.equal(help.code, 0, help.stderr);
  assert.equal(help.stdout, (await runProgram(["--help"])).stdout);
  for (
    const command of ["ping", "subscribe", "publish", "list", "admin", "bench"]
  ) {
    const { code, stdout, stderr } = await runProgram(["help", command]);
    assert.equal(code, 0, stderr);
    assert.equal(stdout, (await runProgram([command, "--help"])).stdout);
  }
  const unknown = await runProgram(["help", "send"]);
  assert.equal(unknown.code, 2);
  assert.match(
    unknown.stderr,
    /^mist help: "send" is not a command; the commands are ping, subscribe, publish, list, admin, bench, version, help\n/,
  );
});

Deno.test("mist with an unknown command says it is not one and lists the commands", async () => {
  const { code, stdout, stderr } = await runProgram(["send", "--tags", "a"]);
  assert.equal(code, 2);
  assert.equal(stdout, "");
  assert.match(
    stderr,
    /^mist: "send" is not a command; the commands are ping, subscribe, publish, list, admin, bench, version, help, and --server runs a server\n/,
  );
  assert.doesNotMatch(stderr, /Unknown option/);
});

Deno.test("mist --help says which ways of giving the admin token show in the process list", async () => {
  const { stdout } = await runProgram(["--help"]);
  for (
    const text of [
      "--token-file",
      "--metrics-token",
      "--metrics-token-file",
      "--node-name",
      "--log-format",
      "MIST_TOKEN",
      "process list",
      "MIST_LOG_LEVEL",
    ]
  ) {
    assert.ok(stdout.includes(text), `help lacks ${text}`);
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
  const badYaml = await tempFile("listeners: [tcp://\nmax-tags: 3\n");
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
      "a config file that is not YAML, with the line, column and code frame",
      ["--server", "--config", badYaml],
      /is not valid YAML: .* at line 2, column 1:\n\nlisteners: \[tcp:\/\/\nmax-tags: 3\n\^\n/,
    ],
    [
      "a negative number, with the flag's own message",
      ["--server", "--max-tags", "-1"],
      /Invalid value for --max-tags: expected a positive integer, got "-1"/,
    ],
    [
      "a negative size",
      ["--server", "--queue-size", "-8MiB"],
      /Invalid value for --queue-size: expected a size/,
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

Deno.test("mist --server takes every key from MIST_ variables, named in their errors; flags win", async (t) => {
  await t.step("a bad value names the variable", async () => {
    const { code, stderr } = await runProgram(["--server"], {
      env: { MIST_MAX_TAGS: "lots" },
    });
    assert.equal(code, 2);
    assert.match(
      stderr,
      /^mist: Invalid value for MIST_MAX_TAGS: expected a positive integer, got "lots"\n/,
    );
  });
  await t.step("the environment configures a server; a flag wins", async () => {
    const config = await tempFile("max-tags: 5\nlog-level: ERROR\n");
    await using server = withEnv({
      MIST_SERVER: "true",
      MIST_LISTENERS: "tcp://127.0.0.1:0",
      MIST_LOG_LEVEL: "INFO", // wins over the file
      MIST_MAX_TAGS: "3", // loses to the flag
    }, () => new Program(["--config", config, "--max-tags", "2"]));
    const url = await server.address("tcp");
    await using client = await LineClient.connect(url);
    assert.deepEqual(
      await client.request({ command: "subscribe", tags: ["a", "b", "c"] }),
      { command: "subscribe", error: "too many tags: 3 > 2" },
    );
    assert.equal((await server.stop()).code, 0);
    await Deno.remove(config);
  });
});

Deno.test("mist --server reads the admin token from MIST_TOKEN or a token file, and never logs it", async (t) => {
  const secret = "s3cret-admin-token-7777";
  const tokenFile = await tempFile(`${secret}\n`);
  const runs: [string, string[], Record<string, string>][] = [
    ["MIST_TOKEN", [], { MIST_TOKEN: secret }],
    ["--token-file", ["--token-file", tokenFile], {}],
    ["MIST_TOKEN_FILE", [], { MIST_TOKEN_FILE: tokenFile }],
  ];
  for (const [name, flags, env] of runs) {
    await t.step(name, async () => {
      await using server = withEnv(env, () =>
        new Program([
          "--server",
          "--listeners",
          "tcp://127.0.0.1:0",
          "--authenticator",
          "memory://",
          "--log-level",
          "TRACE",
          ...flags,
        ]));
      const url = await server.address("tcp");
      {
        await using admin = await connect(url, { token: secret });
        await admin.admin.register("user-token", ["a"]); // only the admin may
      }
      const { code, stderr } = await server.stop();
      assert.equal(code, 0, stderr);
      assert.ok(!stderr.includes(secret), stderr);
    });
  }
  await t.step(
    "an empty or missing token file is an error naming the key, not the content",
    async () => {
      const empty = await tempFile("\n");
      const cases: [string[], Record<string, string>, RegExp][] = [
        [
          ["--token-file", empty],
          {},
          /^mist: The file of --token-file .* is empty\n/,
        ],
        [
          [],
          { MIST_TOKEN_FILE: "/nonexistent/token" },
          /^mist: Cannot read MIST_TOKEN_FILE \/nonexistent\/token: no such file\n/,
        ],
        [
          ["--metrics-token-file", "/nonexistent/m"],
          {},
          /^mist: Cannot read --metrics-token-file \/nonexistent\/m: no such file\n/,
        ],
      ];
      for (const [flags, env, message] of cases) {
        const { code, stderr } = await runProgram(
          ["--server", "--authenticator", "memory://", ...flags],
          { env },
        );
        assert.equal(code, 2, stderr);
        assert.match(stderr, message);
      }
      await Deno.remove(empty);
    },
  );
  await Deno.remove(tokenFile);
});

Deno.test("mist --server --log-format json writes one JSON object per line; both formats name categories with a dot", async () => {
  await using json = new ServerProcess([
    "--listeners",
    "tcp://127.0.0.1:0",
    "--log-format",
    "json",
  ]);
  await json.waitFor(/listener on/);
  const { code, stderr } = await json.stop();
  assert.equal(code, 0, stderr);
  const records = stderr.trimEnd().split("\n").map((line) => JSON.parse(line));
  assert.ok(records.length >= 3, stderr);
  const [first] = records;
  assert.equal(first.level, "INFO");
  assert.equal(first.logger, "mist.server");
  assert.match(first.message, /^TCP listener on tcp:\/\/127\.0\.0\.1:\d+$/);
  assert.equal(first.properties.scheme, "TCP");
  assert.ok(!Number.isNaN(Date.parse(first["@timestamp"])));

  await using text = new ServerProcess(["--listeners", "tcp://127.0.0.1:0"]);
  await text.waitFor(/listener on/);
  const stopped = await text.stop();
  assert.match(stopped.stderr, /\[INFO \] mist\.server: TCP listener on /);
  assert.doesNotMatch(stopped.stderr, /·/);
});

/**
 * Runs `start` (which spawns a program) with these variables set in this
 * process, which the child inherits; restores them before returning.
 */
function withEnv<T>(env: Record<string, string>, start: () => T): T {
  const before = Object.keys(env).map((name) => [name, Deno.env.get(name)]);
  for (const [name, value] of Object.entries(env)) Deno.env.set(name, value);
  try {
    return start();
  } finally {
    for (const [name, value] of before) {
      if (value === undefined) Deno.env.delete(name!);
      else Deno.env.set(name!, value);
    }
  }
}

Deno.test("mist --server that cannot listen says why last, and not that a server closed", async () => {
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const url = `tcp://127.0.0.1:${taken.addr.port}`;
  const { code, stderr } = await runProgram(["--server", "--listeners", url]);
  assert.equal(code, 1);
  assert.match(
    stderr.trimEnd().split("\n").at(-1)!,
    /\[FATAL\] mist: Cannot listen on /,
  );
  assert.doesNotMatch(stderr, /Server closed/);
});
