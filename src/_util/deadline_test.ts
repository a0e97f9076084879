import assert from "node:assert/strict";
import { abortable, settlesWithin, sleep } from "./deadline.ts";

const never = new Promise<never>(() => {});

Deno.test("`abortable()` rejects at once with the reason of a signal already aborted", async () => {
  const reason = new Error("gone already");
  await assert.rejects(
    abortable(Promise.resolve(1), AbortSignal.abort(reason)),
    (err) => err === reason,
  );
});

Deno.test("`abortable()` resolves with the promise's value when it settles first", async () => {
  const controller = new AbortController();
  assert.equal(await abortable(Promise.resolve(7), controller.signal), 7);
});

Deno.test("`abortable()` rejects with the promise's error when it fails first", async () => {
  const controller = new AbortController();
  await assert.rejects(
    abortable(Promise.reject(new Error("boom")), controller.signal),
    /boom/,
  );
});

Deno.test("`abortable()` rejects with the signal's reason when it aborts first", async () => {
  const controller = new AbortController();
  const waiting = abortable(never, controller.signal);
  const reason = new Error("stop");
  controller.abort(reason);
  await assert.rejects(waiting, (err) => err === reason);
});

Deno.test("`abortable()` stops listening to the signal once the promise settles", async () => {
  const controller = new AbortController();
  let added = 0;
  let removed = 0;
  const signal = controller.signal;
  const add = signal.addEventListener.bind(signal);
  const remove = signal.removeEventListener.bind(signal);
  signal.addEventListener = ((...args: Parameters<typeof add>) => {
    added++;
    add(...args);
  }) as typeof add;
  signal.removeEventListener = ((...args: Parameters<typeof remove>) => {
    removed++;
    remove(...args);
  }) as typeof remove;
  await abortable(Promise.resolve(), signal);
  await Promise.resolve();
  assert.deepEqual([added, removed], [1, 1]);
});

Deno.test("`settlesWithin()` answers whether a promise settles in time", async (t) => {
  const table: [string, () => Promise<unknown>, number, boolean][] = [
    ["resolved", () => Promise.resolve(), 50, true],
    ["rejected", () => Promise.reject(new Error("no")), 50, true],
    ["settling soon", () => new Promise((r) => setTimeout(r, 1)), 5_000, true],
    ["never settling", () => never, 1, false],
  ];
  for (const [name, promise, ms, expected] of table) {
    await t.step(`a promise ${name} within ${ms} ms: ${expected}`, async () => {
      assert.equal(await settlesWithin(promise(), ms), expected);
    });
  }
});

Deno.test("`settlesWithin()` leaves no timer behind when the promise wins", async () => {
  // The sanitizer fails this test if the 60 s timer outlives it.
  assert.equal(await settlesWithin(Promise.resolve(), 60_000), true);
});

Deno.test("`sleep()` returns at once for a signal already aborted", async () => {
  // Bounded: were the signal ignored, the sleep would outlast the check.
  assert.equal(
    await settlesWithin(sleep(60_000, AbortSignal.abort()), 5_000),
    true,
  );
});

Deno.test("`sleep()` resolves, never rejects, when its signal aborts mid-sleep", async () => {
  const controller = new AbortController();
  const sleeping = sleep(60_000, controller.signal);
  controller.abort(new Error("wake up"));
  await sleeping;
});

Deno.test("`sleep()` without a signal ends after its time", async () => {
  assert.equal(await settlesWithin(sleep(1), 5_000), true);
});

Deno.test("`sleep()` does not end before its time", async () => {
  const controller = new AbortController();
  const sleeping = sleep(60_000, controller.signal);
  assert.equal(await settlesWithin(sleeping, 1), false);
  controller.abort();
  await sleeping;
});
