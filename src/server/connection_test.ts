import assert from "node:assert/strict";
import type { Frame } from "../protocol/codec.ts";
import { MemoryClient } from "../testing/memory_client.ts";
import { MistServer } from "./server.ts";
import { newStats } from "./transport.ts";

const info = { listener: "memory", remote: "test", stats: newStats() };

Deno.test("receive() replies, acknowledges ids, and answers bad frames", async () => {
  await using server = new MistServer();
  await using client = new MemoryClient(server);
  await client.send({ command: "ping", id: 7 });
  assert.deepEqual(await client.next(), {
    command: "ping",
    tags: [],
    data: "pong",
    id: 7,
  });
  await client.send({ command: "subscribe", tags: ["a"], id: "s" });
  assert.deepEqual(await client.next(), {
    command: "subscribe",
    id: "s",
    tags: ["a"],
    data: "ok",
  });
  await client.send("not json");
  assert.deepEqual(await client.next(), {
    command: "",
    error: "invalid JSON",
  });
  await client.send({ command: "nope", id: 1 });
  assert.deepEqual(await client.next(), {
    command: "nope",
    error: "Unknown Command",
    id: 1,
  });
});

Deno.test("receive() returns a promise while the client does not read its replies", async () => {
  await using server = new MistServer({ queueBytes: 1024 });
  let release!: () => void;
  const stalled = new Promise<void>((resolve) => release = resolve);
  const outlet = { write: () => stalled, close() {} };
  const connection = server.open(outlet, info);
  const ping = '{"command":"ping"}';
  let wait: void | Promise<void>;
  let sent = 0;
  do {
    wait = connection.receive(ping);
    await Promise.resolve();
    sent++;
  } while (wait === undefined && sent < 1000);
  assert.ok(wait instanceof Promise, "the connection asks to pause");
  assert.ok(sent < 1000);
  let resumed = false;
  wait.then(() => resumed = true);
  await Promise.resolve();
  assert.equal(resumed, false);
  release();
  await wait;
  assert.equal(connection.queuedBytes < 1024, true);
  connection.close();
});

Deno.test("deliveries are counted; a full queue drops the newest and says so", async () => {
  await using server = new MistServer({ queueBytes: 200 });
  const frames: Frame[][] = [];
  let release!: () => void;
  let stalled: Promise<void> | undefined = new Promise((r) => release = r);
  const outlet = {
    write(batch: readonly Frame[]) {
      frames.push([...batch]);
      return stalled;
    },
    close() {},
  };
  const stats = newStats();
  const subscriber = server.open(outlet, { ...info, stats });
  subscriber.receive('{"command":"subscribe","tags":["t"]}');
  for (let i = 0; i < 10; i++) server.publish(["t"], "x".repeat(50));
  await Promise.resolve();
  assert.ok(stats.dropped > 0, "some were dropped");
  assert.equal(stats.delivered + stats.dropped, 10);
  stalled = undefined;
  release();
  await subscriber.drain(1000);
  const texts = frames.flat().map((frame) => frame.text);
  assert.equal(texts.at(-1), `{"command":"dropped","data":"${stats.dropped}"}`);
  subscriber.close();
});

Deno.test("close() removes the connection's subscriptions and is idempotent", async () => {
  await using server = new MistServer();
  await using client = new MemoryClient(server);
  await client.send({ command: "subscribe", tags: ["a"] });
  assert.equal(server.stats().subscriptions, 1);
  client.close();
  client.close();
  assert.equal(server.stats().subscriptions, 0);
  assert.equal(client.connection.isClosed, true);
  await client.connection.closed;
});
