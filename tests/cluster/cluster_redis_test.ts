/**
 * Servers linked through a real redis-server (issue 6): three nodes, grants
 * across nodes, Redis stopped and restarted mid-stream, Redis absent at
 * start-up, and the `--cluster` flags of the program.
 */

import assert from "node:assert/strict";
import { tokenDigest } from "../../src/auth/authenticator.ts";
import { RedisBackplane } from "../../src/cluster/backplane_redis.ts";
import type { MistServer } from "../../src/server/server.ts";
import { exactlyOnceEverywhere, linked, startNodes } from "../_cluster.ts";
import { ServerProcess } from "../_program.ts";
import { eventually, LineClient, sleep, tcpServer } from "../_helpers.ts";
import { RedisServer, redisTest } from "../_redis.ts";
import { testCertificate } from "../_certificates.ts";

const FAST = { retryMinMs: 20, retryMaxMs: 200 };

async function closeAll(servers: MistServer[]): Promise<void> {
  for (const server of servers) await server.close();
}

redisTest(
  "cluster over Redis: three nodes, subscribers on each, publishers on each: exactly once, no echo, in order",
  async () => {
    await using redis = await RedisServer.start();
    await using nodes = await startNodes(3, () => ({
      cluster: redis.url,
      clusterName: "three",
      heartbeatMs: 100,
    }));
    const servers = nodes.servers;
    await exactlyOnceEverywhere(servers, 200);
    for (const server of servers) {
      const stats = server.stats().cluster!;
      assert.deepEqual(
        [stats.sent, stats.received, stats.dropped, stats.malformed],
        [200, 400, 0, 0],
      );
    }
    assert.match(await redis.command("PUBSUB", "CHANNELS"), /mist:three/);
  },
);

redisTest(
  "cluster over Redis: grants envelopes reach every other node, not their origin",
  async () => {
    await using redis = await RedisServer.start();
    await using nodes = await startNodes(
      3,
      () => ({ cluster: redis.url, heartbeatMs: 100 }),
    );
    const servers = nodes.servers;
    const seen = servers.map(() => [] as [string, readonly string[] | null][]);
    servers.forEach((server, i) =>
      server.cluster!.onGrants((digest, tags) => seen[i]!.push([digest, tags]))
    );
    servers[1]!.cluster!.publishGrants(tokenDigest("tok"), ["a", "b"]);
    servers[1]!.cluster!.publishGrants(tokenDigest("tok"), ["a"]);
    servers[1]!.cluster!.publishGrants(tokenDigest("tok"), null);
    await eventually(
      () => seen[0]!.length === 3 && seen[2]!.length === 3,
      "both other nodes got every change",
    );
    const digest = tokenDigest("tok");
    const expected = [[digest, ["a", "b"]], [digest, ["a"]], [digest, null]];
    assert.deepEqual(seen[0], expected);
    assert.deepEqual(seen[2], expected);
    assert.deepEqual(seen[1], []);
  },
);

redisTest(
  "cluster over Redis: Redis stopped mid-stream and restarted: nodes count what they could not send, relink by themselves and deliver again",
  async () => {
    await using redis = await RedisServer.start();
    await using nodes = await startNodes(2, () => ({
      backplane: new RedisBackplane(redis.url, FAST),
      heartbeatMs: 100,
    }));
    const servers = nodes.servers;
    const [a, b] = servers as [MistServer, MistServer];
    await using publisher = await LineClient.connect(a.addresses[0]!);
    await using local = await LineClient.connect(a.addresses[0]!);
    await using remote = await LineClient.connect(b.addresses[0]!);
    for (const client of [local, remote]) {
      await client.send({ command: "subscribe", tags: ["s"] });
      await client.sync();
    }
    let sequence = 0;
    const publishSome = async (count: number) => {
      for (let i = 0; i < count; i++) {
        await publisher.send({
          command: "publish",
          tags: ["s"],
          data: `${sequence++}`,
        });
      }
      await publisher.sync();
    };

    await publishSome(100);
    await redis.stop();
    await eventually(
      () => servers.every((s) => s.stats().cluster!.state === "down"),
      "both nodes see the link down",
    );
    await publishSome(100);
    assert.ok(a.stats().cluster!.dropped >= 100, "counted while down");

    await redis.start();
    await eventually(
      () => servers.every((s) => s.stats().cluster!.state === "up"),
      "both nodes relinked by themselves",
    );
    await eventually(
      () => servers.every((s) => s.stats().cluster!.peers === 1),
      "and see each other again",
    );
    await publishSome(100);

    // Locally, nothing was lost.
    const localGot = [];
    while (localGot.length < 300) {
      localGot.push(Number((await local.next()).data));
    }
    assert.deepEqual(localGot, Array.from({ length: 300 }, (_, i) => i));
    // Across nodes: the last 100 arrived; what arrived is in order, never twice.
    const remoteGot: number[] = [];
    while (remoteGot.at(-1) !== 299) {
      remoteGot.push(Number((await remote.next()).data));
    }
    assert.deepEqual(
      remoteGot.slice(-100),
      Array.from({ length: 100 }, (_, i) => 200 + i),
    );
    for (let i = 1; i < remoteGot.length; i++) {
      assert.ok(remoteGot[i]! > remoteGot[i - 1]!, "in order, no duplicate");
    }
    assert.ok(
      !remoteGot.some((n) => n >= 100 && n < 200),
      "nothing sent while down",
    );
  },
);

redisTest(
  "cluster over Redis: Redis down at start-up: the node starts, serves local traffic, and links once Redis appears",
  async () => {
    await using redis = await RedisServer.start();
    await redis.stop();
    const servers: MistServer[] = [];
    try {
      const a = await tcpServer({
        backplane: new RedisBackplane(redis.url, FAST),
        heartbeatMs: 100,
      });
      servers.push(a);
      await eventually(() => a.stats().cluster!.state === "down", "down");
      await using subscriber = await LineClient.connect(a.addresses[0]!);
      await using publisher = await LineClient.connect(a.addresses[0]!);
      await subscriber.send({ command: "subscribe", tags: ["t"] });
      await subscriber.sync();
      await publisher.send({ command: "publish", tags: ["t"], data: "local" });
      assert.equal((await subscriber.next()).data, "local");
      assert.equal(a.stats().cluster!.dropped, 1);

      await redis.start();
      const b = await tcpServer({
        backplane: new RedisBackplane(redis.url, FAST),
        heartbeatMs: 100,
      });
      servers.push(b);
      await linked(servers);
      await using remote = await LineClient.connect(b.addresses[0]!);
      await remote.send({ command: "publish", tags: ["t"], data: "remote" });
      assert.equal((await subscriber.next()).data, "remote");
    } finally {
      await closeAll(servers);
    }
  },
);

redisTest(
  "mist --server --cluster: links, logs the link once, and a second cluster name stays apart",
  async () => {
    await using redis = await RedisServer.start();
    const args = (name: string) => [
      "--listeners",
      "tcp://127.0.0.1:0",
      "--cluster",
      redis.url,
      "--cluster-name",
      name,
    ];
    await using a = new ServerProcess(args("blue"));
    await using b = new ServerProcess(args("blue"));
    await using c = new ServerProcess(args("green"));
    for (const server of [a, b, c]) {
      await server.waitFor(
        /Cluster link up through redis:\/\/127\.0\.0\.1:\d+\/0 channel mist:(blue|green)/,
      );
    }
    await a.waitFor(/Cluster peer \S+ joined/);
    const urls = await Promise.all([a, b, c].map((s) => s.address("tcp")));
    await using subB = await LineClient.connect(urls[1]!);
    await using subC = await LineClient.connect(urls[2]!);
    await using pubA = await LineClient.connect(urls[0]!);
    for (const client of [subB, subC]) {
      await client.send({ command: "subscribe", tags: ["t"] });
      await client.sync();
    }
    await pubA.send({ command: "publish", tags: ["t"], data: "blue only" });
    assert.equal((await subB.next()).data, "blue only");
    assert.deepEqual(await subC.sync(), []);
    const { code } = await a.stop();
    assert.equal(code, 0);
    assert.equal(a.lines.filter((l) => /Cluster link up/.test(l)).length, 1);
  },
);

redisTest(
  "mist --server --cluster: Redis unreachable at start-up is logged once, not per retry, and the server still serves",
  async () => {
    await using redis = await RedisServer.start();
    await redis.stop();
    await using server = new ServerProcess([
      "--listeners",
      "tcp://127.0.0.1:0",
      "--cluster",
      `redis://:pw-secret@127.0.0.1:${redis.port}`,
    ]);
    const url = await server.address("tcp");
    await server.waitFor(
      /Cluster link down through redis:\/\/127\.0\.0\.1:\d+\/0 channel mist:mist: .*refused/i,
    );
    await using client = await LineClient.connect(url);
    assert.equal((await client.request({ command: "ping" })).data, "pong");
    // Retries run at least every 5 s; wait for a few of the first, quicker ones.
    await sleep(1000);
    await redis.start();
    await redis.command("CONFIG", "SET", "requirepass", "pw-secret");
    await server.waitFor(/Cluster link up/);
    const { code } = await server.stop();
    assert.equal(code, 0);
    assert.equal(
      server.lines.filter((l) => /Cluster link down/.test(l)).length,
      1,
    );
    assert.ok(
      !server.lines.some((l) => l.includes("pw-secret")),
      "no password logged",
    );
  },
);

redisTest(
  "mist --server --cluster rediss://: nodes link over TLS, trusting the CA named by DENO_CERT",
  async () => {
    const certificate = await testCertificate();
    const tls = certificate && {
      cert: certificate.certFile,
      key: certificate.keyFile,
      ca: certificate.caFile,
    };
    if (tls === undefined) {
      assert.notEqual(Deno.env.get("CI"), "true", "openssl is not installed");
      Deno.stderr.writeSync(
        new TextEncoder().encode("SKIP: openssl is not installed\n"),
      );
      return;
    }
    await using redis = await RedisServer.start(tls);
    // The children inherit it: Deno's way to trust a private CA.
    Deno.env.set("DENO_CERT", tls.ca);
    const args = [
      "--listeners",
      "tcp://127.0.0.1:0",
      "--cluster",
      redis.tlsUrl,
    ];
    await using a = new ServerProcess(args);
    await using b = new ServerProcess(args);
    Deno.env.delete("DENO_CERT");
    await a.waitFor(/Cluster link up through rediss:\/\/127\.0\.0\.1:\d+\/0/);
    await b.waitFor(/Cluster link up/);
    const [urlA, urlB] = await Promise.all([
      a.address("tcp"),
      b.address("tcp"),
    ]);
    await using subscriber = await LineClient.connect(urlB);
    await using publisher = await LineClient.connect(urlA);
    await subscriber.send({ command: "subscribe", tags: ["t"] });
    await subscriber.sync();
    await publisher.send({
      command: "publish",
      tags: ["t"],
      data: "over TLS",
    });
    assert.equal((await subscriber.next()).data, "over TLS");
  },
);
