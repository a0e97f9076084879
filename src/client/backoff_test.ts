import assert from "node:assert/strict";
import {
  DEFAULT_RECONNECT,
  reconnectDelay,
  reconnectPolicy,
} from "./backoff.ts";

Deno.test("reconnectDelay() doubles from the initial delay up to the cap", () => {
  const policy = { ...DEFAULT_RECONNECT, jitter: 0 };
  const delays = [1, 2, 3, 4, 5, 6, 7, 8, 100, 10_000].map((attempt) =>
    reconnectDelay(attempt, policy)
  );
  assert.deepEqual(
    delays,
    [100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000, 5000],
  );
});

Deno.test("reconnectDelay() takes at most the jitter's share off each wait", () => {
  const policy = { ...DEFAULT_RECONNECT, jitter: 0.5 };
  assert.equal(reconnectDelay(3, policy, () => 0), 400);
  assert.equal(reconnectDelay(3, policy, () => 0.5), 300);
  assert.ok(reconnectDelay(3, policy, () => 0.999_999) > 200);
  for (let i = 0; i < 1000; i++) {
    const delay = reconnectDelay(10, policy);
    assert.ok(delay > 2500 && delay <= 5000, `${delay}`);
  }
});

Deno.test("reconnectPolicy() completes the defaults and refuses bad values", async (t) => {
  assert.equal(reconnectPolicy(false), undefined);
  assert.deepEqual(reconnectPolicy(true), DEFAULT_RECONNECT);
  assert.deepEqual(reconnectPolicy(undefined), DEFAULT_RECONNECT);
  assert.deepEqual(reconnectPolicy({ maxAttempts: 3 }), {
    ...DEFAULT_RECONNECT,
    maxAttempts: 3,
  });
  const bad: [string, object, RegExp][] = [
    ["a negative delay", { initialDelayMs: -1 }, /initialDelayMs must be/],
    ["an infinite cap", { maxDelayMs: Infinity }, /maxDelayMs must be/],
    ["a jitter over 1", { jitter: 1.5 }, /jitter must be between 0 and 1/],
    ["a NaN jitter", { jitter: NaN }, /jitter must be between 0 and 1/],
    ["zero attempts", { maxAttempts: 0 }, /maxAttempts must be/],
    ["half an attempt", { maxAttempts: 1.5 }, /maxAttempts must be/],
  ];
  for (const [name, options, message] of bad) {
    await t.step(name, () => {
      assert.throws(() => reconnectPolicy(options), {
        name: "RangeError",
        message,
      });
    });
  }
});
