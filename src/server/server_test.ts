import assert from "node:assert/strict";
import type { Authenticator } from "../auth/authenticator.ts";
import { openMemory } from "../auth/memory.ts";
import type { Backplane } from "../cluster/backplane.ts";
import { MemoryBus } from "../cluster/backplane_memory.ts";
import { MistError } from "../protocol/errors.ts";
import { MemoryClient } from "../testing/memory_client.ts";
import { eventually } from "../testing/eventually.ts";
import { MistServer, serve } from "./server.ts";

Deno.test("publish() from the server reaches subscribers and is held to the limits", async () => {
  await using server = new MistServer({ limits: { maxTags: 2 } });
  await using client = new MemoryClient(server);
  await client.send({ command: "subscribe", tags: ["a"] });
  server.publish(["b", "a"], "hi");
  assert.deepEqual(await client.next(), {
    command: "publish",
    tags: ["a", "b"],
    data: "hi",
  });
  assert.throws(() => server.publish(["a", "b", "c"], ""), /too many tags/);
  assert.throws(() => server.publish([], ""), /missing tags/);
});

Deno.test("a message from another node runs the publish command, held to this node's limits", async () => {
  const bus = new MemoryBus();
  await using loose = await serve({
    listeners: ["tcp://127.0.0.1:0"],
    backplane: bus.attach(),
    heartbeatMs: 50,
  });
  await using strict = await serve({
    listeners: ["tcp://127.0.0.1:0"],
    backplane: bus.attach(),
    heartbeatMs: 50,
    limits: { maxTags: 2 },
  });
  await eventually(
    () => strict.stats().cluster?.peers === 1,
    "the nodes see each other",
  );
  await using client = new MemoryClient(strict);
  await client.send({ command: "subscribe", tags: ["a"] });
  loose.publish(["a", "b", "c"], "too many tags for the strict node");
  loose.publish(["a", "b"], "fits");
  assert.deepEqual(await client.next(), {
    command: "publish",
    tags: ["a", "b"],
    data: "fits",
  });
  assert.deepEqual(client.received, []);
});

Deno.test("a connection opened while the server closes is closed at once", async () => {
  const server = new MistServer();
  const closing = server.close();
  const client = new MemoryClient(server);
  assert.equal(client.connection.isClosed, true);
  await closing;
});

Deno.test("the server's own connections count as no listener's connections", async () => {
  await using server = await serve({ listeners: ["tcp://127.0.0.1:0"] });
  const [tcp] = server.stats().listeners;
  assert.equal(tcp?.connections, 0);
  assert.equal(tcp?.accepted, 0);
});

Deno.test("a node whose link comes back reads its tokens' grants again, retrying while the authenticator fails", async () => {
  const store = await openMemory(new URL("memory://"));
  await store.addToken("reader", ["news", "sport"]);
  let failures = 0;
  // Both nodes share one store; each closes its own view of it.
  const view = (failing: boolean): Authenticator => ({
    addToken: (t, tags) => store.addToken(t, tags),
    removeToken: (t) => store.removeToken(t),
    addTags: (t, tags) => store.addTags(t, tags),
    removeTags: (t, tags) => store.removeTags(t, tags),
    getTags: (t) => {
      if (failing && failures > 0) {
        failures--;
        return Promise.reject(new MistError("authenticator_unavailable"));
      }
      return store.getTags(t);
    },
    healthy: () => Promise.resolve(true),
    close: () => Promise.resolve(),
  });
  const bus = new MemoryBus();
  const link = bus.attach();
  const node = (backplane: Backplane, failing: boolean) =>
    serve({
      listeners: ["tcp://127.0.0.1:0"],
      backplane,
      heartbeatMs: 50,
      authenticator: view(failing),
      token: "admin",
    });
  await using a = await node(bus.attach(), false);
  await using b = await node(link, true);
  await using admin = new MemoryClient(a);
  await admin.send({ command: "auth", data: "admin" });
  await using reader = new MemoryClient(b);
  await reader.send({ command: "auth", data: "reader" });
  await reader.send({ command: "subscribe", tags: ["sport"] });
  await reader.send({ command: "subscribe", tags: ["news"] });

  link.cut();
  await admin.send({ command: "unset", tags: ["sport"], data: "reader" });
  assert.deepEqual(admin.received, []);
  assert.equal(b.stats().subscriptions, 2, "b missed the change");
  failures = 2;
  link.restore();
  assert.deepEqual(await reader.next(), {
    command: "revoked",
    tags: ["sport"],
  });
  assert.equal(failures, 0, "read again after each failure");
  assert.equal(b.stats().subscriptions, 1);
  await store.close();
});
