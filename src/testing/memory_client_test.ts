import assert from "node:assert/strict";
import { openMemory } from "../auth/memory.ts";
import { ADMIN } from "../core/principal.ts";
import { MistServer } from "../server/server.ts";
import { MemoryClient } from "./memory_client.ts";

Deno.test("`MemoryClient` talks to a server with no socket", async () => {
  await using server = new MistServer();
  await using client = new MemoryClient(server);
  await client.send({ command: "ping", id: "p" });
  const reply = await client.next();
  assert.equal(reply.command, "ping");
  assert.equal(reply.data, "pong");
  assert.equal(reply.id, "p");
});

Deno.test("`MemoryClient.send()` takes raw text too", async () => {
  await using server = new MistServer();
  await using client = new MemoryClient(server);
  await client.send('{"command":"ping","id":7}');
  assert.equal((await client.next()).id, 7);
  await client.send("not json");
  assert.match((await client.next()).error ?? "", /./);
});

Deno.test("`MemoryClient.next()` takes messages in order, keeping the rest in `received`", async () => {
  await using server = new MistServer();
  await using client = new MemoryClient(server);
  await client.send({ command: "ping", id: 1 });
  await client.send({ command: "ping", id: 2 });
  assert.equal(await client.flushed(), true);
  assert.deepEqual(client.received.map((m) => m.id), [1, 2]);
  assert.equal((await client.next()).id, 1);
  assert.deepEqual(client.received.map((m) => m.id), [2]);
  assert.equal((await client.next()).id, 2);
  assert.deepEqual(client.received, []);
});

Deno.test("`MemoryClient.next()` rejects with a TimeoutError when nothing comes", async () => {
  await using server = new MistServer();
  await using client = new MemoryClient(server);
  await assert.rejects(client.next(5), { name: "TimeoutError" });
});

Deno.test("`MemoryClient.next()` rejects once the connection closed", async (t) => {
  await t.step("closed by the client", async () => {
    await using server = new MistServer();
    const client = new MemoryClient(server);
    client.close();
    await assert.rejects(client.next(), { message: "connection closed" });
  });
  await t.step("closed by the server while waiting", async () => {
    await using server = new MistServer();
    const client = new MemoryClient(server);
    const waiting = client.next();
    client.connection.close();
    await assert.rejects(waiting, { message: "connection closed" });
  });
});

Deno.test("`MemoryClient` delivers between clients of one server", async () => {
  await using server = new MistServer();
  await using reader = new MemoryClient(server);
  await using writer = new MemoryClient(server);
  await reader.send({ command: "subscribe", tags: ["a"], id: "s" });
  assert.equal((await reader.next()).id, "s");
  await writer.send({ command: "publish", tags: ["a"], data: "hi" });
  const delivery = await reader.next();
  assert.deepEqual(delivery, { command: "publish", tags: ["a"], data: "hi" });
});

Deno.test("`MemoryClient` opens its connection with the options given", async () => {
  const authenticator = await openMemory(new URL("memory://"));
  await using server = new MistServer({ authenticator, token: "admin" });
  await using anonymous = new MemoryClient(server);
  await anonymous.send({ command: "publish", tags: ["a"], data: "" });
  assert.match((await anonymous.next()).error ?? "", /^forbidden/);
  await using admin = new MemoryClient(server, { principal: ADMIN });
  await admin.send({ command: "publish", tags: ["a"], data: "", id: 1 });
  assert.equal((await admin.next()).error, undefined);
});

Deno.test("`MemoryClient` disposal closes its connection", async () => {
  await using server = new MistServer();
  let client: MemoryClient;
  {
    await using c = new MemoryClient(server);
    client = c;
    assert.equal(client.connection.isClosed, false);
  }
  assert.equal(client.connection.isClosed, true);
});
