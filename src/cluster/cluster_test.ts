import assert from "node:assert/strict";
import { Recorder } from "../testing/backplane_suite.ts";
import { eventually } from "../testing/eventually.ts";
import { tokenDigest } from "../auth/authenticator.ts";
import type { LinkState } from "./backplane.ts";
import { Cluster } from "./cluster.ts";
import type { ClusterOptions } from "./cluster_options.ts";
import { MemoryBus, type MemoryLink } from "./backplane_memory.ts";

interface Node {
  cluster: Cluster;
  link: MemoryLink;
  messages: [readonly string[], string][];
  grants: [string, readonly string[] | null][];
  states: LinkState[];
}

function nodes(
  bus: MemoryBus,
  count: number,
  options: Partial<ClusterOptions> = {},
): Node[] {
  return Array.from({ length: count }, (_, i) => {
    const link = bus.attach();
    const cluster = new Cluster({ backplane: link, node: `n${i}`, ...options });
    const node: Node = { cluster, link, messages: [], grants: [], states: [] };
    cluster.onMessage((tags, data) => node.messages.push([tags, data]));
    cluster.onGrants((digest, tags) => node.grants.push([digest, tags]));
    cluster.onState((state) => node.states.push(state));
    cluster.start();
    return node;
  });
}

async function closeAll(all: Node[]): Promise<void> {
  for (const { cluster } of all) await cluster.close();
}

/** A raw listener on the bus: sees every payload, as Redis MONITOR would. */
function tap(bus: MemoryBus): { recorder: Recorder; link: MemoryLink } {
  const link = bus.attach();
  const recorder = new Recorder();
  link.start(recorder);
  return { recorder, link };
}

Deno.test("`publishMessage()` reaches every other node once and its origin ignores it", async () => {
  const bus = new MemoryBus();
  const all = nodes(bus, 3);
  const [a, b, c] = all as [Node, Node, Node];
  assert.equal(a.cluster.publishMessage(["news", "sport"], "goal"), true);
  assert.equal(b.cluster.publishMessage(["news"], "rain"), true);
  await eventually(
    () => c.messages.length === 2 && a.messages.length === 1,
    "delivered",
  );
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.deepEqual(a.messages, [[["news"], "rain"]]);
  assert.deepEqual(b.messages, [[["news", "sport"], "goal"]]);
  assert.deepEqual(c.messages, [[["news", "sport"], "goal"], [
    ["news"],
    "rain",
  ]]);
  const stats = a.cluster.stats();
  assert.equal(stats.sent, 1);
  assert.equal(stats.received, 1);
  assert.equal(stats.dropped, 0);
  assert.equal(stats.state, "up");
  assert.equal(stats.node, "n0");
  await closeAll(all);
});

Deno.test("`publishGrants()` carries the token's digest, never the token, and its origin ignores it", async () => {
  const bus = new MemoryBus();
  const { recorder, link } = tap(bus);
  const all = nodes(bus, 2);
  const [a, b] = all as [Node, Node];
  const token = "tok-very-secret";
  a.cluster.publishGrants(tokenDigest(token), ["x", "y"]);
  a.cluster.publishGrants(tokenDigest(token), null);
  await eventually(() => b.grants.length === 2, "grants arrived");
  assert.deepEqual(b.grants, [
    [tokenDigest(token), ["x", "y"]],
    [tokenDigest(token), null],
  ]);
  assert.deepEqual(a.grants, []);
  const grants = recorder.received.filter((p) => p.includes('"grants"'));
  assert.equal(grants.length, 2);
  for (const payload of grants) {
    assert.ok(!payload.includes(token));
    assert.ok(payload.includes(tokenDigest(token)));
  }
  await closeAll(all);
  await link.close();
});

Deno.test("heartbeats make peers; a node cut off drops out of its peers' view and comes back", async () => {
  const bus = new MemoryBus();
  const all = nodes(bus, 3, { heartbeatMs: 50 });
  const [a, b, c] = all as [Node, Node, Node];
  await eventually(
    () => all.every(({ cluster }) => cluster.stats().peers === 2),
    "everyone sees two peers",
  );
  assert.deepEqual(a.cluster.peers(), ["n1", "n2"]);
  c.link.cut();
  await eventually(
    () =>
      a.cluster.peers().join() === "n1" && b.cluster.peers().join() === "n0",
    "c left the others' view",
  );
  await eventually(() => c.cluster.stats().peers === 0, "c sees nobody");
  assert.equal(c.cluster.stats().state, "down");
  c.link.restore();
  await eventually(
    () => all.every(({ cluster }) => cluster.stats().peers === 2),
    "c is back",
  );
  await closeAll(all);
});

Deno.test("on a failing bus, sending is counted as dropped, never blocks, and the state says down", async () => {
  const bus = new MemoryBus();
  const all = nodes(bus, 2);
  const [a, b] = all as [Node, Node];
  assert.deepEqual(a.states, ["up"]);
  bus.fail();
  assert.deepEqual(a.states, ["up", "down"]);
  for (let i = 0; i < 100; i++) {
    assert.equal(a.cluster.publishMessage(["t"], `${i}`), false);
  }
  const stats = a.cluster.stats();
  assert.equal(stats.state, "down");
  assert.equal(stats.dropped, 100);
  assert.equal(stats.sent, 0);
  bus.restore();
  assert.deepEqual(a.states, ["up", "down", "up"]);
  assert.equal(a.cluster.publishMessage(["t"], "back"), true);
  await eventually(() => b.messages.length === 1, "delivered after restore");
  assert.deepEqual(b.messages, [[["t"], "back"]]);
  await closeAll(all);
});

Deno.test("grants changed while the link is down are sent once it is back, the latest per token", async () => {
  const bus = new MemoryBus();
  const all = nodes(bus, 2);
  const [a, b] = all as [Node, Node];
  a.link.cut();
  assert.equal(a.cluster.publishGrants(tokenDigest("t1"), ["x"]), false);
  assert.equal(a.cluster.publishGrants(tokenDigest("t2"), null), false);
  assert.equal(a.cluster.publishGrants(tokenDigest("t1"), ["y"]), false);
  assert.equal(a.cluster.stats().pendingGrants, 2);
  assert.equal(a.cluster.stats().dropped, 0);
  a.link.restore();
  await eventually(() => b.grants.length === 2, "pending grants sent");
  assert.deepEqual(b.grants, [
    [tokenDigest("t2"), null],
    [tokenDigest("t1"), ["y"]],
  ]);
  assert.equal(a.cluster.stats().pendingGrants, 0);
  assert.equal(a.cluster.stats().sent, 2);
  await closeAll(all);
});

Deno.test("grants waiting for the link are bounded; past the bound they are dropped and counted", async () => {
  const bus = new MemoryBus();
  const all = nodes(bus, 1, { maxPendingGrants: 2 });
  const [a] = all as [Node];
  a.link.cut();
  for (const token of ["t1", "t2", "t3", "t4"]) {
    a.cluster.publishGrants(tokenDigest(token), []);
  }
  a.cluster.publishGrants(tokenDigest("t1"), ["again"]); // replaces its own entry: no loss
  const stats = a.cluster.stats();
  assert.equal(stats.pendingGrants, 2);
  assert.equal(stats.dropped, 2);
  await closeAll(all);
});

Deno.test("malformed envelopes are counted and ignored; the node carries on", async () => {
  const bus = new MemoryBus();
  const all = nodes(bus, 1);
  const [a] = all as [Node];
  bus.inject("garbage");
  bus.inject('{"kind":"message","node":"x","tags":[],"data":""}');
  bus.inject('{"kind":"message","node":"x","tags":["t"],"data":"ok"}');
  await eventually(() => a.messages.length === 1, "the valid one arrived");
  assert.deepEqual(a.messages, [[["t"], "ok"]]);
  assert.equal(a.cluster.stats().malformed, 2);
  assert.equal(a.cluster.stats().received, 1);
  await closeAll(all);
});

Deno.test("`new Cluster()` checks its options and picks a random node id", () => {
  const backplane = new MemoryBus().attach();
  assert.throws(() => new Cluster({ backplane, heartbeatMs: 0 }), RangeError);
  assert.throws(
    () => new Cluster({ backplane, maxPendingGrants: 1.5 }),
    RangeError,
  );
  assert.throws(() => new Cluster({ backplane, node: "" }), TypeError);
  const one = new Cluster({ backplane }).node;
  const two = new Cluster({ backplane }).node;
  assert.match(one, /^[0-9a-f]{16}$/);
  assert.notEqual(one, two);
});

Deno.test("`close()` is idempotent, stops the heartbeats, and sending afterwards is dropped", async () => {
  const bus = new MemoryBus();
  const all = nodes(bus, 2, { heartbeatMs: 10 });
  const [a, b] = all as [Node, Node];
  await a.cluster.close();
  await a.cluster.close();
  assert.equal(a.cluster.state, "down");
  assert.equal(a.cluster.publishMessage(["t"], "late"), false);
  assert.equal(a.cluster.publishGrants(tokenDigest("t"), null), false);
  assert.equal(a.cluster.stats().dropped, 2);
  assert.equal(a.cluster.stats().pendingGrants, 0);
  await b.cluster.close();
  assert.deepEqual(b.messages, []);
});

Deno.test("a handler that throws is logged and the node carries on receiving", async () => {
  const bus = new MemoryBus();
  const all = nodes(bus, 2);
  const [a, b] = all as [Node, Node];
  b.cluster.onGrants(() => {
    throw new Error("handler bug");
  });
  a.cluster.publishGrants(tokenDigest("t"), null);
  a.cluster.publishMessage(["t"], "after");
  await eventually(() => b.messages.length === 1, "the next envelope arrived");
  assert.equal(b.cluster.stats().received, 2);
  await closeAll(all);
});
