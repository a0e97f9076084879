import assert from "node:assert/strict";
import { getLogger } from "npm:@logtape/logtape@^2.4.2";
import { captureLogs } from "../../tests/_logs.ts";
import { limitedLog, RateLimiter } from "./rate_limit.ts";

const ZERO = { suppressed: 0, connectionSuppressed: 0 };

Deno.test("RateLimiter allows one event per kind per connection per interval and counts the rest", () => {
  let now = 0;
  const limiter = new RateLimiter(10_000, () => now);
  assert.deepEqual(limiter.allow("a", 1), ZERO);
  assert.deepEqual(limiter.allow("b", 1), ZERO); // kinds are limited apart
  for (let i = 0; i < 49; i++) assert.equal(limiter.allow("a", 1), undefined);
  // Another connection is not hidden by the first: told of its 49.
  assert.deepEqual(limiter.allow("a", 2), {
    suppressed: 49,
    connectionSuppressed: 0,
  });
  now = 9_999;
  assert.equal(limiter.allow("a", 1), undefined);
  assert.equal(limiter.allow("a", 2), undefined);
  assert.equal(limiter.suppressed("a"), 51);
  assert.equal(limiter.suppressed("never"), 0);
  now = 10_000;
  assert.deepEqual(limiter.allow("a", 1), {
    suppressed: 2,
    connectionSuppressed: 50,
  });
  assert.equal(limiter.allow("a", 1), undefined);
  now = 20_000;
  assert.deepEqual(limiter.allow("a", 1), {
    suppressed: 1,
    connectionSuppressed: 1,
  });
  assert.equal(limiter.allow("a", 1), undefined);
  // Quiet for two intervals: the connection is forgotten, its count is not.
  now = 45_000;
  assert.deepEqual(limiter.allow("a", 1), {
    suppressed: 1,
    connectionSuppressed: 0,
  });
  limiter.reset();
  assert.deepEqual(limiter.allow("a", 1), ZERO);
});

Deno.test("RateLimiter: events without a connection share one allowance per kind", () => {
  let now = 0;
  const limiter = new RateLimiter(1000, () => now);
  assert.deepEqual(limiter.allow("body"), ZERO);
  for (let i = 0; i < 9; i++) assert.equal(limiter.allow("body"), undefined);
  now = 1000;
  assert.deepEqual(limiter.allow("body"), {
    suppressed: 9,
    connectionSuppressed: 9,
  });
});

Deno.test("RateLimiter: at most the ceiling per kind per interval over every connection, and the next line counts the rest", () => {
  let now = 0;
  const limiter = new RateLimiter(1000, () => now, 20);
  let allowed = 0;
  for (let id = 0; id < 10_000; id++) {
    if (limiter.allow("refused", id) !== undefined) allowed++;
  }
  assert.equal(allowed, 20);
  assert.equal(limiter.remembered, 20); // the suppressed cost nothing
  assert.deepEqual(limiter.allow("other", 1), ZERO); // another kind
  now = 1000;
  assert.deepEqual(limiter.allow("refused", 50_000), {
    suppressed: 9_980,
    connectionSuppressed: 0,
  });
});

Deno.test("RateLimiter forgets connections an interval after their last line, and remembers a bounded number", () => {
  let now = 0;
  const limiter = new RateLimiter(1000, () => now, Infinity, 100);
  for (let id = 0; id < 500; id++) limiter.allow("x", id);
  assert.equal(limiter.remembered, 100);
  limiter.allow("x", 0); // suppressed: kept to report it
  now = 1000;
  limiter.allow("y", 1); // prunes
  assert.equal(limiter.remembered, 2); // 0 (with a count) and the new one
  assert.deepEqual(limiter.allow("x", 0), {
    suppressed: 1,
    connectionSuppressed: 1,
  });
  now = 3000;
  limiter.allow("y", 2);
  assert.equal(limiter.remembered, 1);
});

Deno.test("limitedLog() writes one line per kind per connection, the next one with the counts suppressed", async () => {
  let now = 0;
  const limiter = new RateLimiter(1000, () => now);
  const log = getLogger(["mist", "test"]);
  const { records } = await captureLogs(() => {
    for (let i = 0; i < 5; i++) {
      limitedLog(log, "info", "drop", "Dropped {n}", { n: i }, 7, limiter);
    }
    limitedLog(log, "info", "drop", "Dropped {n}", { n: 9 }, 8, limiter);
    limitedLog(log, "warning", "other", "Other", {}, undefined, limiter);
    now = 1000;
    limitedLog(log, "info", "drop", "Dropped {n}", { n: 5 }, 7, limiter);
    for (let i = 0; i < 3; i++) {
      limitedLog(log, "debug", "body", "Body", {}, undefined, limiter);
    }
    now = 2000;
    limitedLog(log, "debug", "body", "Body", {}, undefined, limiter);
    return Promise.resolve();
  });
  assert.deepEqual(
    records.map((r) => [
      r.level,
      r.properties.n,
      r.properties.suppressed,
      r.properties.connectionSuppressed,
    ]),
    [
      ["info", 0, 0, 0],
      ["info", 9, 4, 0],
      ["warning", undefined, 0, 0],
      ["info", 5, 0, 4],
      ["debug", undefined, 0, 0],
      ["debug", undefined, 2, 2],
    ],
  );
  const text = (i: number) => String(records[i]!.message.join(""));
  assert.match(text(3), /4 more like it from this connection/);
  assert.match(text(5), /and 2 more like it, not logged/);
});

Deno.test("limitedLog() counts nothing while its level is off", async () => {
  const limiter = new RateLimiter(1000, () => 0);
  const off = getLogger(["elsewhere"]); // not captured: no sink, level off
  await captureLogs(() => {
    limitedLog(off, "debug", "x", "X", {}, 1, limiter);
    return Promise.resolve();
  });
  assert.deepEqual(limiter.allow("x", 1), ZERO); // the call above did not take it
});
