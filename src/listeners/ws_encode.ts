/**
 * WebSocket framing for the server side, the writing half (RFC 6455 §5),
 * pure: opcodes and close codes, unmasked server frames, and the line mode of
 * docs/protocol.md §1 (`mist.lines`): how a flush is packed into frames and
 * how a frame is split into messages, shared by both WebSocket listeners.
 * `ws_frames.ts` (the parser) re-exports all of it.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import type { Frame } from "../protocol/codec.ts";

/** The subprotocol of line mode (docs/protocol.md §1). */
export const LINES_PROTOCOL = "mist.lines";

/** The GUID of RFC 6455 §1.3, hashed with the key into `Sec-WebSocket-Accept`. */
export const ACCEPT_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/** Opcodes (RFC 6455 §5.2). */
export const OP_CONTINUATION = 0x0;
export const OP_TEXT = 0x1;
export const OP_BINARY = 0x2;
export const OP_CLOSE = 0x8;
export const OP_PING = 0x9;
export const OP_PONG = 0xa;

/** Close codes (RFC 6455 §7.4.1) this module and the listener use. */
export const CLOSE_NORMAL = 1000;
export const CLOSE_GOING_AWAY = 1001;
export const CLOSE_PROTOCOL_ERROR = 1002;
export const CLOSE_INVALID_DATA = 1007;
export const CLOSE_POLICY_VIOLATION = 1008;

/**
 * The size of a server frame's header (unmasked) for a payload length.
 *
 * @param length the payload's length in bytes
 * @returns 2, 4 or 10
 */
export function headerLength(length: number): number {
  return length < 126 ? 2 : length < 65536 ? 4 : 10;
}

/**
 * Writes a server frame's header (FIN set, unmasked) into `target`.
 *
 * @param target where to write
 * @param opcode the frame's opcode
 * @param length its payload's length
 * @param at where in `target` the header starts
 * @returns the offset just past the header
 */
export function writeHeader(
  target: Uint8Array,
  opcode: number,
  length: number,
  at = 0,
): number {
  target[at] = 0x80 | opcode;
  if (length < 126) {
    target[at + 1] = length;
    return at + 2;
  }
  if (length < 65536) {
    target[at + 1] = 126;
    target[at + 2] = length >> 8;
    target[at + 3] = length & 0xff;
    return at + 4;
  }
  target[at + 1] = 127;
  const view = new DataView(target.buffer, target.byteOffset + at);
  view.setUint32(2, Math.floor(length / 2 ** 32));
  view.setUint32(6, length >>> 0);
  return at + 10;
}

/**
 * Encodes one unmasked server frame.
 *
 * @param opcode the frame's opcode
 * @param payload its payload
 * @returns header and payload in one buffer
 */
export function encodeFrame(opcode: number, payload: Uint8Array): Uint8Array {
  // A small Buffer is cut from a shared pool: cheaper than its own memory.
  const frame = Buffer.allocUnsafe(
    headerLength(payload.length) + payload.length,
  );
  frame.set(payload, writeHeader(frame, opcode, payload.length));
  return frame;
}

/**
 * Encodes a text as one unmasked text frame: what a delivery's
 * {@linkcode Frame.webSocket} caches.
 *
 * @param text the message's JSON text
 * @returns the frame's bytes
 */
export function textFrame(text: string): Uint8Array {
  const length = Buffer.byteLength(text);
  const frame = Buffer.allocUnsafe(headerLength(length) + length);
  frame.write(text, writeHeader(frame, OP_TEXT, length));
  return frame;
}

/**
 * A close frame.
 *
 * @param code the close code, or nothing for an empty close frame
 * @param reason why, in ASCII (at most 123 bytes are kept)
 * @returns the frame's bytes
 */
export function closeFrame(code?: number, reason = ""): Uint8Array {
  if (code === undefined) return encodeFrame(OP_CLOSE, new Uint8Array(0));
  const payload = Buffer.from(`  ${reason}`.slice(0, 125), "latin1");
  payload[0] = code >> 8;
  payload[1] = code & 0xff;
  return encodeFrame(OP_CLOSE, payload);
}

/**
 * Line mode: how a flush's frames are packed into text frames, each holding
 * whole lines and at most `max` bytes (or one line alone, when it is larger).
 *
 * @param frames what the flush writes, in order
 * @param max the largest frame payload wanted
 * @returns for each text frame, the index just past its last line and its
 *   payload's size in bytes
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encode } from "../protocol/codec.ts";
 * import { lineGroups } from "./ws_frames.ts";
 * const frames = ["a", "b", "c"].map((data) => encode({ command: "x", data }));
 * const size = frames[0]!.size;
 * assert.deepEqual([...lineGroups(frames, 2 * size)], [[2, 2 * size], [3, size]]);
 * ```
 */
export function* lineGroups(
  frames: readonly Frame[],
  max: number,
): Generator<[end: number, bytes: number]> {
  let bytes = 0;
  for (let i = 0; i < frames.length; i++) {
    const size = frames[i]!.size;
    if (bytes > 0 && bytes + size > max) {
      yield [i, bytes];
      bytes = 0;
    }
    bytes += size;
  }
  if (bytes > 0) yield [frames.length, bytes];
}

/**
 * Line mode: the messages of one text frame, split on `\n` (a `\r\n` ending
 * is accepted; blank lines are skipped).
 *
 * @param text the frame's text
 * @returns its messages
 */
export function splitLines(text: string): string[] {
  const lines: string[] = [];
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf("\n", start);
    if (end < 0) end = text.length;
    const stop = end > start && text.charCodeAt(end - 1) === 0x0d
      ? end - 1
      : end;
    if (stop > start) lines.push(text.slice(start, stop));
    start = end + 1;
  }
  return lines;
}

/**
 * Whether a `Sec-WebSocket-Protocol` header offers line mode.
 *
 * @param header the header's value, or `null` when absent
 * @returns whether `mist.lines` is among the offered subprotocols
 */
export function offersLines(header: string | null): boolean {
  return header !== null &&
    header.split(",").some((name) => name.trim() === LINES_PROTOCOL);
}
