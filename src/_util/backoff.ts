/**
 * Capped exponential backoff with jitter: the one formula behind every
 * "wait, then try again" of mist (client reconnects, the Redis backplane's
 * relinks). Pure: the random source is a parameter.
 *
 * @module
 */

/** The shape of a backoff: where it starts, where it stops, how random it is. */
export interface BackoffPolicy {
  /** The first wait, in milliseconds. */
  initialMs: number;
  /** The longest wait, in milliseconds. */
  maxMs: number;
  /**
   * The share of each wait that is random, from 0 (none) to 1: a wait of `d`
   * becomes a time between `d × (1 − jitter)` and `d`, so that peers cut off
   * together do not all come back at once.
   */
  jitter: number;
  /** A source of numbers in [0, 1) (default `Math.random`). */
  random?: () => number;
}

/**
 * The wait before a retry: `initialMs × 2^retry`, capped at `maxMs`, less a
 * random share of at most `jitter` of it.
 *
 * @param retry how many retries came before this one (0 for the first)
 * @param policy the backoff's shape
 * @returns the wait in milliseconds (not rounded)
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { backoffDelay } from "./backoff.ts";
 * const policy = { initialMs: 100, maxMs: 5000, jitter: 0.5, random: () => 0 };
 * assert.equal(backoffDelay(0, policy), 100);
 * assert.equal(backoffDelay(3, policy), 800);
 * assert.equal(backoffDelay(50, policy), 5000);
 * assert.equal(backoffDelay(50, { ...policy, random: () => 0.5 }), 3750);
 * ```
 */
export function backoffDelay(retry: number, policy: BackoffPolicy): number {
  // 2^30 already exceeds any sensible cap; stop there to stay finite.
  const exponent = Math.min(Math.max(retry, 0), 30);
  const full = Math.min(policy.maxMs, policy.initialMs * 2 ** exponent);
  return full - full * policy.jitter * (policy.random ?? Math.random)();
}
