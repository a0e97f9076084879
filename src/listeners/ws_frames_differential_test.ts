/**
 * The frame parser (word-wise unmasking in place or into its buffer, the
 * ASCII shortcut past the UTF-8 check, events without objects) against a
 * plain reading of RFC 6455 as the oracle: random streams of frames, cut at
 * random points into chunks at random alignments.
 */

import assert from "node:assert/strict";
import { random } from "../testing/random.ts";
import {
  FrameParser,
  OP_BINARY,
  OP_CLOSE,
  OP_CONTINUATION,
  OP_PING,
  OP_PONG,
  OP_TEXT,
} from "./ws_frames.ts";

type Event =
  | { kind: "text"; bytes: number[]; newlines?: number[] }
  | { kind: "ping"; payload: number[] }
  | { kind: "binary" | "too_large" }
  | { kind: "close"; code: number | undefined }
  | { kind: "fail"; code: number };

interface RawFrame {
  fin: boolean;
  rsv: number;
  opcode: number;
  masked: boolean;
  payload: Uint8Array;
}

function encodeClient(frame: RawFrame, next: () => number): number[] {
  const n = frame.payload.length;
  const out = [(frame.fin ? 0x80 : 0) | frame.rsv | frame.opcode];
  const m = frame.masked ? 0x80 : 0;
  if (n < 126) out.push(m | n);
  else if (n < 65536) out.push(m | 126, n >> 8, n & 0xff);
  else {out.push(
      m | 127,
      0,
      0,
      0,
      0,
      n >>> 24,
      (n >> 16) & 0xff,
      (n >> 8) & 0xff,
      n & 0xff,
    );}
  const mask = [0, 0, 0, 0].map(() => Math.floor(next() * 256));
  if (frame.masked) out.push(...mask);
  for (let i = 0; i < n; i++) {
    out.push(
      frame.masked ? frame.payload[i]! ^ mask[i & 3]! : frame.payload[i]!,
    );
  }
  return out;
}

const encoder = new TextEncoder();
const PIECES = ["a", "{", "\n", "é", "€", "😀", "x".repeat(40)];

function text(next: () => number, size: number): Uint8Array {
  let s = "";
  while (s.length < size) s += PIECES[Math.floor(next() * PIECES.length)];
  const bytes = encoder.encode(s);
  // Now and then a byte that breaks UTF-8.
  if (next() < 0.05 && bytes.length > 0) {
    bytes[Math.floor(next() * bytes.length)] = 0xff;
  }
  return bytes;
}

function size(next: () => number): number {
  const r = next();
  return r < 0.7
    ? Math.floor(next() * 130)
    : r < 0.97
    ? Math.floor(next() * 3000)
    : 65536 + Math.floor(next() * 5000);
}

/** A random stream: messages (some fragmented, control frames between fragments), maybe a bad end. */
function randomStream(next: () => number): RawFrame[] {
  const frames: RawFrame[] = [];
  const control = () => {
    const opcode = next() < 0.7 ? OP_PING : OP_PONG;
    frames.push({
      fin: true,
      rsv: 0,
      opcode,
      masked: true,
      payload: text(next, Math.floor(next() * 40)).subarray(0, 125),
    });
  };
  const count = 1 + Math.floor(next() * 12);
  for (let m = 0; m < count; m++) {
    if (next() < 0.15) control();
    const opcode = next() < 0.9 ? OP_TEXT : OP_BINARY;
    const payload = text(next, size(next));
    const parts = next() < 0.7 ? 1 : 2 + Math.floor(next() * 3);
    let at = 0;
    for (let p = 0; p < parts; p++) {
      const end = p === parts - 1
        ? payload.length
        : at + Math.floor(next() * (payload.length - at + 1));
      frames.push({
        fin: p === parts - 1,
        rsv: 0,
        opcode: p === 0 ? opcode : OP_CONTINUATION,
        masked: true,
        payload: payload.slice(at, end),
      });
      at = end;
      if (p < parts - 1 && next() < 0.3) control();
    }
  }
  const end = next();
  const bad = (f: Partial<RawFrame>) =>
    frames.push({
      fin: true,
      rsv: 0,
      opcode: OP_TEXT,
      masked: true,
      payload: encoder.encode("bad"),
      ...f,
    });
  if (end < 0.1) bad({ masked: false });
  else if (end < 0.15) bad({ rsv: 0x20 });
  else if (end < 0.2) bad({ opcode: 0x5 });
  else if (end < 0.25) bad({ opcode: OP_CONTINUATION });
  else if (end < 0.3) bad({ opcode: OP_PING, fin: false });
  else if (end < 0.35) {
    bad({ opcode: OP_TEXT, fin: false }), bad({ opcode: OP_TEXT });
  } else if (end < 0.5) {
    const code = [
      1000,
      1001,
      1005,
      999,
      3000,
      4999,
      5000,
    ][Math.floor(next() * 7)]!;
    const reason = next() < 0.2 ? [0xc3] : [0x6f, 0x6b];
    bad({
      opcode: OP_CLOSE,
      payload: next() < 0.2
        ? new Uint8Array()
        : new Uint8Array([code >> 8, code & 0xff, ...reason]),
    });
  }
  if (next() < 0.3) {
    frames.push({
      fin: true,
      rsv: 0,
      opcode: OP_TEXT,
      masked: true,
      payload: encoder.encode("after the end"),
    });
  }
  return frames;
}

/** The oracle: RFC 6455 read frame by frame, as simply as it can be said. */
function oracle(frames: RawFrame[], max: number, lines: boolean): Event[] {
  const events: Event[] = [];
  let message = 0, discarding = false, bytes = 0;
  let parts: Uint8Array[] = [];
  const strict = new TextDecoder("utf-8", { fatal: true });
  const valid = (b: Uint8Array) => {
    try {
      strict.decode(b);
      return true;
    } catch {
      return false;
    }
  };
  for (const f of frames) {
    const fail = (code = 1002) => (events.push({ kind: "fail", code }), events);
    if (f.rsv !== 0 || !f.masked) return fail();
    if (f.opcode >= 8) {
      if (f.opcode > OP_PONG || !f.fin || f.payload.length > 125) return fail();
      if (f.opcode === OP_PING) {
        events.push({ kind: "ping", payload: [...f.payload] });
      }
      if (f.opcode === OP_CLOSE) {
        if (f.payload.length === 0) {
          return (events.push({ kind: "close", code: undefined }), events);
        }
        const code = f.payload.length >= 2
          ? (f.payload[0]! << 8) | f.payload[1]!
          : 0;
        const ok = (code >= 1000 && code <= 1003) ||
          (code >= 1007 && code <= 1011) || (code >= 3000 && code <= 4999);
        if (!ok) return fail();
        if (!valid(f.payload.subarray(2))) return fail(1007);
        return (events.push({ kind: "close", code }), events);
      }
      continue;
    }
    if (f.opcode === OP_CONTINUATION) {
      if (message === 0) return fail();
    } else if (f.opcode === OP_TEXT || f.opcode === OP_BINARY) {
      if (message !== 0) return fail();
      message = f.opcode;
      discarding = f.opcode === OP_BINARY;
      if (discarding) events.push({ kind: "binary" });
    } else return fail();
    if (!discarding) {
      if (bytes + f.payload.length > max) {
        discarding = true;
        events.push({ kind: "too_large" });
      } else {
        bytes += f.payload.length;
        parts.push(f.payload);
      }
    }
    if (!f.fin) continue;
    if (!discarding) {
      const whole = new Uint8Array(parts.flatMap((p) => [...p]));
      if (!valid(whole)) return fail(1007);
      const bytes = [...whole];
      const newlines = bytes.flatMap((b, i) => b === 0x0a ? [i] : []);
      events.push(
        lines ? { kind: "text", bytes, newlines } : { kind: "text", bytes },
      );
    }
    message = 0, discarding = false, bytes = 0, parts = [];
  }
  return events;
}

/** The parser under test, fed `stream` cut at random points, each chunk at a random alignment. */
function parsed(
  stream: number[],
  max: number,
  lines: boolean,
  next: () => number,
): Event[] {
  const parser = new FrameParser(max, lines);
  const events: Event[] = [];
  let at = 0;
  while (at < stream.length) {
    const r = next();
    const n = r < 0.2
      ? 1 + Math.floor(next() * 8)
      : r < 0.9
      ? 1 + Math.floor(next() * 4096)
      : stream.length;
    const piece = stream.slice(at, at + n);
    at += piece.length;
    const align = Math.floor(next() * 4);
    const chunk = new Uint8Array(piece.length + 4).subarray(
      align,
      align + piece.length,
    );
    chunk.set(piece);
    parser.feed(chunk);
    for (let kind = parser.next(); kind !== undefined; kind = parser.next()) {
      if (kind === "text") {
        const bytes = [...parser.bytes];
        events.push(
          lines
            ? { kind, bytes, newlines: [...parser.newlines] }
            : { kind, bytes },
        );
      } else if (kind === "ping") {
        events.push({ kind, payload: [...parser.bytes] });
      } else if (kind === "close") events.push({ kind, code: parser.code });
      else if (kind === "fail") events.push({ kind, code: parser.code! });
      else events.push({ kind });
    }
    // A view handed out is only good until the next chunk: spoil this one.
    chunk.fill(0x55);
  }
  return events;
}

Deno.test("FrameParser agrees with a plain reading of RFC 6455 on random streams cut anywhere, and finds every newline in line mode", () => {
  for (let seed = 1; seed <= 400; seed++) {
    const next = random(seed);
    const max = [100, 1000, 5000, 1 << 20][seed % 4]!;
    const lines = seed % 3 === 0;
    const frames = randomStream(next);
    const stream = frames.flatMap((f) => encodeClient(f, next));
    const expected = oracle(frames, max, lines);
    assert.deepEqual(
      parsed(stream, max, lines, next),
      expected,
      `seed ${seed}`,
    );
  }
});
