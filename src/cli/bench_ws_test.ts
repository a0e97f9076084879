import assert from "node:assert/strict";
import { batchOf } from "./bench_wire.ts";
import {
  clientFrames,
  controlFrame,
  FrameParser,
  mask,
  PACK,
} from "./bench_ws.ts";

const decoder = new TextDecoder();

/** A parser that keeps what it is handed, as text. */
function collect() {
  const got = { messages: [] as string[], pings: [] as string[], closed: 0 };
  const parser = new FrameParser({
    message: (b, s, e) => got.messages.push(decoder.decode(b.subarray(s, e))),
    ping: (p) => got.pings.push(decoder.decode(p)),
    close: () => got.closed++,
  });
  return { got, parser };
}

function feed(parser: FrameParser, bytes: Uint8Array, size: number): void {
  for (let i = 0; i < bytes.length; i += size) {
    parser.push(bytes.slice(i, i + size));
  }
}

const long = "y".repeat(70_000);
const texts = ["a\n", "bc\n", "x".repeat(200) + "\n", long + "\n", "d\n"];

Deno.test("client frames are masked and one message each without its newline", async (t) => {
  const frames = clientFrames(...batchOf(texts), false);
  // Every frame has the mask bit; 7-bit, 16-bit and 64-bit lengths.
  assert.equal(frames[0], 0x81);
  assert.equal(frames[1], 0x80 | 1);
  // "a" is its one payload byte, masked by the key before it.
  assert.equal(frames[6]! ^ frames[2]!, 0x61);
  for (const size of [1, 3, 100, 65_536, 1 << 20]) {
    await t.step(`reads of ${size} bytes`, () => {
      const { got, parser } = collect();
      feed(parser, frames, size);
      assert.deepEqual(got.messages, texts.map((m) => m.slice(0, -1)));
    });
  }
});

Deno.test("line mode packs whole messages up to PACK bytes a frame", () => {
  const { got, parser } = collect();
  parser.push(clientFrames(...batchOf(texts), true));
  assert.deepEqual(got.messages, [
    "a\nbc\n" + "x".repeat(200) + "\n",
    long + "\n",
    "d\n",
  ]);
  const many = Array.from({ length: 1000 }, () => "z".repeat(99) + "\n");
  const { got: packed, parser: p2 } = collect();
  p2.push(clientFrames(...batchOf(many), true));
  assert.equal(packed.messages.length, Math.ceil(100_000 / PACK));
  assert.ok(packed.messages.every((m) => m.length <= PACK));
  assert.equal(packed.messages.join(""), many.join(""));
});

Deno.test("the parser joins fragments and hands on pings and the close", () => {
  const { got, parser } = collect();
  const unmasked = (b0: number, text: string) =>
    new Uint8Array([b0, text.length, ...new TextEncoder().encode(text)]);
  parser.push(unmasked(0x01, "hel")); // text, not FIN
  parser.push(unmasked(0x89, "p")); // a ping between fragments
  parser.push(unmasked(0x00, "lo ")); // continuation
  parser.push(unmasked(0x80, "you")); // last continuation
  parser.push(unmasked(0x8a, "")); // pong: ignored
  parser.push(unmasked(0x81, "next"));
  parser.push(controlFrame(0x8, new Uint8Array([3, 232])));
  assert.deepEqual(got.messages, ["hello you", "next"]);
  assert.deepEqual(got.pings, ["p"]);
  assert.equal(got.closed, 1);
});

Deno.test("mask is its own inverse", () => {
  const bytes = new TextEncoder().encode("the quick brown fox");
  const key = new Uint8Array([1, 2, 250, 7]);
  mask(bytes, 2, 15, key);
  assert.notEqual(decoder.decode(bytes), "the quick brown fox");
  mask(bytes, 2, 15, key);
  assert.equal(decoder.decode(bytes), "the quick brown fox");
});
