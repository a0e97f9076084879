/**
 * Waiting with a deadline, on the platform's `AbortSignal.timeout` and
 * `AbortSignal.any`: every timeout race of mist, once.
 *
 * @module
 */

/**
 * Waits for a promise, or for a signal to abort, whichever comes first.
 *
 * @param promise what to wait for (left to settle later when abandoned)
 * @param signal what stops the wait, e.g. `AbortSignal.timeout(ms)`
 * @returns the promise's value
 * @throws the signal's reason when it aborts first; the promise's error
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { abortable } from "./deadline.ts";
 * await assert.rejects(
 *   abortable(new Promise(() => {}), AbortSignal.timeout(1)),
 *   { name: "TimeoutError" },
 * );
 * ```
 */
export function abortable<T>(
  promise: Promise<T>,
  signal: AbortSignal,
): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const abort = () => reject(signal.reason);
    signal.addEventListener("abort", abort, { once: true });
    promise.then(resolve, reject).finally(() =>
      signal.removeEventListener("abort", abort)
    );
  });
}

/**
 * A signal that aborts after a time, like `AbortSignal.timeout`, but whose
 * timer can be cleared: `AbortSignal.timeout`'s cannot, and keeps the process
 * alive until it fires even when nobody waits any more.
 *
 * @param ms when it aborts
 * @returns the signal, and `clear` to stop its timer
 */
function clearableTimeout(ms: number): {
  signal: AbortSignal;
  clear: () => void;
} {
  const controller = new AbortController();
  const timer = setTimeout(
    () => controller.abort(new DOMException("timed out", "TimeoutError")),
    ms,
  );
  return { signal: controller.signal, clear: () => clearTimeout(timer) };
}

/**
 * Whether a promise settles (either way) within a time.
 *
 * @param promise what to wait for (left to settle later when late)
 * @param ms the most time to wait
 * @returns `true` when it settled in time
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { settlesWithin } from "./deadline.ts";
 * assert.equal(await settlesWithin(Promise.resolve(), 10), true);
 * assert.equal(await settlesWithin(new Promise(() => {}), 1), false);
 * ```
 */
export async function settlesWithin(
  promise: Promise<unknown>,
  ms: number,
): Promise<boolean> {
  const timeout = clearableTimeout(ms);
  try {
    await abortable(promise.catch(() => {}), timeout.signal);
    return true;
  } catch {
    return false;
  } finally {
    timeout.clear();
  }
}

/**
 * Sleeps, unless a signal aborts first.
 *
 * @param ms how long
 * @param signal what cuts the sleep short (then it resolves early, never rejects)
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sleep } from "./deadline.ts";
 * const started = Date.now();
 * await sleep(5, AbortSignal.abort()); // cut short at once
 * assert.ok(Date.now() - started < 5_000);
 * ```
 */
export async function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  const timeout = clearableTimeout(ms);
  const either = signal === undefined
    ? timeout.signal
    : AbortSignal.any([timeout.signal, signal]);
  try {
    await abortable(new Promise(() => {}), either);
  } catch {
    // Time is up, or the signal aborted: either way the sleep is over.
  } finally {
    timeout.clear();
  }
}
