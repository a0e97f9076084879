/**
 * A counting semaphore whose waiters can give up: what keeps work from piling
 * up inside a connection pool while its server is away.
 *
 * @module
 */

interface Waiter {
  grant(): void;
  fail(reason: unknown): void;
}

/** Grants at most `slots` holders at a time, first come first served. */
export class Limiter {
  #free: number;
  readonly #waiting: Waiter[] = [];

  /**
   * @param slots how many may hold a slot at once
   * @throws {RangeError} when `slots` is not a positive integer
   */
  constructor(slots: number) {
    if (!Number.isInteger(slots) || slots < 1) {
      throw new RangeError(
        `Limiter slots must be a positive integer, got ${slots}`,
      );
    }
    this.#free = slots;
  }

  /** How many slots are free now. */
  get free(): number {
    return this.#free;
  }

  /** How many wait for a slot now. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /**
   * Waits for a slot.
   *
   * @param signal gives up waiting when aborted (the waiter leaves the queue)
   * @returns a function that frees the slot; calling it again does nothing
   * @throws the signal's reason (as a rejection) when it aborts before a slot is free
   */
  acquire(signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#free > 0) {
      this.#free--;
      return Promise.resolve(this.#releaser());
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        grant: () => {
          signal?.removeEventListener("abort", abort);
          resolve(this.#releaser());
        },
        fail: (reason) => {
          signal?.removeEventListener("abort", abort);
          reject(reason);
        },
      };
      const abort = () => {
        const index = this.#waiting.indexOf(waiter);
        if (index !== -1) this.#waiting.splice(index, 1);
        reject(signal!.reason);
      };
      this.#waiting.push(waiter);
      signal?.addEventListener("abort", abort, { once: true });
    });
  }

  /**
   * Fails everyone waiting now (slots held stay held).
   *
   * @param reason what their {@linkcode Limiter.acquire} rejects with
   */
  rejectWaiting(reason: unknown): void {
    for (const waiter of this.#waiting.splice(0)) waiter.fail(reason);
  }

  #releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#waiting.shift();
      // The slot passes straight to the next waiter, or becomes free.
      if (next === undefined) this.#free++;
      else next.grant();
    };
  }
}
