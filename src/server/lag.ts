/**
 * Event-loop lag, measured by a low-frequency timer that keeps no process
 * alive: how late a callback runs behind when it was due.
 *
 * @module
 */

/** How often the lag is measured, by default: every second. */
export const LAG_INTERVAL_MS = 1000;

/**
 * Measures how late an unref'd interval timer fires.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { LagMonitor } from "./lag.ts";
 * const lag = new LagMonitor(10);
 * lag.start();
 * await new Promise((resolve) => setTimeout(resolve, 30));
 * lag.stop();
 * assert.ok(lag.seconds >= 0);
 * ```
 */
export class LagMonitor {
  /** Milliseconds between measurements. */
  readonly intervalMs: number;
  /** The last lag measured, in seconds (0 before the first). */
  seconds = 0;
  /** The largest lag measured since start, in seconds. */
  maxSeconds = 0;
  #timer: ReturnType<typeof setInterval> | undefined;
  #last = 0;

  /**
   * @param intervalMs milliseconds between measurements (default {@linkcode LAG_INTERVAL_MS})
   */
  constructor(intervalMs: number = LAG_INTERVAL_MS) {
    this.intervalMs = intervalMs;
  }

  /** Starts measuring. Idempotent. */
  start(): void {
    if (this.#timer !== undefined) return;
    this.#last = performance.now();
    const timer = setInterval(() => {
      const now = performance.now();
      this.seconds = Math.max(0, now - this.#last - this.intervalMs) / 1000;
      this.maxSeconds = Math.max(this.maxSeconds, this.seconds);
      this.#last = now;
    }, this.intervalMs);
    Deno.unrefTimer(timer);
    this.#timer = timer;
  }

  /** Stops measuring. Idempotent. */
  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
