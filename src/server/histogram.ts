/**
 * A Prometheus histogram with fixed buckets, cheap enough for the hot path:
 * observing a value allocates nothing.
 *
 * @module
 */

/** The upper bounds of the buckets of {@linkcode Histogram}, in seconds. */
export const FLUSH_BUCKETS: readonly number[] = Object.freeze([
  0.0001,
  0.0005,
  0.001,
  0.005,
  0.01,
  0.05,
  0.1,
  0.5,
  1,
  5,
]);

/**
 * Counts of observed durations by bucket, their sum and their number.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Histogram } from "./histogram.ts";
 * const histogram = new Histogram();
 * histogram.observe(0.002);
 * assert.equal(histogram.count, 1);
 * assert.equal(histogram.cumulative()[3], 1); // le="0.005"
 * assert.equal(histogram.cumulative()[2], 0); // le="0.001"
 * ```
 */
export class Histogram {
  /** The buckets' upper bounds, in seconds, ascending. */
  readonly bounds: readonly number[];
  /** How many values were observed. */
  count = 0;
  /** The sum of the observed values, in seconds. */
  sum = 0;
  /** Per bucket, the values that fell in it (not cumulative); the last is `+Inf`. */
  readonly #counts: Float64Array;

  /**
   * Makes an empty histogram.
   *
   * @param bounds the buckets' upper bounds, ascending (default {@linkcode FLUSH_BUCKETS})
   */
  constructor(bounds: readonly number[] = FLUSH_BUCKETS) {
    this.bounds = bounds;
    this.#counts = new Float64Array(bounds.length + 1);
  }

  /**
   * Counts one value.
   *
   * @param seconds the value, in seconds
   */
  observe(seconds: number): void {
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && seconds > bounds[i]!) i++;
    this.#counts[i]!++;
    this.count++;
    this.sum += seconds;
  }

  /**
   * The cumulative counts, one per bound then `+Inf`, as Prometheus exposes them.
   *
   * @returns the values at or below each bound
   */
  cumulative(): number[] {
    const out: number[] = [];
    let total = 0;
    for (const n of this.#counts) out.push(total += n);
    return out;
  }
}
