/**
 * The program's signals: SIGHUP reads the config file again and applies what
 * can change live; a second SIGINT or SIGTERM during a drain exits at once.
 */

import assert from "node:assert/strict";
import { hostPort, LineClient, tempFile } from "../_helpers.ts";
import { ServerProcess } from "../_program.ts";

const encoder = new TextEncoder();

function yaml(lines: Record<string, string | number>): string {
  return [
    "listeners:",
    "  - tcp://127.0.0.1:0",
    ...Object.entries(lines).map(([key, value]) => `${key}: ${value}`),
  ].join("\n");
}

/** Publishes to five tags and returns the error, if any. */
async function publishFive(client: LineClient): Promise<string | undefined> {
  await client.send({
    command: "publish",
    tags: ["a", "b", "c", "d", "e"],
    data: "x",
  });
  const [reply] = await client.sync();
  return reply?.error;
}

Deno.test("SIGHUP applies the new log level and limits to new connections, keeps the old ones' limits, and names what needs a restart", async () => {
  const file = await tempFile(yaml({ "log-level": "INFO", "max-tags": 4 }));
  await using server = new ServerProcess(["--config", file]);
  const url = await server.address("tcp");
  await using before = await LineClient.connect(url);
  assert.match(await publishFive(before) ?? "", /^too many tags/);

  await Deno.writeTextFile(
    file,
    yaml({ "log-level": "DEBUG", "max-tags": 8, "node-name": "renamed" }),
  );
  Deno.kill(server.child.pid, "SIGHUP");
  await server.waitFor(
    /\[INFO \] mist: Configuration reloaded: log-level, max-tags$/,
  );
  await server.waitFor(
    /\[WARN \] mist: Changed in the configuration but applied only at a restart: node-name$/,
  );

  await using after = await LineClient.connect(url);
  assert.equal(await publishFive(after), undefined, "the new limit");
  assert.match(
    await publishFive(before) ?? "",
    /^too many tags/,
    "an open connection keeps its limits",
  );
  // DEBUG now: each connection is logged as it opens.
  await server.waitFor(/\[DEBUG\] mist\.connection: \S+ connection \d+ opened/);

  const { code, stderr } = await server.stop("SIGTERM");
  assert.equal(code, 0, stderr);
  assert.doesNotMatch(stderr, /renamed/, "the node name in force stayed");
});

Deno.test("SIGHUP with a config file that no longer parses logs an ERROR and changes nothing", async () => {
  const file = await tempFile(yaml({ "max-tags": 4 }));
  await using server = new ServerProcess(["--config", file]);
  const url = await server.address("tcp");

  await Deno.writeTextFile(file, "max-tags: [8\nlog-level: DEBUG\n");
  Deno.kill(server.child.pid, "SIGHUP");
  await server.waitFor(
    /\[ERROR\] mist: Configuration not reloaded, nothing changed: .+/,
  );
  await Deno.writeTextFile(file, yaml({ "max-tags": "lots" }));
  Deno.kill(server.child.pid, "SIGHUP");
  await server.waitFor(/\[ERROR\] mist: Configuration not reloaded.*max-tags/);

  await using client = await LineClient.connect(url);
  assert.match(await publishFive(client) ?? "", /^too many tags/);
  const { code, stderr } = await server.stop("SIGTERM");
  assert.equal(code, 0, stderr);
  assert.doesNotMatch(stderr, /Configuration reloaded/);
});

for (const [signal, exit] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
  Deno.test(`a second ${signal} during a drain held open by a stalled subscriber exits at once with ${exit}`, async () => {
    await forcedExit(signal, exit);
  });
}

Deno.test("the same SIGINT delivered twice at once (Ctrl-C reaches deno task and the server) still drains and closes cleanly", async () => {
  const file = await tempFile(yaml({}));
  await using server = new ServerProcess(["--config", file]);
  await server.address("tcp");
  server.child.kill("SIGINT");
  // The copy arrives once the first is being handled, as deno task's does.
  await server.waitFor(/SIGINT received, shutting down/);
  server.child.kill("SIGINT");
  const { code, stderr } = await server.output;
  assert.equal(code, 0, stderr);
  assert.match(stderr, /Server closed/);
  assert.doesNotMatch(stderr, /received again/);
});

async function forcedExit(signal: "SIGINT" | "SIGTERM", exit: number) {
  const file = await tempFile(yaml({ "shutdown-timeout": 600 }));
  await using server = new ServerProcess(["--config", file]);
  const url = await server.address("tcp");
  // A subscriber that stops reading once subscribed.
  const stalled = await Deno.connect(hostPort(url));
  try {
    await stalled.write(encoder.encode(
      '{"command":"subscribe","tags":["flood"]}\n{"command":"ping"}\n',
    ));
    const buffer = new Uint8Array(1024);
    let seen = "";
    while (!seen.includes("pong")) {
      const n = await stalled.read(buffer);
      assert.ok(n !== null, "the server answered");
      seen += new TextDecoder().decode(buffer.subarray(0, n));
    }
    await using publisher = await LineClient.connect(url);
    const data = "x".repeat(512 * 1024);
    for (let i = 0; i < 32; i++) {
      await publisher.send({ command: "publish", tags: ["flood"], data });
    }
    assert.deepEqual(await publisher.sync(), []);

    server.child.kill(signal);
    await server.waitFor(new RegExp(`${signal} received, shutting down`));
    // Later than a repeat of the same delivery (the next test).
    await new Promise((resolve) => setTimeout(resolve, 600));
    const { code, stderr } = await server.stop(signal);
    assert.equal(code, exit, stderr);
    assert.match(
      stderr,
      new RegExp(
        `\\[WARN \\] mist: ${signal} received again, exiting now with code ${exit}`,
      ),
    );
    assert.doesNotMatch(stderr, /Server closed/);
  } finally {
    stalled.close();
  }
}

Deno.test("SIGHUP with nothing changed says so; a new log format applies to the lines after the reload", async () => {
  const file = await tempFile(yaml({ "max-tags": 4 }));
  await using server = new ServerProcess(["--config", file]);
  await server.address("tcp");
  Deno.kill(server.child.pid, "SIGHUP");
  await server.waitFor(
    /\[INFO \] mist: Configuration reloaded: nothing changed$/,
  );

  await Deno.writeTextFile(file, yaml({ "max-tags": 4, "log-format": "json" }));
  Deno.kill(server.child.pid, "SIGHUP");
  await server.waitFor(/Configuration reloaded: log-format$/);
  const { code, stderr } = await server.stop("SIGTERM");
  assert.equal(code, 0, stderr);
  const closed = stderr.split("\n").find((line) => /Server closed/.test(line));
  assert.equal(JSON.parse(closed!).message, "Server closed");
  assert.doesNotMatch(stderr, /restart/);
});
