/**
 * The one way tests wait: for a promise ({@linkcode within}), for a condition
 * ({@linkcode eventually}), or for an async iterator ({@linkcode next},
 * {@linkcode until}), each bounded by `AbortSignal.timeout` so that a bug
 * fails the test instead of hanging it. The bounds are generous: never a
 * timed assertion.
 *
 * @module
 */

import assert from "node:assert/strict";
import { abortable, sleep } from "../_util/deadline.ts";

/**
 * Waits for a promise, failing the test after `ms` instead of hanging.
 *
 * @param promise what to wait for
 * @param what names it in the failure
 * @param ms the most time to wait
 * @returns the promise's value
 * @throws {assert.AssertionError} when it did not settle in time; the promise's own error
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { within } from "./eventually.ts";
 * assert.equal(await within(Promise.resolve(1), "one"), 1);
 * ```
 */
export async function within<T>(
  promise: Promise<T>,
  what: string,
  ms = 10_000,
): Promise<T> {
  const signal = AbortSignal.timeout(ms);
  try {
    return await abortable(promise, signal);
  } catch (err) {
    if (signal.aborted && err === signal.reason) {
      assert.fail(`${what}: nothing within ${ms} ms`);
    }
    throw err;
  }
}

/**
 * Wakes whoever waits for a change: the owner of an inbox or a log calls
 * {@linkcode Changes.notify} whenever it adds something, and
 * {@linkcode eventually} re-checks its condition then instead of polling.
 */
export class Changes {
  #waiters: (() => void)[] = [];

  /** Wakes every waiter. */
  notify(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }

  /**
   * The next change.
   *
   * @returns a promise that resolves on the next {@linkcode Changes.notify}
   */
  next(): Promise<void> {
    return new Promise((resolve) => this.#waiters.push(resolve));
  }
}

/** How {@linkcode eventually} waits. */
export interface EventuallyOptions {
  /** How long before giving up (generous: only to avoid hangs). */
  timeoutMs?: number;
  /** Re-check on each change instead of every few milliseconds. */
  changes?: Changes;
}

/**
 * Waits until a condition holds: re-checked on each change when `changes` is
 * given, otherwise every few milliseconds. The condition may be async (a
 * query), in which case each check is awaited before the next.
 *
 * @param condition what must become true
 * @param what what is awaited, for the failure message
 * @param options a timeout in milliseconds (default 15 s), or {@linkcode EventuallyOptions}
 * @throws {assert.AssertionError} `never happened: WHAT` when time ran out
 *
 * @example
 * ```ts
 * import { eventually } from "./eventually.ts";
 * import assert from "node:assert/strict";
 * let done = false;
 * setTimeout(() => done = true, 1);
 * await eventually(() => done, "the timer");
 * assert.equal(done, true);
 * ```
 */
export async function eventually(
  condition: () => boolean | Promise<boolean>,
  what: string,
  options: number | EventuallyOptions = {},
): Promise<void> {
  if (await condition()) return;
  const { timeoutMs = 15_000, changes } = typeof options === "number"
    ? { timeoutMs: options }
    : options;
  const signal = AbortSignal.timeout(timeoutMs);
  while (true) {
    // Listening before the check: a change while an async check is awaited
    // must still wake the wait.
    const changed = changes?.next();
    if (await condition()) return;
    if (signal.aborted) assert.fail(`never happened: ${what}`);
    if (changed === undefined) await sleep(10, signal);
    else await abortable(changed, signal).catch(() => {});
  }
}

/**
 * The next value of an async iterator, failing after `ms`.
 *
 * @param iterator the iterator
 * @param what names it in the failure
 * @param ms the most time to wait
 * @returns the value
 * @throws {assert.AssertionError} when the iterator ended or nothing came in time
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { next } from "./eventually.ts";
 * async function* one() { yield 1; }
 * assert.equal(await next(one()), 1);
 * ```
 */
export async function next<T>(
  iterator: AsyncIterator<T>,
  what = "the next item",
  ms = 10_000,
): Promise<T> {
  const result = await within(iterator.next(), what, ms);
  assert.equal(result.done, false, `${what}: the iterator ended`);
  return result.value as T;
}

/**
 * Reads an iterator until an item passes the test, failing after `ms`.
 *
 * @param iterator the iterator
 * @param test which item is awaited
 * @param what names it in the failure
 * @param ms the most time to wait, for all the items together
 * @returns the item, and the ones skipped before it
 * @throws {assert.AssertionError} when no item passed in time
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { until } from "./eventually.ts";
 * async function* count() { yield 1; yield 2; }
 * const { item } = await until(count(), (n) => n === 2, "two");
 * assert.equal(item, 2);
 * ```
 */
export async function until<T>(
  iterator: AsyncIterator<T>,
  test: (item: T) => boolean,
  what: string,
  ms = 10_000,
): Promise<{ item: T; skipped: T[] }> {
  const deadline = Date.now() + ms;
  const skipped: T[] = [];
  for (let i = 0; i < 10_000; i++) {
    const item = await next(
      iterator,
      what,
      Math.max(1, deadline - Date.now()),
    );
    if (test(item)) return { item, skipped };
    skipped.push(item);
  }
  assert.fail(`${what}: not among 10000 items`);
}
