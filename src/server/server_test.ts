import assert from "node:assert/strict";
import { MemoryBus } from "../cluster/backplane_memory.ts";
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
