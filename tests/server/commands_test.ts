/**
 * Custom commands, as a library user registers them with `serve({ commands })`.
 */

import assert from "node:assert/strict";
import { MistError } from "../../src/protocol/errors.ts";
import { serve } from "../../src/server/server.ts";
import { ECHO_COMMANDS, LineClient, sleep, tcpServer } from "../_helpers.ts";

Deno.test("custom commands reply, acknowledge, fail with their MistError, and keep request order", async () => {
  await using server = await tcpServer({
    commands: {
      ...ECHO_COMMANDS,
      whoami: (session) => ({
        command: "whoami",
        data: session.principal.kind,
      }),
      slow: async (session, request) => {
        await sleep(20);
        await session.run({
          command: "subscribe",
          tags: request.tags ?? ["slow"],
        });
      },
      refuse: () => {
        throw new MistError("forbidden", "not today");
      },
      broken: () => {
        throw new Error("a bug, with a secret inside");
      },
    },
  });
  await using client = await LineClient.connect(server.addresses[0]!);
  assert.deepEqual(
    await client.request({ command: "echo", data: "hi", id: 1 }),
    {
      command: "echo",
      data: "hi",
      id: 1,
    },
  );
  assert.deepEqual(await client.request({ command: "whoami" }), {
    command: "whoami",
    data: "open",
  });
  // An async command finishes before the next request is handled.
  await client.send({ command: "slow", tags: ["s"], id: "a" });
  await client.send({ command: "list", id: "b" });
  assert.deepEqual(await client.next(), {
    command: "slow",
    id: "a",
    tags: ["s"],
    data: "ok",
  });
  assert.deepEqual(await client.next(), {
    command: "list",
    tags: [],
    data: '[["s"]]',
    id: "b",
  });
  assert.deepEqual(await client.request({ command: "refuse", tags: ["t"] }), {
    command: "refuse",
    tags: ["t"],
    error: "forbidden: not today",
  });
  // Whatever else a command throws is an internal error; its text stays inside.
  assert.deepEqual(await client.request({ command: "broken" }), {
    command: "broken",
    error: "internal error",
  });
  assert.deepEqual((await client.request({ command: "ping" })).data, "pong");
});

Deno.test("a custom command cannot replace a protocol command", async () => {
  for (const name of ["ping", "publish", "auth", "register", "tags"]) {
    await assert.rejects(
      serve({
        listeners: ["tcp://127.0.0.1:0"],
        commands: { [name]: () => {} },
      }),
      {
        name: "TypeError",
        message: `Cannot replace the protocol command "${name}"`,
      },
    );
  }
});
