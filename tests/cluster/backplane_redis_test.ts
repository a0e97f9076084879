/**
 * The Redis backplane against a real redis-server: the shared backplane suite,
 * then what only Redis has (start-up without Redis, cluster names, passwords,
 * the in-flight bound).
 */

import assert from "node:assert/strict";
import { RedisBackplane } from "../../src/cluster/backplane_redis.ts";
import { backplaneSuite, Recorder } from "../../src/testing/backplane_suite.ts";
import { eventually } from "../../src/testing/eventually.ts";
import { sleep } from "../../src/_util/deadline.ts";
import { RedisServer, redisTest } from "../_redis.ts";

const FAST = { retryMinMs: 20, retryMaxMs: 200 };

backplaneSuite("RedisBackplane", async () => {
  const redis = await RedisServer.start();
  const attached: RedisBackplane[] = [];
  return {
    attach: () => {
      const backplane = new RedisBackplane(redis.url, FAST);
      attached.push(backplane);
      return backplane;
    },
    fail: () => redis.stop(),
    restore: () => redis.start(),
    [Symbol.asyncDispose]: async () => {
      for (const backplane of attached) await backplane.close();
      await redis.close();
    },
  };
}, redisTest);

redisTest(
  "RedisBackplane: Redis down at start-up is reported once with its reason, then the link comes up when Redis appears",
  async () => {
    await using redis = await RedisServer.start();
    await redis.stop();
    const backplane = new RedisBackplane(redis.url, FAST);
    const recorder = new Recorder();
    backplane.start(recorder);
    await eventually(() => recorder.states.length === 1, "the first outcome");
    assert.deepEqual(recorder.states, ["down"]);
    assert.match(recorder.reasons[0]!, /ECONNREFUSED|refused/i);
    // Several retries pass (200 ms apart at most) without another report.
    await sleep(600);
    assert.deepEqual(recorder.states, ["down"]);
    await redis.start();
    await eventually(() => backplane.state === "up", "linked");
    assert.deepEqual(recorder.states, ["down", "up"]);
    await backplane.close();
  },
);

redisTest(
  "RedisBackplane: clusters of different names share one Redis without seeing each other",
  async () => {
    await using redis = await RedisServer.start();
    const red = new RedisBackplane(redis.url, { ...FAST, name: "red" });
    const blue = new RedisBackplane(redis.url, { ...FAST, name: "blue" });
    assert.equal(red.channel, "mist:red");
    const [rr, rb] = [new Recorder(), new Recorder()];
    red.start(rr);
    blue.start(rb);
    await eventually(() => red.state === "up" && blue.state === "up", "up");
    red.publish("for red");
    blue.publish("for blue");
    await eventually(
      () => rr.received.length === 1 && rb.received.length === 1,
      "each got its own",
    );
    assert.deepEqual(rr.received, ["for red"]);
    assert.deepEqual(rb.received, ["for blue"]);
    await red.close();
    await blue.close();
  },
);

redisTest(
  "RedisBackplane: a password in the URL links to a protected Redis and appears in no description or reason",
  async () => {
    await using redis = await RedisServer.start();
    assert.match(
      await redis.command("CONFIG", "SET", "requirepass", "s3cret"),
      /\+OK/,
    );
    const port = redis.port;
    const good = new RedisBackplane(
      `redis://:s3cret@127.0.0.1:${port}/0`,
      FAST,
    );
    const bad = new RedisBackplane(`redis://:wr0ng@127.0.0.1:${port}`, FAST);
    const [rg, rb] = [new Recorder(), new Recorder()];
    good.start(rg);
    bad.start(rb);
    await eventually(() => good.state === "up", "linked with the password");
    await eventually(() => rb.states.length === 1, "refused");
    assert.deepEqual(rb.states, ["down"]);
    assert.ok(!good.description.includes("s3cret"));
    assert.ok(!bad.description.includes("wr0ng"));
    assert.ok(!rb.reasons[0]!.includes("wr0ng"), rb.reasons[0]);
    await good.close();
    await bad.close();
  },
);

redisTest(
  "RedisBackplane: envelopes in flight are bounded; past the bound `publish()` refuses",
  async () => {
    await using redis = await RedisServer.start();
    const backplane = new RedisBackplane(redis.url, {
      ...FAST,
      maxInFlightBytes: 1000,
    });
    const recorder = new Recorder();
    backplane.start(recorder);
    await eventually(() => backplane.state === "up", "linked");
    const results = Array.from(
      { length: 50 },
      (_, i) => backplane.publish(`${i}`.padEnd(99, ".")),
    );
    assert.deepEqual(results.filter((ok) => ok).length, 10);
    await eventually(
      () => recorder.received.length === 10,
      "the accepted ones",
    );
    // Once confirmed, room is made again.
    await eventually(() => backplane.publish("again"), "room again");
    await backplane.close();
  },
);

redisTest(
  "RedisBackplane: `close()` while waiting to retry returns without waiting out the delay",
  async () => {
    await using redis = await RedisServer.start();
    await redis.stop();
    const backplane = new RedisBackplane(redis.url, {
      retryMinMs: 600_000,
      retryMaxMs: 600_000,
    });
    const recorder = new Recorder();
    backplane.start(recorder);
    await eventually(() => recorder.states.length === 1, "the first failure");
    await backplane.close(); // the test's sanitizers see no timer left
    assert.equal(backplane.state, "down");
  },
);
