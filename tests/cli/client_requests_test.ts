/**
 * \`mist ping\`, \`mist publish\` and \`mist list\` (src/cli/client_requests.ts) as
 * a user runs them: a subprocess against a real server in this process, with
 * its output and exit code.
 */

import assert from "node:assert/strict";
import { connect } from "../../mod.ts";
import { args, runProgram } from "../_program.ts";
import { next, tcpServer } from "../_helpers.ts";

function assertOneLine(stderr: string, pattern: RegExp): void {
  assert.equal(stderr.split("\n").filter((l) => l !== "").length, 1, stderr);
  assert.match(stderr, pattern);
}

// ---- ping ---------------------------------------------------------------------

Deno.test("mist ping prints pong and the round-trip time", async () => {
  await using server = await tcpServer();
  const { port } = new URL(server.addresses[0]!);
  for (const host of [server.addresses[0]!, `127.0.0.1:${port}`]) {
    const { code, stdout, stderr } = await runProgram(["ping", "--host", host]);
    assert.equal(code, 0, stderr);
    assert.match(stdout, /^pong \d+\.\d ms\n$/);
    assert.equal(stderr, "");
  }
  const json = await runProgram(
    args("ping", { host: server.addresses[0]!, json: true }),
  );
  assert.equal(json.code, 0, json.stderr);
  const message = JSON.parse(json.stdout);
  assert.deepEqual({ ...message, ms: 0 }, {
    command: "ping",
    tags: [],
    data: "pong",
    ms: 0,
  });
  assert.ok(typeof message.ms === "number" && message.ms >= 0);
});

// ---- publish ------------------------------------------------------------------

Deno.test("mist publish sends one message and prints nothing", async () => {
  await using server = await tcpServer();
  await using client = await connect(server.addresses[0]!);
  const sub = await client.subscribe(["a", "b"]);
  const { code, stdout, stderr } = await runProgram(
    args("publish", {
      host: server.addresses[0]!,
      tags: "b, a,c",
      data: "hello world",
    }),
  );
  assert.equal(code, 0, stderr);
  assert.equal(stdout + stderr, "");
  assert.deepEqual(await next(sub[Symbol.asyncIterator]()), {
    command: "publish",
    tags: ["a", "b", "c"],
    data: "hello world",
  });
});

Deno.test("mist publish --data - publishes each line of standard input", async () => {
  await using server = await tcpServer();
  await using client = await connect(server.addresses[0]!);
  const sub = await client.subscribe(["lines"]);
  const { code, stderr } = await runProgram(
    args("publish", { host: server.addresses[0]!, tags: "lines", data: "-" }),
    { input: ["first\nsecond\r\n\nlast without newline"] },
  );
  assert.equal(code, 0, stderr);
  const iterator = sub[Symbol.asyncIterator]();
  const got: string[] = [];
  for (let i = 0; i < 4; i++) got.push((await next(iterator)).data);
  assert.deepEqual(got, ["first", "second", "", "last without newline"]);
});

Deno.test("mist publish exits 1 with the server's error", async () => {
  await using server = await tcpServer({ limits: { maxTags: 2 } });
  const { code, stdout, stderr } = await runProgram(
    args("publish", { host: server.addresses[0]!, tags: "a,b,c", data: "x" }),
  );
  assert.equal(code, 1);
  assert.equal(stdout, "");
  assertOneLine(stderr, /^mist publish: too many tags: 3 > 2\n$/);
});

Deno.test("mist publish --data - stops at the first error and exits 1", async () => {
  await using server = await tcpServer({ limits: { maxMessageBytes: 64 } });
  const { code, stderr } = await runProgram(
    args("publish", { host: server.addresses[0]!, tags: "a", data: "-" }),
    {
      input: [`short\n${"x".repeat(100)}\n`, "short again\n", "and again\n"],
      pauseMs: 200,
    },
  );
  assert.equal(code, 1);
  assertOneLine(stderr, /^mist publish: message too large\n$/);
});

// ---- list ---------------------------------------------------------------------

Deno.test("mist list prints the connection's subscriptions (none) and --json the reply", async () => {
  await using server = await tcpServer();
  const plain = await runProgram(args("list", { host: server.addresses[0]! }));
  assert.equal(plain.code, 0, plain.stderr);
  assert.equal(plain.stdout, "");
  const json = await runProgram(
    args("list", { host: server.addresses[0]!, json: true }),
  );
  assert.equal(json.code, 0, json.stderr);
  assert.equal(json.stdout, '{"command":"list","tags":[],"data":"[]"}\n');
});
