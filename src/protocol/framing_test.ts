import assert from "node:assert/strict";
import { LineSplitter, OVERSIZE } from "./framing.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Splits a whole stream fed in the given chunks; lines as strings, OVERSIZE as "!". */
function splitAll(max: number, chunks: Uint8Array[]): string[] {
  const splitter = new LineSplitter(max);
  const out: string[] = [];
  for (const chunk of chunks) {
    for (const line of splitter.split(chunk)) {
      out.push(line === OVERSIZE ? "!" : decoder.decode(line));
    }
  }
  return out;
}

function chunked(text: string, cuts: number[]): Uint8Array[] {
  const bytes = encoder.encode(text);
  const chunks: Uint8Array[] = [];
  let start = 0;
  for (const cut of [...cuts, bytes.length]) {
    chunks.push(bytes.slice(start, cut));
    start = cut;
  }
  return chunks;
}

Deno.test("LineSplitter splits lines however the stream is chunked", () => {
  const stream = "one\r\ntwo\n\n\r\nthré€\nfour-is-long\nfive\n6\n";
  const expected = ["one", "two", "thré€", "!", "five", "6"];
  const max = 8;
  const length = encoder.encode(stream).length;
  // Every single cut, and every pair of cuts.
  for (let a = 0; a <= length; a++) {
    assert.deepEqual(splitAll(max, chunked(stream, [a])), expected, `cut ${a}`);
    for (let b = a; b <= length; b++) {
      assert.deepEqual(
        splitAll(max, chunked(stream, [a, b])),
        expected,
        `cuts ${a},${b}`,
      );
    }
  }
  // One byte at a time.
  const bytes = encoder.encode(stream);
  assert.deepEqual(
    splitAll(max, [...bytes].map((b) => new Uint8Array([b]))),
    expected,
  );
});

Deno.test("LineSplitter allows a line of exactly the maximum, with either ending", () => {
  assert.deepEqual(splitAll(4, [encoder.encode("abcd\nabcd\r\nabcde\n")]), [
    "abcd",
    "abcd",
    "!",
  ]);
  assert.deepEqual(
    splitAll(4, chunked("abcd\r\nabcde\r\nx\n", [4, 5, 9, 10])),
    [
      "abcd",
      "!",
      "x",
    ],
  );
});

Deno.test("LineSplitter reports an oversize line once, before its end arrives", () => {
  const splitter = new LineSplitter(10);
  const reported: unknown[] = [];
  for (let i = 0; i < 1000; i++) {
    reported.push(...splitter.split(encoder.encode("x".repeat(100))));
  }
  assert.deepEqual(reported, [OVERSIZE]);
  const after = [...splitter.split(encoder.encode("yyy\nok\n"))];
  assert.deepEqual(after.map((l) => l === OVERSIZE ? "!" : decoder.decode(l)), [
    "ok",
  ]);
});

Deno.test("LineSplitter keeps a partial line across chunks without growing past the maximum", () => {
  const splitter = new LineSplitter(1 << 20);
  const part = encoder.encode("a".repeat(1000));
  for (let i = 0; i < 100; i++) assert.deepEqual([...splitter.split(part)], []);
  const [line] = [...splitter.split(encoder.encode("\n"))];
  assert.ok(line instanceof Uint8Array);
  assert.equal(line.length, 100_000);
});

Deno.test("LineSplitter refuses a maximum that is not a positive integer", () => {
  assert.throws(() => new LineSplitter(0), RangeError);
  assert.throws(() => new LineSplitter(1.5), RangeError);
});
