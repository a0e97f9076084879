import assert from "node:assert/strict";
import { Slabs } from "./slabs.ts";

Deno.test("`Slabs.take()` cuts regions in order, 8-byte aligned, never twice, and numbers the slabs", () => {
  const slabs = new Slabs(64, 32);
  const a = slabs.take(10);
  const b = slabs.take(20);
  assert.equal(a.buffer, b.buffer);
  assert.equal(a.byteOffset, 0);
  assert.equal(b.byteOffset, 16, "after a, rounded up to 8");
  assert.equal(slabs.last, 1);
  a.fill(1);
  assert.ok(b.every((byte) => byte === 0), "regions do not overlap");
  const c = slabs.take(30); // 48 + 30 > 64: a new slab
  assert.notEqual(c.buffer, a.buffer);
  assert.equal(c.byteOffset, 0);
  assert.equal(slabs.last, 2);
});

Deno.test("`Slabs.take()` gives a region over the largest a buffer of its own", () => {
  const slabs = new Slabs(64, 32);
  slabs.take(8);
  const big = slabs.take(33);
  assert.equal(big.buffer.byteLength, 33);
  assert.equal(slabs.last, 0);
  assert.equal(slabs.take(8).byteOffset, 8, "the slab goes on after it");
  assert.equal(slabs.last, 1);
});
