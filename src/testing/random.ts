/**
 * A small seeded PRNG for tests and benchmarks, so that a failing random case
 * can be replayed from its seed.
 *
 * @module
 */

/**
 * A seeded pseudo-random generator (mulberry32).
 *
 * @param seed any 32-bit integer; the same seed gives the same sequence
 * @returns a function that returns the next number in [0, 1)
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { random } from "./random.ts";
 * const a = random(42), b = random(42);
 * assert.equal(a(), b());
 * ```
 */
export function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
