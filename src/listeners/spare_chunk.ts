/**
 * The chunk a busy connection copies its writes into, kept from write to
 * write: a fresh 256 KiB buffer per write, for each of 100 subscribers, left
 * the collector behind and the process's memory with it. It is let go once a
 * write needs less than a quarter of it 8 times in a row.
 *
 * @module
 */

import { Buffer } from "node:buffer";

/** A chunk worth keeping for the next write: smaller ones are cheap to make. */
const SPARE_BYTES = 16 * 1024;
/** How many small writes in a row let the spare chunk go. */
const SPARE_IDLE_WRITES = 8;

/**
 * One connection's spare chunk.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SpareChunk } from "./spare_chunk.ts";
 * const spare = new SpareChunk(256 * 1024);
 * const chunk = spare.take(20_000);
 * assert.ok(chunk.length >= 20_000);
 * spare.used(20_000);
 * assert.equal(spare.take(18_000), chunk); // kept for the next write
 * ```
 */
export class SpareChunk {
  readonly #max: number;
  #spare: Uint8Array | undefined;
  /** Writes in a row that needed less than a quarter of the spare. */
  #small = 0;

  /** @param max the largest chunk kept */
  constructor(max: number) {
    this.#max = max;
  }

  /**
   * A chunk of at least `size` bytes (at most the maximum): the spare, a new
   * spare, or for a small size a pooled buffer for one write.
   *
   * @param size the bytes needed
   * @returns the chunk, perhaps longer than `size`
   */
  take(size: number): Uint8Array {
    const spare = this.#spare;
    if (spare !== undefined && spare.length >= size) return spare;
    if (size < SPARE_BYTES) return Buffer.allocUnsafe(size);
    let length = SPARE_BYTES;
    while (length < size) length *= 2;
    return this.#spare = new Uint8Array(Math.min(length, this.#max));
  }

  /**
   * Says how much of a chunk the writes of one flush needed at most: the
   * spare goes after enough small ones.
   *
   * @param most the largest number of bytes written from a chunk
   */
  used(most: number): void {
    if (this.#spare === undefined) return;
    if (most * 4 >= this.#spare.length) {
      this.#small = 0;
    } else if (++this.#small === SPARE_IDLE_WRITES) {
      this.#spare = undefined;
      this.#small = 0;
    }
  }
}
