/**
 * Deadlines of many connections on one timer: arming one is a map entry, not
 * a timer of its own, so that a request costs no `setTimeout`. The timer runs
 * only while some deadline is armed, and closes a connection between its
 * deadline and a quarter of its timeout (at most a second) later.
 *
 * @module
 */

/**
 * Closes what is not done by its deadline.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Deadlines } from "./deadlines.ts";
 * const deadlines = new Deadlines();
 * let closed = false;
 * deadlines.arm({ close: () => closed = true }, 20);
 * await new Promise((resolve) => setTimeout(resolve, 60));
 * assert.ok(closed);
 * deadlines.close();
 * ```
 */
export class Deadlines {
  readonly #at = new Map<{ close(): void }, number>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #tickMs = 1000;

  /**
   * Closes `what` unless {@linkcode Deadlines.clear} is called within
   * `timeoutMs`; arming it again moves its deadline.
   *
   * @param what a connection
   * @param timeoutMs how long it has; 0 or less: no deadline
   */
  arm(what: { close(): void }, timeoutMs: number): void {
    if (!(timeoutMs > 0)) {
      this.#at.delete(what);
      return;
    }
    this.#at.set(what, performance.now() + timeoutMs);
    const tick = Math.min(1000, Math.max(5, timeoutMs / 4));
    if (this.#timer !== undefined && tick >= this.#tickMs) return;
    clearTimeout(this.#timer);
    this.#tickMs = tick;
    this.#timer = setTimeout(() => this.#sweep(), tick);
  }

  /**
   * Forgets the deadline of `what`.
   *
   * @param what a connection
   */
  clear(what: { close(): void }): void {
    this.#at.delete(what);
  }

  #sweep(): void {
    this.#timer = undefined;
    const now = performance.now();
    for (const [what, at] of this.#at) {
      if (at > now) continue;
      this.#at.delete(what);
      try {
        what.close();
      } catch {
        // Closed already.
      }
    }
    if (this.#at.size > 0) {
      this.#timer = setTimeout(() => this.#sweep(), this.#tickMs);
    } else {
      this.#tickMs = 1000;
    }
  }

  /** Stops the timer; armed deadlines are forgotten. */
  close(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#at.clear();
  }
}
