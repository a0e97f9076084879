/**
 * Rate-limited log lines: at most one line per kind per connection per
 * interval, and at most {@linkcode LOG_CEILING} lines per kind per interval
 * over the whole process; the next line says how many were suppressed
 * meanwhile. What a client can make the server log (its faults, refused
 * tokens, limits it hits, drops) goes through here, so that neither one
 * client nor ten thousand can fill the logs at line rate, and one noisy
 * client does not hide the others.
 *
 * @module
 */

import type { Logger, LogLevel } from "npm:@logtape/logtape@^2.4.2";

/** The interval of the process's log limit: 10 s. */
export const LOG_INTERVAL_MS = 10_000;

/** The most lines of one kind per interval, over every connection. */
export const LOG_CEILING = 20;

/**
 * The most connections remembered at once (those that logged within the
 * last interval or two); past it, only the ceiling limits a connection.
 */
export const LOG_CONNECTIONS = 10_000;

/** What {@linkcode RateLimiter.allow} says of an event allowed. */
export interface Allowed {
  /**
   * Events of this kind suppressed over every connection since the last
   * line of this kind.
   */
  suppressed: number;
  /**
   * Events of this kind suppressed on this connection since its last line
   * of this kind (as many as `suppressed` without a connection).
   */
  connectionSuppressed: number;
}

/** One kind over the process. */
interface KindState {
  /** When the ceiling's interval began. */
  start: number;
  /** Lines allowed since `start`. */
  lines: number;
  /** Suppressed since the last line of this kind. */
  suppressed: number;
  /** Suppressed since start or reset (tests, counters). */
  ever: number;
}

/** One kind on one connection, while it logs. */
interface ConnectionState {
  /** When its last line was allowed. */
  since: number;
  suppressed: number;
}

/**
 * Allows one event per kind per connection per interval, and at most a
 * ceiling of events per kind per interval in all; counts the others.
 *
 * Kinds should come from a fixed set (error codes, event names): each kind
 * seen is remembered. A connection costs nothing until it has an event
 * allowed; it is forgotten an interval or two after its last one. Events
 * without a connection (HTTP requests) share one allowance per kind.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { RateLimiter } from "./rate_limit.ts";
 * let now = 0;
 * const limiter = new RateLimiter(1000, () => now);
 * assert.deepEqual(limiter.allow("drop", 1), { suppressed: 0, connectionSuppressed: 0 });
 * assert.equal(limiter.allow("drop", 1), undefined);
 * assert.equal(limiter.allow("drop", 1), undefined);
 * assert.deepEqual(limiter.allow("drop", 2), { suppressed: 2, connectionSuppressed: 0 });
 * now = 1000;
 * assert.deepEqual(limiter.allow("drop", 1), { suppressed: 0, connectionSuppressed: 2 });
 * ```
 */
export class RateLimiter {
  readonly #intervalMs: number;
  readonly #now: () => number;
  readonly #ceiling: number;
  readonly #most: number;
  readonly #kinds = new Map<string, KindState>();
  /** By kind and connection. */
  readonly #connections = new Map<string, ConnectionState>();
  #prunedAt = -Infinity;

  /**
   * @param intervalMs the least time between two allowed events of a kind
   *   on one connection, and the interval of the ceiling
   * @param now the clock, in milliseconds
   * @param ceiling the most events of a kind allowed per interval in all
   * @param connections the most connections remembered at once
   */
  constructor(
    intervalMs: number = LOG_INTERVAL_MS,
    now: () => number = () => performance.now(),
    ceiling: number = LOG_CEILING,
    connections: number = LOG_CONNECTIONS,
  ) {
    this.#intervalMs = intervalMs;
    this.#now = now;
    this.#ceiling = ceiling;
    this.#most = connections;
  }

  /**
   * Asks whether an event of a kind may be reported now.
   *
   * @param kind what happened
   * @param connection whose event it is (a connection's id), if anyone's
   * @returns how many events were suppressed, or `undefined` when this one is
   */
  allow(kind: string, connection?: number | string): Allowed | undefined {
    const now = this.#now();
    if (now - this.#prunedAt >= this.#intervalMs) this.#prune(now);
    let state = this.#kinds.get(kind);
    if (state === undefined) {
      state = { start: now, lines: 0, suppressed: 0, ever: 0 };
      this.#kinds.set(kind, state);
    } else if (now - state.start >= this.#intervalMs) {
      state.start = now;
      state.lines = 0;
    }
    const key = connection === undefined ? kind : `${kind}\u0000${connection}`;
    const own = this.#connections.get(key);
    if (
      (own !== undefined && now - own.since < this.#intervalMs) ||
      state.lines >= this.#ceiling
    ) {
      if (own !== undefined) own.suppressed++;
      state.suppressed++;
      state.ever++;
      return undefined;
    }
    state.lines++;
    const suppressed = state.suppressed;
    state.suppressed = 0;
    const connectionSuppressed = connection === undefined
      ? suppressed
      : own?.suppressed ?? 0;
    if (own !== undefined) {
      own.since = now;
      own.suppressed = 0;
    } else if (this.#connections.size < this.#most) {
      this.#connections.set(key, { since: now, suppressed: 0 });
    }
    return { suppressed, connectionSuppressed };
  }

  /**
   * Forgets the connections whose next event would be allowed anyway, once
   * they have nothing to report or were quiet for another interval.
   */
  #prune(now: number): void {
    this.#prunedAt = now;
    for (const [key, own] of this.#connections) {
      const age = now - own.since;
      if (
        age >= 2 * this.#intervalMs ||
        (age >= this.#intervalMs && own.suppressed === 0)
      ) {
        this.#connections.delete(key);
      }
    }
  }

  /**
   * How many events of a kind were suppressed since start or reset.
   *
   * @param kind what happened
   * @returns the count, 0 for a kind never seen
   */
  suppressed(kind: string): number {
    return this.#kinds.get(kind)?.ever ?? 0;
  }

  /** How many connections are remembered (tests). */
  get remembered(): number {
    return this.#connections.size;
  }

  /** Forgets every kind and connection (tests). */
  reset(): void {
    this.#kinds.clear();
    this.#connections.clear();
    this.#prunedAt = -Infinity;
  }
}

/** The limit of every rate-limited log line of the process. */
export const LOG_LIMIT: RateLimiter = new RateLimiter();

/**
 * Logs a line unless the connection logged a line of the same kind less than
 * an interval ago, or the process logged its ceiling of them. A line after
 * suppressed ones says how many, in its `suppressed` (every connection's, since
 * the last line of the kind) and `connectionSuppressed` (this connection's,
 * since its last) properties and its text. Costs one level check when the
 * level is off.
 *
 * @param logger where to log
 * @param level the line's level
 * @param kind what the line is about, from a fixed set
 * @param message the message template
 * @param properties its properties; never a token
 * @param connection whose line it is (a connection's id); without one, the
 *   lines of a kind share one allowance
 * @param limiter the limit (default: the process's {@linkcode LOG_LIMIT})
 */
export function limitedLog(
  logger: Logger,
  level: LogLevel,
  kind: string,
  message: string,
  properties: Record<string, unknown> = {},
  connection?: number | string,
  limiter: RateLimiter = LOG_LIMIT,
): void {
  if (!logger.isEnabledFor(level)) return;
  const allowed = limiter.allow(kind, connection);
  if (allowed === undefined) return;
  const { suppressed, connectionSuppressed } = allowed;
  const text = connection === undefined
    ? suppressed > 0
      ? `${message} (and {suppressed} more like it, not logged)`
      : message
    : suppressed > 0 || connectionSuppressed > 0
    ? `${message} (not logged: {connectionSuppressed} more like it from this connection since its last, {suppressed} from all since the last)`
    : message;
  const props = { ...properties, kind, suppressed, connectionSuppressed };
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
