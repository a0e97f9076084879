/**
 * Waiting for something asynchronous to become true, with a generous bound so
 * that a bug fails the test instead of hanging it. Never a timed assertion.
 *
 * @module
 */

import assert from "node:assert/strict";

/**
 * Polls a condition until it holds.
 *
 * @param condition checked every few milliseconds
 * @param what what is awaited, for the failure message
 * @param timeoutMs how long before giving up (generous: only to avoid hangs)
 */
export async function eventually(
  condition: () => boolean,
  what: string,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`never happened: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
