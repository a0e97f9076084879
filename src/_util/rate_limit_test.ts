import assert from "node:assert/strict";
import { getLogger } from "npm:@logtape/logtape@^2.4.2";
import { captureLogs } from "../../tests/_logs.ts";
import { limitedLog, RateLimiter } from "./rate_limit.ts";

Deno.test("RateLimiter allows one event per kind per interval and counts the rest", () => {
  let now = 0;
  const limiter = new RateLimiter(10_000, () => now);
  assert.equal(limiter.allow("a"), 0);
  assert.equal(limiter.allow("b"), 0); // kinds are limited apart
  for (let i = 0; i < 49; i++) assert.equal(limiter.allow("a"), undefined);
  now = 9_999;
  assert.equal(limiter.allow("a"), undefined);
  assert.equal(limiter.suppressed("a"), 50);
  assert.equal(limiter.suppressed("never"), 0);
  now = 10_000;
  assert.equal(limiter.allow("a"), 50);
  assert.equal(limiter.allow("a"), undefined);
  now = 30_000;
  assert.equal(limiter.allow("a"), 1);
  assert.equal(limiter.allow("b"), 0);
  limiter.reset();
  assert.equal(limiter.allow("a"), 0);
});

Deno.test("limitedLog() writes one line per kind, the next one with the count suppressed", async () => {
  let now = 0;
  const limiter = new RateLimiter(1000, () => now);
  const log = getLogger(["mist", "test"]);
  const { records } = await captureLogs(() => {
    for (let i = 0; i < 5; i++) {
      limitedLog(log, "info", "drop", "Dropped {n}", { n: i }, limiter);
    }
    limitedLog(log, "warning", "other", "Other", {}, limiter);
    now = 1000;
    limitedLog(log, "info", "drop", "Dropped {n}", { n: 5 }, limiter);
    return Promise.resolve();
  });
  assert.deepEqual(
    records.map((r) => [r.level, r.properties.n, r.properties.suppressed]),
    [["info", 0, 0], ["warning", undefined, 0], ["info", 5, 4]],
  );
  assert.match(String(records[2]!.message.join("")), /4 more like it/);
});

Deno.test("limitedLog() counts nothing while its level is off", async () => {
  const limiter = new RateLimiter(1000, () => 0);
  const off = getLogger(["elsewhere"]); // not captured: no sink, level off
  await captureLogs(() => {
    limitedLog(off, "debug", "x", "X", {}, limiter);
    return Promise.resolve();
  });
  assert.equal(limiter.allow("x"), 0); // the call above did not take it
});
