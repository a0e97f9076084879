import assert from "node:assert/strict";
import { MistError } from "../protocol/errors.ts";
import {
  DEFAULT_BUDGET,
  SubscriptionBudget,
  subscriptionBytes,
} from "./budget.ts";

Deno.test("subscriptionBytes() counts the UTF-8 bytes of each tag", () => {
  assert.equal(subscriptionBytes([]), 0);
  assert.equal(subscriptionBytes(["a", "bc"]), 3);
  assert.equal(subscriptionBytes(["é", "日本"]), 2 + 6);
  assert.equal(subscriptionBytes(["😀"]), 4);
});

Deno.test("SubscriptionBudget refuses past a connection's bytes, then past the server's count and bytes", () => {
  const budget = new SubscriptionBudget<object>({
    maxSubscriptionBytes: 10,
    maxTotalSubscriptions: 3,
    maxTotalSubscriptionBytes: 25,
  });
  const a = {}, b = {}, c = {};
  budget.charge(a, 6);
  assert.throws(
    () => budget.charge(a, 5),
    (err: unknown) =>
      err instanceof MistError && err.code === "subscriptions_too_large" &&
      err.message ===
        "subscriptions too large: 6 + 5 bytes of tags > 10 per connection",
  );
  budget.charge(a, 4);
  budget.charge(b, 10);
  assert.deepEqual([budget.count, budget.bytes], [3, 20]);
  // The server's count.
  assert.throws(
    () => budget.charge(c, 1),
    (err: unknown) =>
      err instanceof MistError && err.code === "subscription_budget" &&
      err.message === "too many subscriptions: server budget reached",
  );
  budget.refund(a, 4);
  // The server's bytes: 16 held, 10 more would be 26.
  assert.throws(() => budget.charge(c, 10), /server budget reached/);
  budget.charge(c, 9);
  assert.deepEqual(budget.held(a), { count: 1, bytes: 6 });
  assert.deepEqual(budget.held(c), { count: 1, bytes: 9 });
  assert.deepEqual([budget.count, budget.bytes], [3, 25]);
  // A refused charge counted nothing.
  budget.release(b);
  budget.release(b); // twice is once
  assert.deepEqual([budget.count, budget.bytes], [2, 15]);
  budget.refund(a, 6);
  budget.refund(a, 6); // nothing left to refund
  budget.release(c);
  assert.deepEqual([budget.count, budget.bytes], [0, 0]);
  assert.deepEqual(budget.held(a), { count: 0, bytes: 0 });
});

Deno.test("SubscriptionBudget keeps the defaults for unset limits and checks the set ones", () => {
  assert.deepEqual(new SubscriptionBudget().limits, DEFAULT_BUDGET);
  assert.equal(
    new SubscriptionBudget({ maxTotalSubscriptions: 7 }).limits
      .maxSubscriptionBytes,
    4 * 1024 * 1024,
  );
  assert.throws(
    () => new SubscriptionBudget({ maxSubscriptionBytes: 0 }),
    RangeError,
  );
});
