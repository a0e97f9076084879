import assert from "node:assert/strict";
import { openMemory } from "../auth/memory.ts";
import { connect } from "../client/client.ts";
import { ADMIN, ANONYMOUS, type Principal } from "../core/principal.ts";
import { eventually } from "../testing/eventually.ts";
import { MemoryClient } from "../testing/memory_client.ts";
import { MistError } from "../protocol/errors.ts";
import { listText } from "./commands.ts";
import { MistServer, serve } from "./server.ts";

const TOKEN = "reader-token";

async function authServer(): Promise<MistServer> {
  const authenticator = await openMemory(new URL("memory://"));
  await authenticator.addToken(TOKEN, ["a"]);
  return new MistServer({ authenticator, token: "admin-token" });
}

Deno.test("every command of the table follows the permission matrix of §4", async (t) => {
  await using server = await authServer();
  const reader = await server.authenticate(TOKEN);
  const cases: [string, Principal, object, string | undefined][] = [
    ["anonymous subscribe", ANONYMOUS, { tags: ["a"] }, "forbidden"],
    ["token subscribe granted", reader, { tags: ["a"] }, undefined],
    ["token subscribe not granted", reader, { tags: ["a", "b"] }, "forbidden"],
    ["admin subscribe", ADMIN, { tags: ["z"] }, undefined],
  ];
  for (const [name, principal, fields, error] of cases) {
    await t.step(name, async () => {
      await using client = new MemoryClient(server, { principal });
      await client.send({ command: "subscribe", id: 1, ...fields });
      const reply = await client.next();
      assert.equal(reply.error?.split(":")[0], error, JSON.stringify(reply));
    });
  }
  for (const command of ["publish", "subscribe"]) {
    await t.step(`${command} names the tags not granted`, async () => {
      await using client = new MemoryClient(server, { principal: reader });
      await client.send({ command, tags: ["a", "b", "b"], data: "" });
      assert.deepEqual(await client.next(), {
        command,
        tags: ["a", "b", "b"],
        error: 'forbidden: not granted ["b"]',
      });
    });
  }
  for (const command of ["register", "unregister", "set", "unset", "tags"]) {
    await t.step(`${command} is for the admin only`, async () => {
      await using client = new MemoryClient(server, { principal: reader });
      await client.send({ command, tags: ["a"], data: "x" });
      assert.equal((await client.next()).error, "forbidden: admin only");
    });
  }
});

Deno.test("auth is accepted only as the first command, and only once", async () => {
  await using server = await authServer();
  await using client = new MemoryClient(server);
  await client.send({ command: "auth", data: TOKEN, id: "a" });
  assert.deepEqual(await client.next(), {
    command: "auth",
    id: "a",
    tags: [],
    data: "ok",
  });
  assert.equal(client.connection.principal.kind, "token");
  await client.send({ command: "auth", data: TOKEN });
  assert.equal((await client.next()).error, "auth must be the first command");

  await using presented = new MemoryClient(server, {
    principal: await server.authenticate(TOKEN),
  });
  await presented.send({ command: "auth", data: TOKEN });
  assert.equal(
    (await presented.next()).error,
    "auth must be the first command",
  );
});

Deno.test("unsubscribe is always allowed, list shows what is held", async () => {
  await using server = await authServer();
  await using admin = new MemoryClient(server, { principal: ADMIN });
  await admin.send({ command: "subscribe", tags: ["b", "a", "a"] });
  await admin.send({ command: "subscribe", tags: ["c"] });
  await admin.send({ command: "list" });
  assert.equal((await admin.next()).data, '[["a","b"],["c"]]');
  await using anonymous = new MemoryClient(server);
  await anonymous.send({ command: "unsubscribe", tags: ["c"], id: 2 });
  assert.equal((await anonymous.next()).data, "ok");
});

Deno.test("the admin commands change grants of live connections, which are told what they lost", async () => {
  await using server = await authServer();
  await using admin = new MemoryClient(server, { principal: ADMIN });
  await using reader = new MemoryClient(server, {
    principal: await server.authenticate(TOKEN),
  });
  await reader.send({ command: "subscribe", tags: ["a"] });
  await admin.send({ command: "unset", tags: ["a"], data: TOKEN, id: 1 });
  assert.equal((await admin.next()).data, "ok");
  assert.deepEqual(await reader.next(), { command: "revoked", tags: ["a"] });
  await reader.send({ command: "list" });
  assert.equal((await reader.next()).data, "[]");
  await admin.send({ command: "tags", data: TOKEN });
  assert.deepEqual(await admin.next(), {
    command: "tags",
    tags: [],
    data: TOKEN,
  });
});

Deno.test("custom commands cannot replace a protocol command", () => {
  for (const name of ["ping", "publish", "register", "tags"]) {
    assert.throws(
      () => new MistServer({ commands: { [name]: () => {} } }),
      TypeError,
    );
  }
});

Deno.test("listall names every tag subscribed on the node, sorted, space-separated", async () => {
  await using server = new MistServer();
  await using a = new MemoryClient(server);
  await using b = new MemoryClient(server);
  await a.send({ command: "listall" });
  assert.deepEqual(await a.next(), { command: "listall", tags: [], data: "" });
  await a.send({ command: "subscribe", tags: ["zebra", "apple"] });
  await b.send({ command: "subscribe", tags: ["apple"] });
  await b.send({ command: "subscribe", tags: ["mango"] });
  await b.send({ command: "listall" });
  assert.deepEqual(await b.next(), {
    command: "listall",
    tags: [],
    data: "apple mango zebra",
  });
});

Deno.test("who counts the node's connections as the original wrote it", async () => {
  await using server = await serve({ listeners: ["tcp://127.0.0.1:0"] });
  await using first = await connect(server.addresses[0]!);
  const second = await connect(server.addresses[0]!);
  await second.close();
  await eventually(
    () => server.stats().listeners[0]!.connections === 1,
    "the second connection is gone",
  );
  assert.deepEqual(await first.request({ command: "who" }), {
    command: "who",
    tags: [],
    data: "Lifetime  connections: 2\nSubscribers connected: 1",
  });
});

Deno.test("listall and who are for the admin only while authentication is on", async () => {
  await using server = await authServer();
  for (const command of ["listall", "who"]) {
    await using reader = new MemoryClient(server, {
      principal: await server.authenticate(TOKEN),
    });
    await reader.send({ command });
    assert.deepEqual(await reader.next(), {
      command,
      error: "forbidden: admin only",
    });
    await using admin = new MemoryClient(server, { principal: ADMIN });
    await admin.send({ command });
    assert.equal((await admin.next()).command, command);
  }
});

Deno.test("listText() is the JSON of the list, and an error reply past its bound, never a failure", () => {
  const lists = [[], [["a"]], [["a", "b"], ['c"\n'], ["日本"]]];
  for (const list of lists) {
    assert.equal(listText(list), JSON.stringify(list));
  }
  const many = Array.from({ length: 1000 }, (_, i) => [`tag-${i}`]);
  const text = JSON.stringify(many);
  assert.equal(listText(many, text.length), text);
  assert.throws(
    () => listText(many, text.length - 1),
    (err: unknown) =>
      err instanceof MistError && err.code === "reply_too_large" &&
      err.message === "reply too large: 1000 subscriptions",
  );
});

Deno.test("list answers with every subscription the connection holds, up to its byte limit", async () => {
  await using server = new MistServer({ maxSubscriptionBytes: 64 * 1024 });
  await using client = new MemoryClient(server);
  const tags = (i: number) =>
    Array.from({ length: 8 }, (_, j) => `${i}-${j}-`.padEnd(1000, "y"));
  let held = 0;
  for (let i = 0; i < 10; i++) {
    await client.send({ command: "subscribe", id: i, tags: tags(i) });
    if ((await client.next()).data === "ok") held++;
  }
  assert.equal(held, 8); // 8 × 8,000 bytes of 64 KiB
  await client.send({ command: "list" });
  const reply = await client.next();
  assert.equal(reply.error, undefined);
  assert.deepEqual(
    JSON.parse(reply.data!),
    Array.from({ length: 8 }, (_, i) => tags(i).sort()).sort(),
  );
});
