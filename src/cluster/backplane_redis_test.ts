import assert from "node:assert/strict";
import { backoff, redactRedisUrl, RedisBackplane } from "./backplane_redis.ts";

Deno.test("`redactRedisUrl()` keeps host, port and database and drops credentials", async (t) => {
  const cases: [string, string][] = [
    ["redis://127.0.0.1:6379", "redis://127.0.0.1:6379/0"],
    [
      "redis://user:s3cret@cache.internal:6380/2",
      "redis://cache.internal:6380/2",
    ],
    ["rediss://:s3cret@[::1]:6379/", "rediss://[::1]:6379/0"],
    ["redis://localhost", "redis://localhost/0"],
  ];
  for (const [url, described] of cases) {
    await t.step(described, () => {
      assert.equal(redactRedisUrl(url), described);
    });
  }
});

Deno.test("`redactRedisUrl()` refuses other URLs without repeating them", async (t) => {
  const cases: [string, RegExp][] = [
    ["not a url s3cret", /Invalid cluster URL: expected redis:\/\//],
    ["http://u:s3cret@host:80", /scheme "http:"/],
    ["redis://u:s3cret@host:6379/db", /database number/],
    ["redis://u:s3cret@host:6379/0?x=s3cret", /database number/],
    ["redis://:s3cret@", /Invalid cluster URL/],
  ];
  for (const [url, reason] of cases) {
    await t.step(url.replaceAll("s3cret", "***"), () => {
      assert.throws(() => redactRedisUrl(url), (err: unknown) => {
        assert.ok(err instanceof TypeError);
        assert.match(err.message, reason);
        assert.ok(!err.message.includes("s3cret"));
        return true;
      });
    });
  }
});

Deno.test("`backoff()` grows exponentially from the minimum, is capped, and is jittered", () => {
  for (let i = 0; i < 200; i++) {
    const first = backoff(0, 100, 5000);
    assert.ok(first >= 50 && first <= 100, `${first}`);
    const third = backoff(2, 100, 5000);
    assert.ok(third >= 200 && third <= 400, `${third}`);
    const late = backoff(1000, 100, 5000);
    assert.ok(late >= 2500 && late <= 5000, `${late}`);
  }
  const samples = new Set(
    Array.from({ length: 50 }, () => backoff(5, 100, 5000)),
  );
  assert.ok(samples.size > 1, "not every node waits the same");
});

Deno.test("`new RedisBackplane()` checks its options and names its channel", () => {
  assert.equal(new RedisBackplane("redis://h:1").channel, "mist:mist");
  assert.equal(
    new RedisBackplane("redis://h:1", { name: "a" }).channel,
    "mist:a",
  );
  assert.equal(
    new RedisBackplane("redis://u:pw@h:1/3", { name: "a" }).description,
    "redis://h:1/3 channel mist:a",
  );
  assert.throws(
    () => new RedisBackplane("redis://h:1", { name: "" }),
    TypeError,
  );
  assert.throws(
    () => new RedisBackplane("redis://h:1", { retryMaxMs: 0 }),
    RangeError,
  );
  assert.throws(() => new RedisBackplane("tcp://h:1"), TypeError);
});
