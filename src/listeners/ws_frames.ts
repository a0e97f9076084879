/**
 * WebSocket framing for the server side (RFC 6455 §5), pure: masked client
 * frames parsed incrementally from read chunks, capped before a payload is
 * buffered, unmasked a word at a time (in line mode noting each newline).
 * What a server writes, and line mode's packing, are in `ws_encode.ts`,
 * re-exported here.
 *
 * @module
 */

import { Buffer, isUtf8 } from "node:buffer";
import {
  CLOSE_INVALID_DATA,
  CLOSE_PROTOCOL_ERROR,
  OP_BINARY,
  OP_CLOSE,
  OP_CONTINUATION,
  OP_PING,
  OP_PONG,
  OP_TEXT,
} from "./ws_encode.ts";

import { unmask } from "./ws_mask.ts";

export * from "./ws_encode.ts";

/** What the parser found in the bytes read. */
export type Incoming =
  /**
   * A whole text message, valid UTF-8: a view of the chunk parsed (unmasked
   * in place) or of the parser's own buffer, good until the next chunk.
   */
  | { kind: "text"; bytes: Uint8Array }
  /** The start of a binary message: its payload is discarded, never buffered. */
  | { kind: "binary" }
  /** The start of a message over the maximum: the rest is discarded as it arrives. */
  | { kind: "too_large" }
  /** A ping: answer with a pong carrying the same payload (good until the next chunk). */
  | { kind: "ping"; payload: Uint8Array }
  /** The client closes: echo its code, then end the connection. */
  | { kind: "close"; code: number | undefined }
  /** The client broke the protocol: close with this code, then end. */
  | { kind: "fail"; code: number; reason: string };

const utf8 = new TextDecoder("utf-8", { fatal: true });
const NO_NEWLINES: number[] = [];
const EMPTY = new Uint8Array(0);

/** What {@linkcode FrameParser.next} found: an {@linkcode Incoming} kind. */
export type IncomingKind = Incoming["kind"];

/**
 * Parses the masked frames a client sends, from chunks of any size.
 *
 * A data message whose frames would exceed the maximum yields `too_large` as
 * soon as the frame header that passes it arrives, and the rest of the
 * message is skipped without being buffered; so is a binary message. After a
 * `close` or a `fail` the parser yields nothing more.
 *
 * The hot path is {@linkcode FrameParser.feed} and
 * {@linkcode FrameParser.next}, which make no object per frame: what the
 * last event carries is in {@linkcode FrameParser.bytes},
 * {@linkcode FrameParser.code} and {@linkcode FrameParser.reason}.
 * {@linkcode FrameParser.parse} yields the same as event objects.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FrameParser } from "./ws_frames.ts";
 * const parser = new FrameParser(1024);
 * // "Hi" in a masked text frame, mask 1 2 3 4, in two chunks.
 * const frame = [0x81, 0x82, 1, 2, 3, 4, 0x48 ^ 1, 0x69 ^ 2];
 * parser.feed(new Uint8Array(frame.slice(0, 3)));
 * assert.equal(parser.next(), undefined);
 * parser.feed(new Uint8Array(frame.slice(3)));
 * assert.equal(parser.next(), "text");
 * assert.equal(new TextDecoder().decode(parser.bytes), "Hi");
 * assert.equal(parser.next(), undefined);
 * ```
 */
export class FrameParser {
  /**
   * The payload of the last `text` (the message) or `ping` event: a view of
   * the chunk (unmasked in place) or of the parser's own buffer, good until
   * the next chunk.
   */
  bytes: Uint8Array = EMPTY;
  /** The close code of the last `close` (undefined when none was sent) or `fail` event. */
  code: number | undefined;
  /** Why the last `fail` event failed. */
  reason = "";
  /**
   * In line mode, where each `\n` of the last `text` event's message lies,
   * in order, found while unmasking: the line splitter scans nothing again.
   */
  readonly newlines: number[];
  readonly #max: number;
  /**
   * A header cut across chunks, gathered (rare: most connections never
   * hold one); a whole one is read where it lies.
   */
  #partial: Uint8Array | undefined;
  /** The bytes of the header just read, and where it starts in them. */
  #headerSource: Uint8Array = EMPTY;
  #headerAt = 0;
  #headerBytes = 0;
  #chunk: Uint8Array = EMPTY;
  #offset = 0;
  // The frame being read.
  #inPayload = false;
  #fin = false;
  #opcode = 0;
  #remaining = 0;
  /** The frame's mask, its first byte lowest. */
  #mask = 0;
  /** Whether the frame's payload is kept; it is copied only when split across chunks. */
  #keep = false;
  #length = 0;
  #payload: Uint8Array | undefined;
  #filled = 0;
  // The data message being read: its opcode (0 when none), its parts.
  #message = 0;
  #discarding = false;
  /** The frames of a fragmented message so far (none for most connections, ever). */
  #parts: Uint8Array[] | undefined;
  #messageBytes = 0;
  /** The OR of the message's bytes so far: without a high bit, it is ASCII. */
  #high = 0;
  /** Where the frame's payload starts in its message. */
  #base = 0;
  #ended = false;

  /**
   * @param maxMessageBytes the largest message kept, in bytes
   * @param lines whether to find the newlines of text messages
   *   ({@linkcode FrameParser.newlines})
   * @throws {RangeError} when it is not a positive integer
   */
  constructor(maxMessageBytes: number, lines = false) {
    if (!Number.isSafeInteger(maxMessageBytes) || maxMessageBytes < 1) {
      throw new RangeError(
        `maxMessageBytes must be a positive integer, got ${maxMessageBytes}`,
      );
    }
    this.#max = maxMessageBytes;
    // Plain mode shares one empty list, never written: an idle connection
    // holds no list of its own.
    this.newlines = lines ? [] : NO_NEWLINES;
  }

  /**
   * Takes the next chunk read from the client, to be read by
   * {@linkcode FrameParser.next}. Its bytes may be unmasked in place; what
   * is left of the previous chunk is dropped.
   *
   * @param chunk the next bytes received
   */
  feed(chunk: Uint8Array): void {
    this.#chunk = chunk;
    this.#offset = 0;
  }

  /**
   * The next event the chunk completes, in order.
   *
   * @returns its kind (what it carries is in the parser's fields), or
   *   `undefined` once the chunk is used up
   */
  next(): IncomingKind | undefined {
    const chunk = this.#chunk;
    let offset = this.#offset;
    let kind: IncomingKind | undefined;
    while (kind === undefined && !this.#ended && offset < chunk.length) {
      if (!this.#inPayload) {
        offset = this.#readHeader(chunk, offset);
        if (!this.#inPayload) continue; // the header is not complete yet
        kind = this.#startFrame();
        if (this.#ended || this.#remaining > 0) continue;
      } else {
        const n = Math.min(this.#remaining, chunk.length - offset);
        if (
          this.#keep && this.#fin && this.#filled === 0 && n === this.#length
        ) {
          // A final frame's whole payload is in the chunk: unmasked where it
          // lies (a view kept past this chunk would be overwritten).
          this.#high |= this.#unmask(chunk, offset, offset + n, 0, offset);
          this.#payload = chunk.subarray(offset, offset + n);
          this.#remaining = 0;
          offset += n;
        } else {
          offset = this.#takePayload(chunk, offset, n);
          if (this.#remaining > 0) continue;
        }
      }
      // A frame refused at its header that has no payload also ends here.
      const end = this.#endFrame();
      if (kind === undefined) kind = end;
    }
    this.#offset = offset;
    if (kind === undefined) {
      // Used up: an idle connection keeps no view of it.
      this.#chunk = EMPTY;
      this.bytes = EMPTY;
      if (this.#message === 0) this.newlines.length = 0;
    }
    return kind;
  }

  /**
   * Feeds one chunk and yields what it completes as event objects: the
   * general form of {@linkcode FrameParser.feed} and
   * {@linkcode FrameParser.next}.
   *
   * @param chunk the next bytes received
   * @returns what the chunk completes, in order
   */
  *parse(chunk: Uint8Array): Generator<Incoming> {
    this.feed(chunk);
    for (let kind = this.next(); kind !== undefined; kind = this.next()) {
      switch (kind) {
        case "text":
          yield { kind, bytes: this.bytes };
          break;
        case "ping":
          yield { kind, payload: this.bytes };
          break;
        case "close":
          yield { kind, code: this.code };
          break;
        case "fail":
          yield { kind, code: this.code!, reason: this.reason };
          break;
        default:
          yield { kind };
      }
    }
  }

  /** Copies header bytes; sets `#inPayload` once the header is whole. */
  #readHeader(chunk: Uint8Array, offset: number): number {
    if (this.#headerBytes === 0 && offset + 2 <= chunk.length) {
      // The common case: the whole header is in the chunk.
      const need = headerSize(chunk[offset + 1]!);
      if (offset + need <= chunk.length) {
        this.#headerSource = chunk;
        this.#headerAt = offset;
        this.#inPayload = true;
        return offset + need;
      }
    }
    const h = this.#partial ??= new Uint8Array(14);
    while (offset < chunk.length) {
      h[this.#headerBytes++] = chunk[offset++]!;
      if (this.#headerBytes < 2) continue;
      if (this.#headerBytes === headerSize(h[1]!)) {
        this.#headerSource = h;
        this.#headerAt = 0;
        this.#partial = undefined;
        this.#inPayload = true;
        this.#headerBytes = 0;
        return offset;
      }
    }
    return offset;
  }

  /** Checks a whole header; an event when the frame is refused or starts a refused message. */
  #startFrame(): IncomingKind | undefined {
    const h = this.#headerSource;
    const b = this.#headerAt;
    this.#headerSource = EMPTY;
    const byte0 = h[b]!, byte1 = h[b + 1]!;
    this.#fin = (byte0 & 0x80) !== 0;
    this.#opcode = byte0 & 0x0f;
    if ((byte0 & 0x70) !== 0) return this.#fail("reserved bits set");
    if ((byte1 & 0x80) === 0) return this.#fail("client frames must be masked");
    const length7 = byte1 & 0x7f;
    let length = length7, at = b + 2;
    if (length7 === 126) {
      length = (h[b + 2]! << 8) | h[b + 3]!;
      at = b + 4;
    } else if (length7 === 127) {
      length = word(h, b + 2) * 2 ** 32 + word(h, b + 6);
      at = b + 10;
    }
    this.#mask = h[at]! | (h[at + 1]! << 8) | (h[at + 2]! << 16) |
      (h[at + 3]! << 24);
    this.#remaining = length;
    this.#length = length;
    this.#payload = undefined;
    this.#filled = 0;
    this.#keep = false;
    if (this.#opcode >= 0x8) {
      if (this.#opcode > OP_PONG) return this.#fail("unknown opcode");
      if (!this.#fin || length > 125) {
        return this.#fail("control frames must be whole and short");
      }
      this.#keep = length > 0;
      return;
    }
    let kind: IncomingKind | undefined;
    if (this.#opcode === OP_CONTINUATION) {
      if (this.#message === 0) return this.#fail("continuation of nothing");
    } else if (this.#opcode === OP_TEXT || this.#opcode === OP_BINARY) {
      if (this.#message !== 0) {
        return this.#fail("a new message before the last one ended");
      }
      this.#message = this.#opcode;
      this.#discarding = this.#opcode === OP_BINARY;
      this.#high = 0;
      this.newlines.length = 0;
      if (this.#discarding) kind = "binary";
    } else {
      return this.#fail("unknown opcode");
    }
    if (!this.#discarding) {
      if (this.#messageBytes + length > this.#max) {
        this.#discarding = true;
        this.#parts = undefined;
        kind = "too_large";
      } else if (length > 0) {
        this.#base = this.#messageBytes;
        this.#messageBytes += length;
        this.#keep = true;
      }
    }
    return kind;
  }

  /** Takes `n` payload bytes: unmasked into the frame's buffer, or skipped. */
  #takePayload(chunk: Uint8Array, offset: number, n: number): number {
    this.#remaining -= n;
    if (this.#keep) {
      const payload = this.#payload ??= new Uint8Array(this.#length);
      const filled = this.#filled;
      payload.set(chunk.subarray(offset, offset + n), filled);
      const high = this.#unmask(payload, filled, filled + n, filled, 0);
      if (this.#opcode < 0x8) this.#high |= high;
      this.#filled += n;
    }
    return offset + n;
  }

  /**
   * Unmasks the frame's payload bytes `bytes[from..to)`, the first of them
   * at `at` in the payload; in line mode, also notes the newlines of a data
   * frame's (`origin` is where the payload starts in `bytes`).
   */
  #unmask(
    bytes: Uint8Array,
    from: number,
    to: number,
    at: number,
    origin: number,
  ): number {
    const start = at & 3;
    if (this.newlines === NO_NEWLINES || this.#opcode >= 0x8) {
      return unmask(bytes, from, to, this.#mask, start);
    }
    return unmask(
      bytes,
      from,
      to,
      this.#mask,
      start,
      this.newlines,
      this.#base - origin,
    );
  }

  /** A whole frame has been read. */
  #endFrame(): IncomingKind | undefined {
    this.#inPayload = false;
    const payload = this.#payload ?? EMPTY;
    this.#payload = undefined;
    switch (this.#opcode) {
      case OP_PING:
        this.bytes = payload;
        return "ping";
      case OP_PONG:
        return;
      case OP_CLOSE:
        return this.#close(payload);
    }
    if (!this.#fin) {
      if (!this.#discarding && payload.length > 0) {
        (this.#parts ??= []).push(payload);
      }
      return;
    }
    const keep = !this.#discarding;
    let bytes = payload;
    if (this.#parts !== undefined) {
      if (payload.length > 0) this.#parts.push(payload);
      bytes = Buffer.concat(this.#parts);
      this.#parts = undefined;
    }
    this.#message = 0;
    this.#discarding = false;
    this.#messageBytes = 0;
    if (!keep) return;
    // ASCII, as unmasking saw, is UTF-8; else one native check per message
    // (in line mode, per frame of many lines).
    if ((this.#high & 0x80808080) !== 0 && !isUtf8(bytes)) {
      return this.#fail("a text message that is not UTF-8", CLOSE_INVALID_DATA);
    }
    this.bytes = bytes;
    return "text";
  }

  #close(payload: Uint8Array): IncomingKind {
    if (payload.length === 0) {
      this.#ended = true;
      this.code = undefined;
      return "close";
    }
    const code = payload.length >= 2 ? (payload[0]! << 8) | payload[1]! : 0;
    if (!validCloseCode(code)) return this.#fail("invalid close code");
    try {
      utf8.decode(payload.subarray(2));
    } catch {
      return this.#fail("a close reason that is not UTF-8", CLOSE_INVALID_DATA);
    }
    this.#ended = true;
    this.code = code;
    return "close";
  }

  #fail(reason: string, code = CLOSE_PROTOCOL_ERROR): IncomingKind {
    this.#ended = true;
    this.#parts = undefined;
    this.#payload = undefined;
    this.#chunk = EMPTY;
    this.code = code;
    this.reason = reason;
    return "fail";
  }
}

/** The big-endian 32-bit word at `at`. */
function word(bytes: Uint8Array, at: number): number {
  return ((bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) |
    bytes[at + 3]!) >>> 0;
}

/** A client frame header's size, from its second byte. */
function headerSize(byte1: number): number {
  const length7 = byte1 & 0x7f;
  return 2 + (length7 === 126 ? 2 : length7 === 127 ? 8 : 0) +
    ((byte1 & 0x80) !== 0 ? 4 : 0);
}

function validCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011) ||
    (code >= 3000 && code <= 4999);
}
