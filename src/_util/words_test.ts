import assert from "node:assert/strict";
import { random } from "../testing/random.ts";
import { indexOfNewline, lowestByte, newlineBits, WordView } from "./words.ts";

Deno.test("`indexOfNewline()` finds what `indexOf(0x0a)` finds", () => {
  // Views at every alignment of a shared buffer, around the length where
  // words take over, with bytes that differ from 0x0a by a borrow or a bit.
  const bytes = [0x0a, 0x0b, 0x09, 0x8a, 0x0a, 0x00, 0xff, 0x7f, 0x41];
  const next = random(7);
  const buffer = new Uint8Array(512);
  for (let round = 0; round < 4000; round++) {
    const density = next() < 0.5 ? 0.02 : 0.3;
    for (let i = 0; i < buffer.length; i++) {
      buffer[i] = next() < density
        ? bytes[Math.floor(next() * bytes.length)]!
        : 0x61;
    }
    const start = Math.floor(next() * 16);
    const length = Math.floor(next() * 300);
    const view = buffer.subarray(start, start + length);
    const from = Math.floor(next() * (length + 2));
    assert.equal(
      indexOfNewline(view, from),
      view.indexOf(0x0a, from),
      `round ${round}: start ${start}, length ${length}, from ${from}`,
    );
  }
});

Deno.test("`indexOfNewline()` finds a newline in a word's last byte and at the end", () => {
  const bytes = new Uint8Array(200).fill(0x61);
  for (const at of [63, 64, 67, 128, 199]) {
    bytes.fill(0x61);
    bytes[at] = 0x0a;
    assert.equal(indexOfNewline(bytes, 0), at);
    assert.equal(indexOfNewline(bytes, at + 1), -1);
  }
  assert.equal(indexOfNewline(new Uint8Array(0), 0), -1);
});

Deno.test("`newlineBits()` is zero exactly when no byte is 0x0a", () => {
  const next = random(11);
  const word = new Uint8Array(4);
  const words = new Int32Array(word.buffer);
  for (let round = 0; round < 20000; round++) {
    for (let k = 0; k < 4; k++) {
      word[k] = next() < 0.2 ? 0x0a : Math.floor(next() * 256);
    }
    const first = word.indexOf(0x0a);
    const bits = newlineBits(words[0]!);
    assert.equal(bits !== 0, first >= 0, `word ${word}`);
    if (first >= 0) assert.equal(lowestByte(bits), first, `word ${word}`);
  }
});

Deno.test("`WordView.of()` keeps the view of the same buffer", () => {
  const view = new WordView();
  const a = new ArrayBuffer(16);
  const b = new ArrayBuffer(10);
  const first = view.of(a);
  assert.equal(view.of(a), first);
  assert.equal(first.length, 4);
  assert.equal(view.of(b).length, 2);
  assert.notEqual(view.of(a), first);
});
