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
  try {
    await abortable(promise.catch(() => {}), AbortSignal.timeout(ms));
    return true;
  } catch {
    return false;
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
 * import { sleep } from "./deadline.ts";
 * await sleep(1);
 * ```
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  const timeout = AbortSignal.timeout(ms);
  const either = signal === undefined
    ? timeout
    : AbortSignal.any([timeout, signal]);
  if (either.aborted) return Promise.resolve();
  return new Promise((resolve) =>
    either.addEventListener("abort", () => resolve(), { once: true })
  );
}
