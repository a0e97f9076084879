/**
 * The production shape of a cluster: nodes linked through a real Redis, each
 * with its own PostgreSQL authenticator on one shared database. An admin on
 * one node changes a token; every node's live connections follow.
 */

import assert from "node:assert/strict";
import { openAuthenticator } from "../../src/auth/builtin.ts";
import { startNodes } from "../_cluster.ts";
import { eventually, LineClient } from "../_helpers.ts";
import { postgresTest, startPostgres } from "../_postgres.ts";
import { REDIS_SERVER, RedisServer, redisTest } from "../_redis.ts";

/**
 * Registers a test that needs both redis-server and PostgreSQL: whichever is
 * missing has its wrapper register it (ignored locally, failed under CI=true),
 * so the test never passes without running.
 */
const redisAndPostgresTest = REDIS_SERVER === undefined
  ? redisTest
  : postgresTest;

redisAndPostgresTest(
  "cluster over Redis with PostgreSQL: a revocation on one node takes effect on every node",
  async () => {
    await using pg = await startPostgres();
    await using redis = await RedisServer.start();
    await using cluster = await startNodes(3, async () => ({
      cluster: redis.url,
      heartbeatMs: 100,
      authenticator: await openAuthenticator(pg.url),
      token: "cluster-admin",
    }));
    const nodes = cluster.servers;
    await using admin = await LineClient.connect(nodes[0]!.addresses[0]!);
    await admin.send({ command: "auth", data: "cluster-admin" });
    await admin.send({
      command: "register",
      tags: ["news", "sport"],
      data: "reader",
    });
    assert.deepEqual(await admin.sync(), []);
    // The token works on every node: they share the database.
    const readers: LineClient[] = [];
    for (const node of nodes.slice(1)) {
      const reader = await LineClient.connect(node.addresses[0]!);
      readers.push(reader);
      await reader.send({ command: "auth", data: "reader" });
      await reader.send({ command: "subscribe", tags: ["news"] });
      await reader.send({ command: "subscribe", tags: ["sport"] });
      assert.deepEqual(await reader.sync(), []);
    }
    try {
      await admin.send({ command: "unset", tags: ["sport"], data: "reader" });
      assert.deepEqual(await admin.sync(), []);
      await eventually(
        () => nodes.slice(1).every((node) => node.stats().subscriptions === 1),
        "every other node to drop the sport subscriptions",
      );
      for (const reader of readers) {
        assert.deepEqual(await reader.next(), {
          command: "revoked",
          tags: ["sport"],
        });
        assert.equal(
          (await reader.request({ command: "list" })).data,
          '[["news"]]',
        );
      }
      await admin.send({
        command: "publish",
        tags: ["sport"],
        data: "not theirs",
      });
      await admin.send({
        command: "publish",
        tags: ["news"],
        data: "theirs",
      });
      await admin.sync();
      for (const reader of readers) {
        assert.deepEqual((await reader.next()).data, "theirs");
      }
      await admin.send({ command: "unregister", data: "reader" });
      await eventually(
        () => nodes.every((node) => node.stats().subscriptions === 0),
        "every node to drop the token's subscriptions",
      );
    } finally {
      for (const reader of readers) await reader.close();
    }
  },
);
