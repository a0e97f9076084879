/**
 * A bounded queue read as an async iterator: what subscriptions, the client's
 * message stream and its status stream hand to their readers.
 *
 * @module
 */

/** What a full {@linkcode BoundedQueue} does with one more item. */
export type OverflowPolicy = "drop-newest" | "drop-oldest";

/** How a {@linkcode BoundedQueue} is bounded. */
export interface BoundedQueueOptions<T> {
  /** The most the queue holds, in the units of `sizeOf`. */
  readonly capacity: number;
  /** The size of one item (default 1: the capacity counts items). */
  readonly sizeOf?: (item: T) => number;
  /** Which item a full queue loses (default `"drop-newest"`). */
  readonly overflow?: OverflowPolicy;
  /** Called when the reader ends the iteration early (`break`, `return()`). */
  readonly onReturn?: () => void;
  /** Called when items start being dropped, once per run of drops. */
  readonly onOverflow?: () => void;
}

/**
 * A FIFO bounded by size, read with `for await`.
 *
 * A full queue drops an item and counts it ({@linkcode BoundedQueue.dropped}), so an
 * iterator nobody reads holds at most its capacity; an item larger than the
 * whole capacity is still taken when the queue is empty. After
 * {@linkcode BoundedQueue.end} the reader gets what is queued, then the end (or the
 * error it was ended with).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BoundedQueue } from "./bounded_queue.ts";
 * const queue = new BoundedQueue<number>({ capacity: 2 });
 * assert.equal(queue.push(1), true);
 * assert.equal(queue.push(2), true);
 * assert.equal(queue.push(3), false); // full: the newest is dropped
 * assert.equal(queue.dropped, 1);
 * queue.end(new Error("gone"));
 * const read: number[] = [];
 * await assert.rejects(async () => {
 *   for await (const n of queue) read.push(n);
 * }, { message: "gone" }); // after what was queued
 * assert.deepEqual(read, [1, 2]);
 * ```
 */
export class BoundedQueue<T> implements AsyncIterableIterator<T> {
  readonly #capacity: number;
  readonly #sizeOf: (item: T) => number;
  readonly #overflow: OverflowPolicy;
  readonly #onReturn: (() => void) | undefined;
  readonly #onOverflow: (() => void) | undefined;
  #items: T[] = [];
  #head = 0;
  #size = 0;
  #dropped = 0;
  #dropping = false;
  #ended = false;
  #error: unknown = undefined;
  #readers: PromiseWithResolvers<IteratorResult<T>>[] = [];

  /**
   * @param options the bound and the callbacks
   * @throws {RangeError} when the capacity is not a positive number
   */
  constructor(options: BoundedQueueOptions<T>) {
    if (!(options.capacity > 0)) {
      throw new RangeError(
        `capacity must be a positive number, got ${options.capacity}`,
      );
    }
    this.#capacity = options.capacity;
    this.#sizeOf = options.sizeOf ?? (() => 1);
    this.#overflow = options.overflow ?? "drop-newest";
    this.#onReturn = options.onReturn;
    this.#onOverflow = options.onOverflow;
  }

  /** Items dropped because the queue was full. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Items queued now. */
  get length(): number {
    return this.#items.length - this.#head;
  }

  /** Whether the queue was ended (by {@linkcode BoundedQueue.end} or the reader). */
  get ended(): boolean {
    return this.#ended;
  }

  /**
   * Offers an item: handed to a waiting reader, queued, or dropped when full.
   *
   * @param item the item
   * @returns whether the item was kept (`false` when dropped or ended)
   */
  push(item: T): boolean {
    if (this.#ended) return false;
    const reader = this.#readers.shift();
    if (reader !== undefined) {
      reader.resolve({ value: item, done: false });
      return true;
    }
    const size = this.#sizeOf(item);
    if (this.length > 0 && this.#size + size > this.#capacity) {
      if (this.#overflow === "drop-newest") {
        this.#drop();
        return false;
      }
      while (this.length > 0 && this.#size + size > this.#capacity) {
        this.#size -= this.#sizeOf(this.#take());
        this.#drop();
      }
    } else {
      this.#dropping = false;
    }
    this.#items.push(item);
    this.#size += size;
    return true;
  }

  #drop(): void {
    this.#dropped++;
    if (!this.#dropping) {
      this.#dropping = true;
      this.#onOverflow?.();
    }
  }

  #take(): T {
    const item = this.#items[this.#head]!;
    this.#items[this.#head] = undefined as T;
    this.#head++;
    if (this.#head === this.#items.length) {
      this.#items = [];
      this.#head = 0;
    } else if (this.#head >= 1024 && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  /**
   * Ends the queue: the reader gets what is queued, then the end.
   * Idempotent; the first call decides.
   *
   * @param error when given, what the reader's next call throws once the queue is empty
   */
  end(error?: unknown): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#error = error;
    for (const reader of this.#readers.splice(0)) this.#finish(reader);
  }

  #finish(reader: PromiseWithResolvers<IteratorResult<T>>): void {
    if (this.#error !== undefined) {
      const error = this.#error;
      this.#error = undefined;
      reader.reject(error);
    } else {
      reader.resolve({ value: undefined, done: true });
    }
  }

  /**
   * The next item, waiting for one when the queue is empty.
   *
   * @returns the item, or `done` once the queue has ended and is empty
   * @throws the error the queue was ended with, once
   */
  next(): Promise<IteratorResult<T>> {
    if (this.length > 0) {
      const item = this.#take();
      this.#size -= this.#sizeOf(item);
      if (this.length === 0) this.#size = 0;
      return Promise.resolve({ value: item, done: false });
    }
    const reader = Promise.withResolvers<IteratorResult<T>>();
    if (this.#ended) this.#finish(reader);
    else this.#readers.push(reader);
    return reader.promise;
  }

  /**
   * Stops reading: ends the queue, forgets what is queued and tells the owner.
   *
   * @returns `done`
   */
  return(): Promise<IteratorResult<T>> {
    const first = !this.#ended;
    this.#error = undefined;
    this.end();
    this.#items = [];
    this.#head = 0;
    this.#size = 0;
    if (first) this.#onReturn?.();
    return Promise.resolve({ value: undefined, done: true });
  }

  /** The queue itself: it is its own iterator. */
  [Symbol.asyncIterator](): this {
    return this;
  }
}
