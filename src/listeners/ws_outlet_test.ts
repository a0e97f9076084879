import assert from "node:assert/strict";
import { random } from "../testing/random.ts";
import { encode, type Frame } from "../protocol/codec.ts";
import { OP_TEXT } from "./ws_frames.ts";
import { Socket } from "./ws_outlet.ts";

const decoder = new TextDecoder();

/**
 * A connection that takes part of each write, and reads the bytes only when
 * the write settles: a buffer changed before that would show.
 */
function fakeConn(next: () => number) {
  const parts: Uint8Array[] = [];
  const conn = {
    write(bytes: Uint8Array): Promise<number> {
      // Half the writes are partial.
      const n = next() < 0.5
        ? bytes.length
        : Math.max(1, Math.floor(next() * bytes.length));
      return Promise.resolve().then(() => {
        parts.push(bytes.slice(0, n));
        return n;
      });
    },
    close() {},
  };
  return { conn: conn as unknown as Deno.Conn, parts };
}

/** The server frames in the bytes written: every one a final text frame. */
function serverFrames(parts: Uint8Array[]): string[] {
  const bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    bytes.set(p, at);
    at += p.length;
  }
  const frames: string[] = [];
  at = 0;
  while (at < bytes.length) {
    assert.equal(bytes[at], 0x80 | OP_TEXT, "a final text frame");
    let length = bytes[at + 1]!;
    at += 2;
    if (length === 126) {
      length = (bytes[at]! << 8) | bytes[at + 1]!;
      at += 2;
    } else if (length === 127) {
      const view = new DataView(bytes.buffer, at);
      length = view.getUint32(0) * 2 ** 32 + view.getUint32(4);
      at += 8;
    }
    assert.ok(at + length <= bytes.length, "a whole frame");
    frames.push(decoder.decode(bytes.subarray(at, at + length)));
    at += length;
  }
  return frames;
}

function randomFrames(next: () => number): Frame[] {
  const count = 1 + Math.floor(next() * 60);
  return Array.from({ length: count }, (_, i) => {
    const kind = next();
    const size = kind < 0.6
      ? Math.floor(next() * 200)
      : kind < 0.9
      ? Math.floor(next() * 70_000)
      : Math.floor(next() * 400_000);
    return encode({
      command: "publish",
      tags: ["t"],
      data: `${i}:` + "é".repeat(size >> 2) + "x".repeat(size - (size >> 2)),
    });
  });
}

Deno.test("the outlet writes each delivery as one text frame, whatever the flush and however the socket takes it", async () => {
  for (let seed = 1; seed <= 30; seed++) {
    const next = random(seed);
    const { conn, parts } = fakeConn(next);
    const socket = new Socket(conn, false, 1 << 20);
    const sent: string[] = [];
    for (let flush = 0; flush < 4; flush++) {
      const frames = randomFrames(next);
      sent.push(...frames.map((frame) => frame.text));
      await socket.write(frames);
    }
    while (!socket.idle) await new Promise((r) => setTimeout(r, 1));
    assert.deepEqual(serverFrames(parts), sent, `seed ${seed}`);
  }
});

Deno.test("line mode packs whole lines into frames of at most the maximum, a larger line alone", async () => {
  for (let seed = 1; seed <= 30; seed++) {
    const next = random(seed);
    const { conn, parts } = fakeConn(next);
    const max = [1000, 65536, 1 << 20][seed % 3]!;
    const socket = new Socket(conn, true, max);
    const sent: string[] = [];
    let flushes = 0;
    for (let flush = 0; flush < 4; flush++) {
      const frames = randomFrames(next);
      sent.push(...frames.map((frame) => frame.text));
      flushes++;
      await socket.write(frames);
    }
    while (!socket.idle) await new Promise((r) => setTimeout(r, 1));
    const received: string[] = [];
    for (const text of serverFrames(parts)) {
      assert.ok(text.endsWith("\n"), `seed ${seed}: whole lines`);
      const lines = text.slice(0, -1).split("\n");
      const bytes = new TextEncoder().encode(text).length;
      assert.ok(bytes <= max || lines.length === 1, `seed ${seed}: ${bytes}`);
      received.push(...lines);
    }
    assert.deepEqual(received, sent, `seed ${seed}`);
    assert.ok(flushes > 0);
  }
});

Deno.test("a flush that fits one write is taken at once; a larger one is waited for", async () => {
  const { conn } = fakeConn(() => 0.99);
  const socket = new Socket(conn, true, 1 << 20);
  const small = [encode({ command: "ping" })];
  assert.equal(socket.write(small), undefined);
  assert.ok(!socket.idle);
  const large = [encode({ command: "x", data: "y".repeat(300_000) })];
  const written = socket.write(large);
  assert.ok(written instanceof Promise);
  await written;
  while (!socket.idle) await new Promise((r) => setTimeout(r, 1));
});
