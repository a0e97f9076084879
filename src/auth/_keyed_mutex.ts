/**
 * An async mutex per key: operations on one key run one at a time, in the
 * order they asked, while operations on different keys run freely.
 *
 * @module
 */

/** Serialises async operations that share a key. */
export class KeyedMutex {
  /** The tail of each key's queue: settles when its last operation is done. */
  readonly #tails = new Map<string, Promise<void>>();

  /**
   * Runs `fn` once every earlier operation on `key` has finished.
   *
   * @param key what the operation touches
   * @param fn the operation
   * @returns what `fn` returns
   * @throws whatever `fn` throws (the next operation on the key runs anyway)
   */
  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(key);
    let release!: () => void;
    const done = new Promise<void>((resolve) => release = resolve);
    const tail = previous === undefined ? done : previous.then(() => done);
    this.#tails.set(key, tail);
    try {
      if (previous !== undefined) await previous;
      return await fn();
    } finally {
      release();
      // The last in line removes the key, so idle keys cost nothing.
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    }
  }

  /**
   * Waits until every operation queued so far has finished.
   *
   * @returns when they have
   */
  async idle(): Promise<void> {
    while (this.#tails.size > 0) {
      await Promise.all(this.#tails.values());
    }
  }
}
