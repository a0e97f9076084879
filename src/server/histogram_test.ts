import assert from "node:assert/strict";
import { FLUSH_BUCKETS, Histogram } from "./histogram.ts";

Deno.test("Histogram.observe() counts each value in the first bucket that holds it", () => {
  const histogram = new Histogram([0.1, 1]);
  for (const seconds of [0, 0.1, 0.2, 1, 3]) histogram.observe(seconds);
  // le="0.1", le="1", le="+Inf": cumulative, as Prometheus exposes them.
  assert.deepEqual(histogram.cumulative(), [2, 4, 5]);
  assert.equal(histogram.count, 5);
  assert.equal(histogram.sum, 4.3);
  assert.deepEqual(new Histogram().cumulative(), [
    ...FLUSH_BUCKETS.map(() => 0),
    0,
  ]);
});
