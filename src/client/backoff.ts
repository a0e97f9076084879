/**
 * When to try again after a lost connection: capped exponential backoff with
 * jitter. Pure: the random source is a parameter.
 *
 * @module
 */

import { backoffDelay } from "../_util/backoff.ts";

/**
 * How a client reconnects after losing its connection: capped exponential
 * backoff with jitter. Every field is optional.
 *
 * @example Give up after about a minute
 * ```ts
 * import assert from "node:assert/strict";
 * import { connect, type ReconnectOptions, serve } from "@mist/mist";
 *
 * const reconnect: ReconnectOptions = {
 *   initialDelayMs: 200,
 *   maxDelayMs: 5_000,
 *   maxAttempts: 15,
 * };
 * // The longest waits before its attempts: 200, 400, 800, 1600, 3200, then 5000 ms.
 * const waits = Array.from({ length: 15 }, (_, i) => Math.min(5_000, 200 * 2 ** i));
 * assert.equal(waits.reduce((a, b) => a + b), 56_200); // about a minute
 *
 * await using server = await serve({ listeners: ["tcp://127.0.0.1:0"] });
 * await using client = await connect(server.addresses[0]!, { reconnect });
 * assert.equal(client.state, "connected");
 * ```
 */
export interface ReconnectOptions {
  /** The wait before the first attempt, in milliseconds (default 100). */
  initialDelayMs?: number;
  /** The longest wait between attempts, in milliseconds (default 5000). */
  maxDelayMs?: number;
  /**
   * The share of each wait that is random, from 0 (none) to 1 (default 0.5):
   * a wait of `d` becomes a random time between `d × (1 − jitter)` and `d`,
   * so that clients cut off together do not all come back at once.
   */
  jitter?: number;
  /** How many attempts before giving up and closing the client (default: no limit). */
  maxAttempts?: number;
}

/**
 * The reconnect policy when none is given: from 100 ms, doubling up to 5 s,
 * up to half of each wait random, no limit on attempts.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_RECONNECT } from "@mist/mist";
 * assert.deepEqual(DEFAULT_RECONNECT, {
 *   initialDelayMs: 100,
 *   maxDelayMs: 5000,
 *   jitter: 0.5,
 *   maxAttempts: Infinity,
 * });
 * ```
 */
export const DEFAULT_RECONNECT: Readonly<Required<ReconnectOptions>> = Object
  .freeze({
    initialDelayMs: 100,
    maxDelayMs: 5000,
    jitter: 0.5,
    maxAttempts: Infinity,
  });

/**
 * Completes and checks a reconnect policy.
 *
 * @param options `true` or omitted for the defaults, `false` for none, or the fields to change
 * @returns the policy, or `undefined` when the client must not reconnect
 * @throws {RangeError} for a delay that is negative or not finite, a jitter
 *   outside 0..1, or a number of attempts that is not a positive integer or `Infinity`
 */
export function reconnectPolicy(
  options: boolean | ReconnectOptions | undefined,
): Readonly<Required<ReconnectOptions>> | undefined {
  if (options === false) return undefined;
  const policy = {
    ...DEFAULT_RECONNECT,
    ...(options === true || options === undefined ? {} : options),
  };
  for (const name of ["initialDelayMs", "maxDelayMs"] as const) {
    if (!Number.isFinite(policy[name]) || policy[name] < 0) {
      throw new RangeError(
        `reconnect.${name} must be a finite number >= 0, got ${policy[name]}`,
      );
    }
  }
  if (!(policy.jitter >= 0 && policy.jitter <= 1)) {
    throw new RangeError(
      `reconnect.jitter must be between 0 and 1, got ${policy.jitter}`,
    );
  }
  if (
    policy.maxAttempts !== Infinity &&
    !(Number.isSafeInteger(policy.maxAttempts) && policy.maxAttempts >= 1)
  ) {
    throw new RangeError(
      `reconnect.maxAttempts must be a positive integer or Infinity, got ${policy.maxAttempts}`,
    );
  }
  return Object.freeze(policy);
}

/**
 * The wait before a reconnect attempt: `initialDelayMs × 2^(attempt − 1)`, capped
 * at `maxDelayMs`, less a random share of at most `jitter` of it.
 *
 * @param attempt the attempt about to be made, from 1
 * @param policy the reconnect policy
 * @param random a source of numbers in [0, 1)
 * @returns the wait in milliseconds
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_RECONNECT, reconnectDelay } from "./backoff.ts";
 * const noJitter = () => 0;
 * assert.equal(reconnectDelay(1, DEFAULT_RECONNECT, noJitter), 100);
 * assert.equal(reconnectDelay(4, DEFAULT_RECONNECT, noJitter), 800);
 * assert.equal(reconnectDelay(20, DEFAULT_RECONNECT, noJitter), 5000); // the cap
 * // The most jitter takes away: half of it, with the default jitter of 0.5.
 * assert.equal(reconnectDelay(20, DEFAULT_RECONNECT, () => 0.999), 2502.5);
 * ```
 */
export function reconnectDelay(
  attempt: number,
  policy: Readonly<Required<ReconnectOptions>>,
  random: () => number = Math.random,
): number {
  return backoffDelay(Math.max(attempt, 1) - 1, {
    initialMs: policy.initialDelayMs,
    maxMs: policy.maxDelayMs,
    jitter: policy.jitter,
    random,
  });
}
