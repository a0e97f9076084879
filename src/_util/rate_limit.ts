/**
 * Rate-limited log lines: at most one line per kind per interval, the next
 * one saying how many were suppressed meanwhile. What a client can make the
 * server log (its faults, refused tokens, limits it hits, drops) goes through
 * here, so that nobody can fill the logs at line rate.
 *
 * @module
 */

import type { Logger, LogLevel } from "npm:@logtape/logtape@^2.4.2";

/** The interval of the process's log limit: one line per kind per 10 s. */
export const LOG_INTERVAL_MS = 10_000;

/**
 * Allows one event per kind per interval and counts the others.
 *
 * Kinds should come from a fixed set (error codes, event names): each kind
 * seen is remembered.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { RateLimiter } from "./rate_limit.ts";
 * let now = 0;
 * const limiter = new RateLimiter(1000, () => now);
 * assert.equal(limiter.allow("drop"), 0);
 * assert.equal(limiter.allow("drop"), undefined);
 * assert.equal(limiter.allow("drop"), undefined);
 * now = 1000;
 * assert.equal(limiter.allow("drop"), 2); // two were suppressed
 * ```
 */
export class RateLimiter {
  readonly #intervalMs: number;
  readonly #now: () => number;
  readonly #kinds = new Map<string, { since: number; suppressed: number }>();

  /**
   * @param intervalMs the least time between two allowed events of a kind
   * @param now the clock, in milliseconds
   */
  constructor(
    intervalMs: number = LOG_INTERVAL_MS,
    now: () => number = () => performance.now(),
  ) {
    this.#intervalMs = intervalMs;
    this.#now = now;
  }

  /**
   * Asks whether an event of a kind may be reported now.
   *
   * @param kind what happened
   * @returns how many events of this kind were suppressed since the last one
   *   allowed, or `undefined` when this one is suppressed
   */
  allow(kind: string): number | undefined {
    const now = this.#now();
    const state = this.#kinds.get(kind);
    if (state === undefined) {
      this.#kinds.set(kind, { since: now, suppressed: 0 });
      return 0;
    }
    if (now - state.since < this.#intervalMs) {
      state.suppressed++;
      return undefined;
    }
    const suppressed = state.suppressed;
    state.since = now;
    state.suppressed = 0;
    return suppressed;
  }

  /**
   * How many events of a kind were suppressed since the last one allowed.
   *
   * @param kind what happened
   * @returns the count, 0 for a kind never seen
   */
  suppressed(kind: string): number {
    return this.#kinds.get(kind)?.suppressed ?? 0;
  }

  /** Forgets every kind (tests). */
  reset(): void {
    this.#kinds.clear();
  }
}

/** The limit of every rate-limited log line of the process. */
export const LOG_LIMIT: RateLimiter = new RateLimiter();

/**
 * Logs a line unless a line of the same kind was logged less than an
 * interval ago. A line after suppressed ones says how many, in its
 * `suppressed` property and its text. Costs one level check when the level
 * is off.
 *
 * @param logger where to log
 * @param level the line's level
 * @param kind what the line is about, from a fixed set
 * @param message the message template
 * @param properties its properties; never a token
 * @param limiter the limit (default: the process's {@linkcode LOG_LIMIT})
 */
export function limitedLog(
  logger: Logger,
  level: LogLevel,
  kind: string,
  message: string,
  properties: Record<string, unknown> = {},
  limiter: RateLimiter = LOG_LIMIT,
): void {
  if (!logger.isEnabledFor(level)) return;
  const suppressed = limiter.allow(kind);
  if (suppressed === undefined) return;
  const text = suppressed > 0
    ? `${message} (and {suppressed} more like it, not logged)`
    : message;
  const props = { ...properties, kind, suppressed };
  switch (level) {
    case "trace":
      return logger.trace(text, props);
    case "debug":
      return logger.debug(text, props);
    case "info":
      return logger.info(text, props);
    case "warning":
      return logger.warn(text, props);
    case "error":
      return logger.error(text, props);
    case "fatal":
      return logger.fatal(text, props);
  }
}
