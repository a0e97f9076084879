/**
 * A connection's bounded outbound queue (docs/protocol.md §7).
 *
 * @module
 */

/** Anything with a size in bytes. */
export interface Sized {
  /** Size in bytes. */
  readonly size: number;
}

/**
 * Checks a queue capacity, for a holder that makes its queue later.
 *
 * @param capacity the capacity in bytes
 * @returns the capacity
 * @throws {RangeError} when it is not a positive integer
 */
export function checkCapacity(capacity: number): number {
  if (!Number.isSafeInteger(capacity) || capacity < 1) {
    throw new RangeError(
      `capacity must be a positive integer, got ${capacity}`,
    );
  }
  return capacity;
}

/**
 * A FIFO of frames bounded in bytes, with a drop-newest overflow policy.
 *
 * Bytes stay counted from {@linkcode OutboundQueue.offer} until the writer
 * {@linkcode OutboundQueue.release}s them, so frames being written count too.
 * {@linkcode OutboundQueue.offer} drops a frame that does not fit and counts it;
 * {@linkcode OutboundQueue.force} always enqueues (replies the client asked for,
 * notices), and the reader stops taking requests while the queue is full, so
 * that too stays bounded.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { OutboundQueue } from "./outbound_queue.ts";
 * const queue = new OutboundQueue<{ size: number }>(10);
 * assert.equal(queue.offer({ size: 6 }), true);
 * assert.equal(queue.offer({ size: 6 }), false); // dropped
 * assert.equal(queue.dropped, 1);
 * assert.equal(queue.take().length, 1); // the frames to write now
 * queue.release(6); // once written
 * assert.equal(queue.bytes, 0);
 * ```
 */
export class OutboundQueue<F extends Sized> {
  /** The capacity in bytes. */
  readonly capacity: number;
  /**
   * Made with its first frame as a one-element literal: most flushes take
   * one frame, and an array grown by a push from empty has room for 16.
   */
  #frames: F[] | undefined;
  #bytes = 0;
  #peak = 0;
  #dropped = 0;

  /**
   * @param capacity the capacity in bytes
   * @throws {RangeError} when it is not a positive integer
   */
  constructor(capacity: number) {
    this.capacity = checkCapacity(capacity);
  }

  /** Bytes queued or being written. */
  get bytes(): number {
    return this.#bytes;
  }

  /** The most bytes ever held at once. */
  get peak(): number {
    return this.#peak;
  }

  /** Frames dropped since the last {@linkcode OutboundQueue.takeDropped}. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Whether frames wait to be taken. */
  get pending(): boolean {
    return this.#frames !== undefined;
  }

  /** The frames waiting to be taken, oldest first: a view, not a copy. */
  get waiting(): readonly F[] {
    return this.#frames ?? [];
  }

  /** Whether the queue holds its capacity or more. */
  get full(): boolean {
    return this.#bytes >= this.capacity;
  }

  /**
   * Enqueues a frame if it fits, else drops it and counts it. An empty queue
   * takes any frame: a message within the size limit is never lost to a
   * subscriber that is keeping up (its delivery is a little larger than what
   * was published).
   *
   * @param frame the frame
   * @returns whether it was enqueued
   */
  offer(frame: F): boolean {
    const bytes = this.#bytes + frame.size;
    if (bytes > this.capacity && this.#bytes > 0) {
      this.#dropped++;
      return false;
    }
    this.#push(frame, bytes);
    return true;
  }

  /**
   * Enqueues a frame even past the capacity.
   *
   * @param frame the frame
   */
  force(frame: F): void {
    this.#push(frame, this.#bytes + frame.size);
  }

  #push(frame: F, bytes: number): void {
    if (this.#frames === undefined) this.#frames = [frame];
    else this.#frames.push(frame);
    this.#bytes = bytes;
    if (bytes > this.#peak) this.#peak = bytes;
  }

  /**
   * Takes every waiting frame for writing; their bytes stay counted until released.
   *
   * @returns the frames, oldest first
   */
  take(): F[] {
    const frames = this.#frames ?? [];
    this.#frames = undefined;
    return frames;
  }

  /**
   * Releases the bytes of frames that were written.
   *
   * @param bytes their total size
   */
  release(bytes: number): void {
    this.#bytes -= bytes;
  }

  /**
   * Takes the count of dropped frames once the queue has drained below half.
   *
   * @returns the frames dropped since the last notice, or 0 when there is
   *   nothing to report yet
   */
  takeDropped(): number {
    if (this.#dropped === 0 || this.#bytes >= this.capacity / 2) return 0;
    const dropped = this.#dropped;
    this.#dropped = 0;
    return dropped;
  }
}
