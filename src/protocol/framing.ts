/**
 * Newline framing for byte streams, capped before anything is parsed.
 *
 * @module
 */

import { indexOfNewline } from "../_util/words.ts";

/** Yielded by {@linkcode LineSplitter.split} in place of a line over the maximum. */
export const OVERSIZE: unique symbol = Symbol("oversize");

/** What a splitter holds until a line is split across chunks. */
const NOTHING: Uint8Array = new Uint8Array(0);
const CR = 0x0d;

/**
 * Splits a byte stream into lines ended by `\n` (a `\r\n` ending is accepted).
 *
 * Blank lines are skipped. A line longer than the maximum yields
 * {@linkcode OVERSIZE} once, as soon as it is known, and the rest of it is
 * discarded as it arrives, never buffered: memory stays within the maximum.
 *
 * A yielded line may be a view of the chunk or of an internal buffer: use it
 * before asking the generator for the next one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { LineSplitter } from "./framing.ts";
 * const splitter = new LineSplitter(1024);
 * const text = (chunk: string) =>
 *   [...splitter.split(new TextEncoder().encode(chunk))].map((line) =>
 *     typeof line === "symbol" ? line : new TextDecoder().decode(line)
 *   );
 * // The partial line waits for the next chunk.
 * assert.deepEqual(text('{"command":"ping"}\r\n{"comm'), ['{"command":"ping"}']);
 * assert.deepEqual(text('and":"list"}\n'), ['{"command":"list"}']);
 * ```
 */
export class LineSplitter {
  readonly #max: number;
  #pending = NOTHING;
  #length = 0;
  #discarding = false;
  #chunk = NOTHING;
  #start = 0;

  /**
   * @param maxLineBytes the longest line allowed, without its ending
   * @throws {RangeError} when it is not a positive integer
   */
  constructor(maxLineBytes: number) {
    if (!Number.isSafeInteger(maxLineBytes) || maxLineBytes < 1) {
      throw new RangeError(
        `maxLineBytes must be a positive integer, got ${maxLineBytes}`,
      );
    }
    this.#max = maxLineBytes;
  }

  /**
   * Feeds one chunk of the stream.
   *
   * @param chunk the next bytes received
   * @returns each complete line in the chunk, or {@linkcode OVERSIZE} for one too long
   */
  *split(chunk: Uint8Array): Generator<Uint8Array | typeof OVERSIZE> {
    this.feed(chunk);
    for (let line = this.next(); line !== undefined; line = this.next()) {
      yield line;
    }
  }

  /**
   * Feeds one chunk of the stream, whose lines {@linkcode LineSplitter.next}
   * then returns: what {@linkcode LineSplitter.split} does, without a
   * generator on the hot path. Call `next` until it returns `undefined`
   * before feeding the next chunk.
   *
   * @param chunk the next bytes received
   */
  feed(chunk: Uint8Array): void {
    this.#chunk = chunk;
    this.#start = 0;
  }

  /**
   * The next complete line of the chunk fed, {@linkcode OVERSIZE} for one
   * too long, or `undefined` once the chunk is used up (its unfinished end is
   * kept for the next chunk).
   *
   * @returns the line, or a marker
   */
  next(): Uint8Array | typeof OVERSIZE | undefined {
    const chunk = this.#chunk;
    while (this.#start < chunk.length) {
      const start = this.#start;
      const end = indexOfNewline(chunk, start);
      if (end === -1) {
        this.#start = chunk.length;
        this.#chunk = NOTHING;
        return this.#keep(chunk.subarray(start)) ? OVERSIZE : undefined;
      }
      const part = chunk.subarray(start, end);
      this.#start = end + 1;
      if (this.#discarding) {
        this.#discarding = false;
        continue;
      }
      let line = part;
      if (this.#length > 0) {
        // +1: the line may still end with the `\r` of a `\r\n`.
        if (this.#length + part.length > this.#max + 1) {
          this.#length = 0;
          return OVERSIZE;
        }
        this.#append(part);
        line = this.#pending.subarray(0, this.#length);
        this.#length = 0;
      }
      if (line.length > 0 && line[line.length - 1] === CR) {
        line = line.subarray(0, line.length - 1);
      }
      if (line.length > this.#max) return OVERSIZE;
      if (line.length > 0) return line;
    }
    this.#chunk = NOTHING;
    return undefined;
  }

  /** Keeps the start of an unfinished line; true when it just became too long. */
  #keep(rest: Uint8Array): boolean {
    if (this.#discarding) return false;
    if (this.#length + rest.length > this.#max + 1) {
      this.#length = 0;
      this.#discarding = true;
      return true;
    }
    this.#append(rest);
    return false;
  }

  #append(bytes: Uint8Array): void {
    const needed = this.#length + bytes.length;
    if (needed > this.#pending.length) {
      const grown = new Uint8Array(
        Math.min(
          Math.max(needed, this.#pending.length * 2, 256),
          this.#max + 1,
        ),
      );
      grown.set(this.#pending.subarray(0, this.#length));
      this.#pending = grown;
    }
    this.#pending.set(bytes, this.#length);
    this.#length = needed;
  }
}
