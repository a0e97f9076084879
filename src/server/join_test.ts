import assert from "node:assert/strict";
import { tokenDigest } from "../auth/authenticator.ts";
import { MemoryBus } from "../cluster/backplane_memory.ts";
import { DEFAULT_HEARTBEAT_MS } from "../cluster/cluster_options.ts";
import { eventually } from "../testing/eventually.ts";
import type { Access } from "./access.ts";
import { joinCluster } from "./join.ts";

type Listener = (digest: string, tags: readonly string[] | null) => void;

/** The two methods of `Access` that `joinCluster()` uses, recorded. */
class FakeAccess {
  listener: Listener | undefined;
  applied: [string, readonly string[] | null][] = [];
  onGrantsChanged(listener: Listener): void {
    this.listener = listener;
  }
  applyGrants(digest: string, tags: readonly string[] | null): void {
    this.applied.push([digest, tags]);
  }
  get access(): Access {
    return this as unknown as Access;
  }
}

function node(bus: MemoryBus, name: string, heartbeatMs?: number) {
  const access = new FakeAccess();
  const messages: [readonly string[], string][] = [];
  const cluster = joinCluster(bus.attach(), {
    node: name,
    heartbeatMs,
    access: access.access,
    ingress: (tags, data) => messages.push([tags, data]),
  });
  return { cluster, access, messages };
}

Deno.test("joinCluster() starts a node with the given name and heartbeat", async () => {
  const bus = new MemoryBus();
  await using a = node(bus, "node-a", 50).cluster;
  await using b = node(bus, "node-b").cluster;
  assert.equal(a.node, "node-a");
  assert.equal(a.heartbeatMs, 50);
  assert.equal(b.heartbeatMs, DEFAULT_HEARTBEAT_MS);
  // Started: each hears the other's heartbeat.
  await eventually(() => b.peers().length > 0, "node-a's heartbeat");
  assert.deepEqual(b.peers(), ["node-a"]);
  assert.equal(a.stats().state, "up");
});

Deno.test("joinCluster() runs other nodes' messages through the ingress", async () => {
  const bus = new MemoryBus();
  const a = node(bus, "node-a");
  const b = node(bus, "node-b");
  try {
    assert.ok(b.cluster.publishMessage(["x", "y"], "hello"));
    await eventually(() => a.messages.length > 0, "the message on node-a");
    assert.deepEqual(a.messages, [[["x", "y"], "hello"]]);
    assert.deepEqual(b.messages, [], "a node's own message is not ingress");
  } finally {
    await a.cluster.close();
    await b.cluster.close();
  }
});

Deno.test("joinCluster() sends grant changes made here to the other nodes' access", async () => {
  const bus = new MemoryBus();
  const a = node(bus, "node-a");
  const b = node(bus, "node-b");
  try {
    assert.ok(a.access.listener, "listens for grant changes");
    const one = tokenDigest("token-1");
    const two = tokenDigest("token-2");
    a.access.listener(one, ["t1", "t2"]);
    a.access.listener(two, null);
    await eventually(() => b.access.applied.length === 2, "both changes");
    assert.deepEqual(b.access.applied, [
      [one, ["t1", "t2"]],
      [two, null],
    ]);
    assert.deepEqual(a.access.applied, [], "not applied back on its node");
  } finally {
    await a.cluster.close();
    await b.cluster.close();
  }
});

Deno.test("joinCluster() throws a TypeError for an empty node name", () => {
  const bus = new MemoryBus();
  assert.throws(
    () =>
      joinCluster(bus.attach(), {
        node: "",
        heartbeatMs: undefined,
        access: new FakeAccess().access,
        ingress: () => {},
      }),
    TypeError,
  );
});
