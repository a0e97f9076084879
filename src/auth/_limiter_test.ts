import assert from "node:assert/strict";
import { Limiter } from "./_limiter.ts";

Deno.test("`acquire()` grants at most `slots` holders, in order", async () => {
  const limiter = new Limiter(2);
  const a = await limiter.acquire();
  const b = await limiter.acquire();
  const order: string[] = [];
  const c = limiter.acquire().then((release) => (order.push("c"), release));
  const d = limiter.acquire().then((release) => (order.push("d"), release));
  await Promise.resolve();
  assert.equal(limiter.waiting, 2);
  assert.deepEqual(order, []);
  a();
  a(); // a second call frees nothing more
  (await c)();
  b();
  (await d)();
  assert.deepEqual(order, ["c", "d"]);
  assert.equal(limiter.waiting, 0);
});

Deno.test("`acquire()` gives up when its signal aborts, and leaves the queue", async () => {
  const limiter = new Limiter(1);
  const held = await limiter.acquire();
  const controller = new AbortController();
  const waiting = limiter.acquire(controller.signal);
  const next = limiter.acquire();
  controller.abort(new Error("too late"));
  await assert.rejects(waiting, /too late/);
  assert.equal(limiter.waiting, 1);
  held();
  (await next)(); // the slot skipped the waiter that gave up
  await assert.rejects(limiter.acquire(controller.signal), /too late/);
});

Deno.test("`rejectWaiting()` fails every waiter and keeps the slots held", async () => {
  const limiter = new Limiter(1);
  const held = await limiter.acquire();
  const controller = new AbortController();
  const a = limiter.acquire(controller.signal);
  const b = limiter.acquire();
  limiter.rejectWaiting(new Error("gone"));
  await assert.rejects(a, /gone/);
  await assert.rejects(b, /gone/);
  assert.equal(limiter.waiting, 0);
  controller.abort(); // a late abort changes nothing
  assert.equal(limiter.free, 0);
  held();
  assert.equal(limiter.free, 1);
});

Deno.test("`new Limiter()` refuses a bad slot count", () => {
  for (const slots of [0, -1, 1.5, NaN]) {
    assert.throws(() => new Limiter(slots), RangeError);
  }
});
