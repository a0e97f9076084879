import assert from "node:assert/strict";
import { now } from "./_clock.ts";

/** Counts the reads of `performance.now()` while `fn` runs. */
async function countingReads(
  fn: (reads: () => number) => Promise<void>,
): Promise<void> {
  const original = performance.now;
  let reads = 0;
  performance.now = () => {
    reads++;
    return original.call(performance);
  };
  try {
    await fn(() => reads);
  } finally {
    performance.now = original;
  }
}

function spin(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) { /* busy */ }
}

Deno.test("now() serves one read of performance.now() to a burst of calls", async () => {
  await new Promise((resolve) => setTimeout(resolve, 0));
  await countingReads(async (reads) => {
    const first = now();
    assert.equal(reads(), 1);
    for (let i = 0; i < 100; i++) assert.equal(now(), first);
    assert.equal(reads(), 1);
    await Promise.resolve();
  });
});

Deno.test("now() reads the time again once the queued microtasks have run", async () => {
  await new Promise((resolve) => setTimeout(resolve, 0));
  const first = now();
  spin(2);
  assert.equal(now(), first, "stale within the burst");
  await Promise.resolve();
  const second = now();
  assert.ok(second >= first + 2, `${second} after ${first}`);
});

Deno.test("now() is close to performance.now()", async () => {
  await new Promise((resolve) => setTimeout(resolve, 0));
  const before = performance.now();
  const t = now();
  const after = performance.now();
  assert.ok(t >= before && t <= after, `${before} ≤ ${t} ≤ ${after}`);
});
