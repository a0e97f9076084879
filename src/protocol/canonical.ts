/**
 * The fast path of the commonest frame: a publish line in canonical form,
 * `{"command":"publish","tags":["a","b"],"data":"..."}`, is already the
 * delivery its subscribers receive, byte for byte. {@linkcode canonicalPublish}
 * recognises such a line with a strict scanner and returns the request with
 * that frame, so the line is neither decoded as a whole, parsed, nor encoded
 * again.
 *
 * Anything else (other key order, whitespace, escapes, an `id`, unsorted or
 * repeated tags, a limit passed, bytes that are not valid UTF-8) is left to
 * {@linkcode decode}, the general path, which gives the same result or the
 * error reply. The differential test (`canonical_test.ts`) holds the two
 * together with `JSON.parse` as the oracle.
 *
 * Pure: no I/O.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { Slabs } from "../_util/slabs.ts";
import { type CommandRequest, Frame, type Limits } from "./codec.ts";

const encoder = new TextEncoder();
const HEAD = encoder.encode('{"command":"publish","tags":[');
const MIDDLE = encoder.encode('],"data":"');
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const BRACKET = 0x5d;
const BRACE = 0x7d;
/** What a byte of the data is: 0 plain ASCII, else one of these. */
const REFUSED = 1;
const NON_ASCII = 2;
const DATA_BYTE = new Uint8Array(256).map((_, c) =>
  c === QUOTE || c === BACKSLASH || c < 0x20
    ? REFUSED
    : c > 0x7f
    ? NON_ASCII
    : 0
);
/** The shortest canonical line: one tag of one byte, empty data. */
const SHORTEST = HEAD.length + 3 + MIDDLE.length + 2;

// Fatal: bytes that are not UTF-8 fall back to the general path, which
// refuses them. A BOM inside a string is data, never stripped.
const utf8Decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** What the decoder of a delivery frame offers beyond {@linkcode CommandRequest}. */
export interface CanonicalPublish extends CommandRequest {
  readonly command: "publish";
  readonly tags: readonly string[];
  readonly data: string;
  /** The line itself as the delivery frame of the message. */
  readonly frame: Frame;
}

/**
 * Reads a publish line in canonical form: the keys `command`, `tags`, `data`
 * in that order, no whitespace, tags of printable ASCII without escapes,
 * sorted and distinct, within the limits; data without escapes or control
 * characters, valid UTF-8.
 *
 * @param line one line without its ending
 * @param limits the size limits
 * @returns the request with its delivery frame, or `undefined` when the line
 *   is anything else (then {@linkcode decode} reads it)
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { canonicalPublish } from "./canonical.ts";
 * import { DEFAULT_LIMITS } from "./codec.ts";
 * const line = new TextEncoder().encode(
 *   '{"command":"publish","tags":["a","b"],"data":"hi"}',
 * );
 * const request = canonicalPublish(line, DEFAULT_LIMITS);
 * assert.deepEqual(request?.tags, ["a", "b"]);
 * assert.equal(request?.frame.text, new TextDecoder().decode(line));
 * // Unsorted tags: the general path sorts them.
 * const unsorted = new TextEncoder().encode(
 *   '{"command":"publish","tags":["b","a"],"data":"hi"}',
 * );
 * assert.equal(canonicalPublish(unsorted, DEFAULT_LIMITS), undefined);
 * ```
 */
export function canonicalPublish(
  line: Uint8Array,
  limits: Limits,
): CanonicalPublish | undefined {
  const length = line.length;
  if (length < SHORTEST || length > limits.maxMessageBytes) return undefined;
  // The last two bytes close the data string and the object.
  if (line[length - 1] !== BRACE || line[length - 2] !== QUOTE) {
    return undefined;
  }
  for (let i = 0; i < HEAD.length; i++) {
    if (line[i] !== HEAD[i]) return undefined;
  }
  const bytes = bufferOf(line.buffer as ArrayBuffer);
  const at = line.byteOffset;
  // Most publishes have one tag: its array is made when the list ends, of
  // its size, rather than grown from empty by a push.
  let first: string | undefined;
  let tags: string[] | undefined;
  let count = 0;
  let i = HEAD.length;
  let previous = -1;
  let previousEnd = -1;
  for (;;) {
    if (line[i] !== QUOTE) return undefined;
    const start = ++i;
    let hash = 0;
    for (;; i++) {
      const c = line[i];
      if (c === QUOTE) break;
      // Ends the scan too when the line ends (c is undefined).
      if (!(c! >= 0x20 && c! <= 0x7e) || c === BACKSLASH) return undefined;
      hash = (hash * 31 + c!) | 0;
    }
    const end = i;
    if (end === start || end - start > limits.maxTagBytes) return undefined;
    if (previous >= 0 && !before(line, previous, previousEnd, start, end)) {
      return undefined;
    }
    if (count === limits.maxTags) return undefined;
    const tag = tagOf(line, bytes, at, start, end, hash);
    if (count === 0) first = tag;
    else if (count === 1) tags = [first!, tag];
    else tags!.push(tag);
    count++;
    previous = start;
    previousEnd = end;
    const next = line[++i];
    if (next === BRACKET) break;
    if (next !== COMMA) return undefined;
    i++;
  }
  for (let k = 0; k < MIDDLE.length; k++) {
    if (line[i + k] !== MIDDLE[k]) return undefined;
  }
  const start = i + MIDDLE.length;
  const end = length - 2;
  if (end < start) return undefined;
  let plain = true;
  for (let k = start; k < end; k++) {
    const kind = DATA_BYTE[line[k]!]!;
    if (kind === 0) continue;
    if (kind === REFUSED) return undefined;
    plain = false;
  }
  let data: string | undefined;
  if (!plain) {
    try {
      data = utf8Decoder.decode(line.subarray(start, end));
    } catch {
      return undefined;
    }
  }
  return new Canonical(tags ?? [first!], lineFrame(line), start, end, data);
}

/**
 * A canonical publish: its data, ASCII, is read from the frame's bytes only
 * when asked for (by the cluster, by a custom command), not on every publish.
 */
class Canonical implements CanonicalPublish {
  readonly command = "publish";
  readonly tags: readonly string[];
  readonly frame: Frame;
  readonly #start: number;
  readonly #end: number;
  #data: string | undefined;

  constructor(
    tags: readonly string[],
    frame: Frame,
    start: number,
    end: number,
    data: string | undefined,
  ) {
    this.tags = tags;
    this.frame = frame;
    this.#start = start;
    this.#end = end;
    this.#data = data;
  }

  get data(): string {
    if (this.#data === undefined) {
      const line = this.frame.line;
      this.#data = Buffer.from(line.buffer, line.byteOffset, line.length)
        .toString("latin1", this.#start, this.#end);
    }
    return this.#data;
  }
}

/** Recent short tags, by a hash of their bytes. */
const TAG_SLOTS = 1024;
const CACHED_TAG_BYTES = 64;
const recentTags: string[] = Array(TAG_SLOTS).fill("");

/**
 * A tag as a string: the one read last time from the same bytes when it was
 * short. A publisher sends the same few tags again and again, and the same
 * string is also cheaper to look up in the subscriptions (its hash is kept).
 */
function tagOf(
  line: Uint8Array,
  bytes: Buffer,
  at: number,
  start: number,
  end: number,
  hash: number,
): string {
  const length = end - start;
  if (length > CACHED_TAG_BYTES) return ascii(line, bytes, at, start, end);
  const slot = hash & (TAG_SLOTS - 1);
  const recent = recentTags[slot]!;
  if (recent.length === length) {
    let k = 0;
    while (k < length && recent.charCodeAt(k) === line[start + k]) k++;
    if (k === length) return recent;
  }
  return recentTags[slot] = ascii(line, bytes, at, start, end);
}

/** ASCII bytes as a string: a loop for short ones, the Buffer op past that. */
function ascii(
  line: Uint8Array,
  bytes: Buffer,
  at: number,
  start: number,
  end: number,
): string {
  if (end - start > 12) return bytes.toString("latin1", at + start, at + end);
  let text = "";
  for (let i = start; i < end; i++) text += String.fromCharCode(line[i]!);
  return text;
}

// A Buffer over the whole of the last read buffer seen: making one per line
// cost as much as scanning it. A connection reads into the same buffer until
// it grows or shrinks.
let lastBuffer: ArrayBuffer | undefined;
let lastBytes: Buffer | undefined;

function bufferOf(buffer: ArrayBuffer): Buffer {
  if (buffer !== lastBuffer) {
    lastBuffer = buffer;
    lastBytes = Buffer.from(buffer);
  }
  return lastBytes!;
}

/** Whether the bytes `a..aEnd` sort strictly before `b..bEnd`. */
function before(
  line: Uint8Array,
  a: number,
  aEnd: number,
  b: number,
  bEnd: number,
): boolean {
  for (; a < aEnd && b < bEnd; a++, b++) {
    const x = line[a]!, y = line[b]!;
    if (x !== y) return x < y;
  }
  return a === aEnd && b < bEnd;
}

/** The size of the slabs that short lines are copied into. */
export const SLAB_BYTES = 32 * 1024;
/** Lines longer than this get a buffer of their own. */
const POOLED_BYTES = 4 * 1024;
const slabs = new Slabs(SLAB_BYTES, POOLED_BYTES);

/**
 * The frame of a copy of a line with `\n` appended, in a slab shared with
 * the lines copied with it unless it is long ({@linkcode Frame.slab}).
 */
function lineFrame(line: Uint8Array): Frame {
  const copy = slabs.take(line.length + 1);
  copy.set(line);
  copy[line.length] = 0x0a;
  return Frame.ofLine(copy, slabs.last);
}
