import assert from "node:assert/strict";
import { newErrorCounts, type ServerStats } from "../server/metrics.ts";
import type { HealthReport } from "../server/port.ts";
import { newStats } from "../server/transport.ts";
import { ConsoleFeed, type FeedSource, snapshot } from "./feed.ts";

const decoder = new TextDecoder();

function stats(received = 0): ServerStats {
  const errors = newErrorCounts();
  errors.invalid_json = 2;
  return {
    node: "n1",
    version: "0.0.0",
    listeners: [{ url: "tcp://127.0.0.1:1", ...newStats(), received }],
    subscriptions: 3,
    indexNodes: 4,
    peakQueuedBytes: 0,
    queuedBytes: 5,
    authFailures: 1,
    errors,
    process: {
      residentBytes: 1,
      heapUsedBytes: 1,
      heapTotalBytes: 1,
      eventLoopLagSeconds: 0,
      eventLoopLagMaxSeconds: 0,
    },
  };
}

const HEALTH: HealthReport = {
  ok: true,
  check: "ready",
  listeners: { "tcp://127.0.0.1:1": "up" },
  authenticator: "off",
  cluster: "off",
  down: [],
};

/** A server that counts how often it is asked. */
function source(): FeedSource & { asked: number } {
  const s = {
    asked: 0,
    stats() {
      s.asked++;
      return stats(s.asked);
    },
    health() {
      return Promise.resolve(HEALTH);
    },
  };
  return s;
}

/** Reads events until `count` have arrived. */
async function events(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  count: number,
): Promise<string[]> {
  let text = "";
  while (text.split("\n\n").length <= count) {
    const { value, done } = await reader.read();
    assert.ok(!done, "the stream ended early");
    text += decoder.decode(value);
  }
  return text.split("\n\n").slice(0, count);
}

Deno.test("snapshot() keeps the numbers the page plots and leaves out errors never sent", () => {
  const s = snapshot(stats(7), HEALTH, 42);
  assert.equal(s.time, 42);
  assert.equal(s.listeners[0]!.received, 7);
  assert.equal("flushSeconds" in s.listeners[0]!, false);
  assert.deepEqual(s.errors, { invalid_json: 2 });
  assert.equal(s.subscriptions, 3);
  assert.equal(s.cluster, undefined);
  assert.equal(s.health, HEALTH);
});

Deno.test("ConsoleFeed runs its timer only while a stream is open", async () => {
  const server = source();
  const feed = new ConsoleFeed(server, 10);
  assert.equal(feed.running, false);
  assert.equal(server.asked, 0, "nothing is read before a console opens");

  let closed = 0;
  const first = feed.open("admin", () => closed++);
  const second = feed.open("metrics");
  assert.equal(feed.running, true);
  assert.equal(feed.watchers, 2);
  const reader = first.body.getReader();
  const [viewer, a, b] = await events(reader, 3);
  assert.equal(viewer, 'event: viewer\ndata: {"viewer":"admin"}');
  assert.match(a!, /^data: \{"time":/);
  const received = (event: string) =>
    JSON.parse(event.slice("data: ".length)).listeners[0].received;
  assert.ok(received(b!) > received(a!), "each tick reads the counters anew");

  first.close();
  first.close();
  assert.equal(closed, 1, "the close hook runs once");
  assert.equal(feed.running, true, "one stream is still open");
  await second.body.cancel();
  assert.equal(feed.watchers, 0);
  assert.equal(feed.running, false, "the last stream closed stops the timer");
  const asked = server.asked;
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(server.asked, asked, "nothing is read once nobody watches");
});
