/**
 * The server's one timer for connection deadlines: `auth-timeout` (with
 * authentication on, a connection that presented no token must send a first
 * command in time) and `idle-timeout` (a connection that sent nothing and was
 * sent nothing for that long is closed). One timer for the whole server, not
 * one per connection: each tick compares every connection's activity counter
 * with the one it saw before, so the hot path only increments a number.
 *
 * @module
 */

import { getLogger } from "npm:@logtape/logtape@^2.4.2";

const log = getLogger(["mist", "server"]);

/** What the sweep looks at on a connection. */
export interface Swept {
  /** A number unique within the process, for logs. */
  readonly id: number;
  /** Where it comes from, for logs. */
  readonly info: { readonly listener: string };
  /** Whether the transport presented a token when it connected. */
  readonly presented: boolean;
  /** How many requests it has made. */
  readonly requests: number;
  /** Grows with every frame received and every message queued to it. */
  readonly activity: number;
  /** Closes it. */
  close(): void;
}

/** The deadlines a {@linkcode Sweep} enforces, in milliseconds (`Infinity`: off). */
export interface Deadlines {
  /** For the first command of a connection that presented no token; `Infinity` without authentication. */
  readonly authTimeoutMs: number;
  /** For a connection that sent nothing and was sent nothing. */
  readonly idleTimeoutMs: number;
}

/** The shortest and longest time between two ticks, in milliseconds. */
const TICK_MS = { min: 25, max: 1000 };

interface Seen {
  readonly opened: number;
  activity: number;
  since: number;
}

/** The connections a server watches for its deadlines, and the timer. */
export class Sweep {
  readonly #deadlines: Deadlines;
  readonly #seen = new Map<Swept, Seen>();
  readonly #tickMs: number;
  #timer: ReturnType<typeof setInterval> | undefined;

  /** @param deadlines what to enforce; with both off the sweep never runs a timer */
  constructor(deadlines: Deadlines) {
    this.#deadlines = deadlines;
    const shortest = Math.min(deadlines.authTimeoutMs, deadlines.idleTimeoutMs);
    // A deadline is met within a quarter of it late, at most a second.
    this.#tickMs = Math.min(
      TICK_MS.max,
      Math.max(TICK_MS.min, Math.floor(shortest / 4)),
    );
  }

  /** Whether any deadline is on. */
  get enabled(): boolean {
    return Number.isFinite(
      Math.min(this.#deadlines.authTimeoutMs, this.#deadlines.idleTimeoutMs),
    );
  }

  /**
   * Watches a connection from now on.
   *
   * @param connection a connection of a listener (not an internal one)
   * @param now the time, in milliseconds
   */
  track(connection: Swept, now: number = Date.now()): void {
    if (!this.enabled) return;
    this.#seen.set(connection, {
      opened: now,
      activity: connection.activity,
      since: now,
    });
  }

  /** Forgets a closed connection. */
  forget(connection: Swept): void {
    this.#seen.delete(connection);
  }

  /** Starts the timer (when a deadline is on); it never keeps the process alive. */
  start(): void {
    if (!this.enabled || this.#timer !== undefined) return;
    const timer = setInterval(() => this.tick(), this.#tickMs);
    Deno.unrefTimer(timer);
    this.#timer = timer;
  }

  /** Stops the timer. */
  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /**
   * Closes every connection past a deadline; what the timer runs.
   *
   * @param now the time, in milliseconds
   * @returns how many it closed
   */
  tick(now: number = Date.now()): number {
    const { authTimeoutMs, idleTimeoutMs } = this.#deadlines;
    const late: [Swept, string][] = [];
    for (const [connection, seen] of this.#seen) {
      if (connection.activity !== seen.activity) {
        seen.activity = connection.activity;
        seen.since = now;
      }
      if (
        !connection.presented && connection.requests === 0 &&
        now - seen.opened >= authTimeoutMs
      ) {
        late.push([connection, `no command within ${authTimeoutMs} ms`]);
      } else if (now - seen.since >= idleTimeoutMs) {
        late.push([connection, `idle for ${idleTimeoutMs} ms`]);
      }
    }
    for (const [connection, why] of late) {
      this.#seen.delete(connection);
      log.debug("{listener} connection {id} closed: {why}", {
        listener: connection.info.listener,
        id: connection.id,
        why,
      });
      connection.close();
    }
    return late.length;
  }
}
