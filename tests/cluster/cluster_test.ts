/**
 * Several real servers in one process, linked by the in-process bus, with real
 * TCP clients: the cluster's semantics (issue 6) without Redis.
 */

import assert from "node:assert/strict";
import { tokenDigest } from "../../src/auth/authenticator.ts";
import { MemoryAuthenticator } from "../../src/auth/memory.ts";
import { MemoryBus } from "../../src/cluster/backplane_memory.ts";
import type { Message } from "../../src/protocol/codec.ts";
import { type MistServer, serve } from "../../src/server/server.ts";
import {
  exactlyOnceEverywhere,
  linked,
  type Nodes,
  startNodes,
} from "../_cluster.ts";
import { addressOf, eventually, LineClient, tcpServer } from "../_helpers.ts";
import { captureLogs, recordText } from "../_logs.ts";

async function memoryCluster(
  count: number,
): Promise<{ bus: MemoryBus } & Nodes> {
  const bus = new MemoryBus();
  const nodes = await startNodes(
    count,
    () => ({ backplane: bus.attach(), heartbeatMs: 50 }),
  );
  return Object.assign(nodes, { bus });
}

Deno.test("cluster: a message published on any node reaches every matching connection of every node once, never its publisher, in order", async () => {
  await using cluster = await memoryCluster(3);
  await exactlyOnceEverywhere(cluster.servers);
  for (const server of cluster.servers) {
    const stats = server.stats().cluster!;
    assert.equal(stats.sent, 50);
    assert.equal(stats.received, 100);
    assert.equal(stats.dropped, 0);
  }
});

Deno.test("cluster: `server.publish()` reaches the other nodes too", async () => {
  await using cluster = await memoryCluster(2);
  const [a, b] = cluster.servers as [MistServer, MistServer];
  await using subscriber = await LineClient.connect(b.addresses[0]!);
  await subscriber.send({ command: "subscribe", tags: ["t"] });
  await subscriber.sync();
  a.publish(["t"], "from the server");
  assert.deepEqual(await subscriber.next(), {
    command: "publish",
    tags: ["t"],
    data: "from the server",
  });
});

Deno.test("cluster: when the bus fails, local delivery goes on, envelopes are counted as dropped, and delivery across nodes resumes after", async () => {
  await using cluster = await memoryCluster(2);
  const [a, b] = cluster.servers as [MistServer, MistServer];
  await using local = await LineClient.connect(a.addresses[0]!);
  await using remote = await LineClient.connect(b.addresses[0]!);
  await using publisher = await LineClient.connect(a.addresses[0]!);
  for (const client of [local, remote]) {
    await client.send({ command: "subscribe", tags: ["t"] });
    await client.sync();
  }
  cluster.bus.fail();
  assert.equal(a.stats().cluster!.state, "down");
  for (let i = 0; i < 10; i++) {
    await publisher.send({ command: "publish", tags: ["t"], data: `${i}` });
  }
  await publisher.sync();
  assert.equal((await local.sync()).length, 10, "local delivery never waits");
  assert.deepEqual(await remote.sync(), []);
  assert.equal(a.stats().cluster!.dropped, 10);

  cluster.bus.restore();
  await publisher.send({ command: "publish", tags: ["t"], data: "again" });
  assert.deepEqual((await remote.next()).data, "again");
  assert.deepEqual((await local.next()).data, "again");
});

Deno.test("cluster: grants envelopes go from one server to the others through `server.cluster`", async () => {
  await using cluster = await memoryCluster(3);
  const [a, b, c] = cluster.servers as [MistServer, MistServer, MistServer];
  const seen: Record<string, [string, readonly string[] | null][]> = {
    a: [],
    b: [],
    c: [],
  };
  a.cluster!.onGrants((digest, tags) => seen.a!.push([digest, tags]));
  b.cluster!.onGrants((digest, tags) => seen.b!.push([digest, tags]));
  c.cluster!.onGrants((digest, tags) => seen.c!.push([digest, tags]));
  a.cluster!.publishGrants(tokenDigest("token-1"), ["x"]);
  a.cluster!.publishGrants(tokenDigest("token-1"), null);
  await eventually(
    () => seen.b!.length === 2 && seen.c!.length === 2,
    "every other node got both",
  );
  const expected = [[tokenDigest("token-1"), ["x"]], [
    tokenDigest("token-1"),
    null,
  ]];
  assert.deepEqual(seen.b, expected);
  assert.deepEqual(seen.c, expected);
  assert.deepEqual(seen.a, [], "its origin ignores it");
});

Deno.test("cluster: `stats().cluster` shows the link, the live peers and the counters, and is absent without a cluster", async () => {
  await using alone = await tcpServer();
  assert.equal(alone.stats().cluster, undefined);
  assert.equal(alone.cluster, undefined);
  await using cluster = await memoryCluster(2);
  const stats = cluster.servers[0]!.stats().cluster!;
  assert.equal(stats.state, "up");
  assert.equal(stats.peers, 1);
  // Named after the host and its first listener's port: stable across restarts.
  const port = new URL(cluster.servers[0]!.addresses[0]!).port;
  assert.equal(stats.node, `${Deno.hostname()}:${port}`);
  assert.equal(cluster.servers[0]!.node, stats.node);
  assert.deepEqual(
    { sent: stats.sent, received: stats.received, malformed: stats.malformed },
    { sent: 0, received: 0, malformed: 0 },
  );
});

Deno.test("cluster: a server refuses a bad cluster URL before it listens, without repeating the URL", async () => {
  await assert.rejects(
    tcpServer({ cluster: "http://user:s3cret@host:1" }),
    (err: unknown) => {
      assert.ok(err instanceof TypeError);
      assert.match(err.message, /Invalid cluster URL scheme "http:"/);
      assert.ok(!err.message.includes("s3cret"));
      return true;
    },
  );
});

Deno.test("cluster: GET /health/ready answers 503 with cluster down until the node is linked, /health/live 200 all along, and /metrics shows the link", async () => {
  const bus = new MemoryBus();
  await using a = await serve({
    listeners: ["http://127.0.0.1:0"],
    backplane: bus.attach(),
    heartbeatMs: 50,
  });
  await using b = await tcpServer({ backplane: bus.attach(), heartbeatMs: 50 });
  await linked([a, b]);
  const http = addressOf(a, "http");
  const health = async (path = "/health") => {
    const response = await fetch(`${http}${path}`);
    return { status: response.status, body: await response.json() };
  };
  const up = await health();
  assert.equal(up.status, 200);
  assert.deepEqual([up.body.cluster, up.body.peers], ["up", 1]);
  const metrics = await (await fetch(`${http}/metrics`)).text();
  const node = `{node="${a.stats().cluster!.node}"}`;
  for (
    const line of [
      `mist_cluster_up${node} 1`,
      `mist_cluster_peers${node} 1`,
      `mist_cluster_dropped_total${node} 0`,
    ]
  ) {
    assert.ok(metrics.split("\n").includes(line), `missing ${line}`);
  }

  bus.fail();
  const down = await health();
  assert.equal(down.status, 503);
  assert.equal(down.body.cluster, "down");
  assert.equal(down.body.ok, false);
  assert.deepEqual(down.body.down, ["cluster"]);
  assert.deepEqual(await health("/health/ready"), down);
  // The node still serves: a liveness probe must not restart it.
  const live = await health("/health/live");
  assert.equal(live.status, 200);
  assert.deepEqual([live.body.ok, live.body.cluster, live.body.down], [
    true,
    "down",
    [],
  ]);
  a.publish(["t"], "lost to the other nodes");
  assert.ok(
    (await (await fetch(`${http}/metrics`)).text()).includes(
      `mist_cluster_dropped_total${node} 1`,
    ),
  );
  bus.restore();
  await linked([a, b]);
  assert.equal((await health()).status, 200);
});

Deno.test("cluster: unset, set and unregister on one node change the grants of live connections on every node", async () => {
  const bus = new MemoryBus();
  // One store every node shares, as PostgreSQL is in production.
  const authenticator = new MemoryAuthenticator();
  const options = {
    backplane: bus.attach(),
    heartbeatMs: 50,
    authenticator,
    token: "admin",
  };
  await using a = await tcpServer(options);
  await using b = await tcpServer({ ...options, backplane: bus.attach() });
  await linked([a, b]);
  await using admin = await LineClient.connect(a.addresses[0]!);
  await admin.send({ command: "auth", data: "admin" });
  await admin.send({ command: "register", tags: ["x", "y"], data: "user" });
  assert.deepEqual(await admin.sync(), []);
  await using user = await LineClient.connect(b.addresses[0]!);
  await user.send({ command: "auth", data: "user" });
  await user.send({ command: "subscribe", tags: ["x"] });
  await user.send({ command: "subscribe", tags: ["y"] });
  assert.deepEqual(await user.sync(), []);

  await admin.send({ command: "unset", tags: ["y"], data: "user" });
  await eventually(
    () => b.stats().subscriptions === 1,
    "the revocation to reach node b",
  );
  assert.deepEqual(await user.next(), { command: "revoked", tags: ["y"] });
  assert.equal((await user.request({ command: "list" })).data, '[["x"]]');
  assert.equal(
    (await user.request({ command: "publish", tags: ["y"], data: "" })).error,
    'forbidden: not granted ["y"]',
  );

  await admin.send({ command: "set", tags: ["z"], data: "user" });
  let reply: Message | undefined;
  await eventually(async () => {
    reply = await user.request({ command: "subscribe", tags: ["z"], id: 1 });
    return reply.error === undefined;
  }, "the new grant to reach node b");
  assert.equal(reply?.data, "ok", "the new grant reached node b");

  await admin.send({ command: "unregister", data: "user" });
  await eventually(
    () => b.stats().subscriptions === 0,
    "the unregistration to reach node b",
  );
  assert.deepEqual(await user.sync(), [
    { command: "revoked", tags: ["x"] },
    { command: "revoked", tags: ["z"] },
  ]);
  assert.equal(
    (await user.request({ command: "subscribe", tags: ["x"] })).error,
    'forbidden: not granted ["x"]',
  );
});

Deno.test("cluster: a node named by nodeName keeps that name as its id, and says so when another node takes the same name", async () => {
  const { records } = await captureLogs(async () => {
    const bus = new MemoryBus();
    const options = { backplane: bus.attach(), heartbeatMs: 20 };
    await using a = await tcpServer({ ...options, nodeName: "twin" });
    await using b = await tcpServer({
      ...options,
      backplane: bus.attach(),
      nodeName: "twin",
    });
    assert.equal(a.stats().cluster!.node, "twin");
    assert.equal(b.node, "twin");
    await eventually(
      () =>
        a.stats().cluster!.state === "up" && b.stats().cluster!.state === "up",
      "both linked",
    );
    // Each hears the other's heartbeats as its own, one more than it sent.
    await new Promise((resolve) => setTimeout(resolve, 100));
  });
  const errors = records.filter((r) =>
    r.level === "error" &&
    recordText(r).includes("Another cluster node uses this node's id")
  );
  assert.ok(errors.length >= 1, "the clash is logged");
  assert.ok(errors.length <= 2, "once per node");
  assert.ok(recordText(errors[0]!).includes('"node":"twin"'));
});

Deno.test("cluster: a node alone on the bus hears its own heartbeats without taking them for a twin", async () => {
  const { records } = await captureLogs(async () => {
    const bus = new MemoryBus();
    await using a = await tcpServer({
      backplane: bus.attach(),
      heartbeatMs: 20,
      nodeName: "solo",
    });
    await eventually(() => a.stats().cluster!.state === "up", "linked");
    await new Promise((resolve) => setTimeout(resolve, 100));
  });
  assert.deepEqual(records.filter((r) => r.level === "error"), []);
});
