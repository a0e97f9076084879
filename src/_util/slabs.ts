/**
 * Small byte regions carved from shared slabs: a fresh `Uint8Array` (an
 * ArrayBuffer and its native backing store) costs several times a short
 * line, and more time than copying it. A slab lives while any region cut
 * from it does, and a region is never handed out twice. Pure.
 *
 * @module
 */

const NO_SLAB = new Uint8Array(0);

/**
 * Slabs of one size, cut in order.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Slabs } from "./slabs.ts";
 * const slabs = new Slabs(1024, 256);
 * const a = slabs.take(10), b = slabs.take(10);
 * assert.equal(a.buffer, b.buffer);
 * assert.equal(slabs.last, 1);
 * assert.equal(slabs.take(300).buffer.byteLength, 300); // its own
 * assert.equal(slabs.last, 0);
 * ```
 */
export class Slabs {
  readonly #bytes: number;
  readonly #largest: number;
  #slab = NO_SLAB;
  #used = 0;
  #count = 0;
  #last = 0;

  /**
   * @param bytes the size of a slab
   * @param largest the largest region cut from one: a larger one gets a
   *   buffer of its own
   */
  constructor(bytes: number, largest: number = bytes) {
    this.#bytes = bytes;
    this.#largest = Math.min(largest, bytes);
  }

  /**
   * Which slab the last region taken was cut from, counted from 1 per
   * `Slabs`; 0 when it got a buffer of its own.
   */
  get last(): number {
    return this.#last;
  }

  /**
   * A region of `size` bytes, zeroed, at an offset that is a multiple of 8.
   *
   * @param size its size
   * @returns the region
   */
  take(size: number): Uint8Array {
    if (size > this.#largest) {
      this.#last = 0;
      return new Uint8Array(size);
    }
    if (this.#used + size > this.#slab.length) {
      this.#slab = new Uint8Array(this.#bytes);
      this.#used = 0;
      this.#count++;
    }
    const region = this.#slab.subarray(this.#used, this.#used + size);
    this.#used += (size + 7) & ~7;
    this.#last = this.#count;
    return region;
  }
}
