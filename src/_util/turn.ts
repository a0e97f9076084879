/**
 * A share of each turn of the event loop for the loops that read
 * connections.
 *
 * Deno polls an op once when it is made, so a read whose bytes are already
 * buffered completes then and there, and so does a write the socket takes,
 * up to tokio's budget of 128 such polls per turn; past it an op joins the
 * pending ones, which progress only when the event loop turns. A busy
 * publisher's loop, each read completing at once, ran from microtask to
 * microtask and the loop seldom turned: in the harness's W3, writes to
 * subscribers whose sockets were empty waited up to 2 s, and 13,000 frames
 * queued behind one of them (RSS 300 MB).
 *
 * So each loop counts the bytes it reads here, and once all of them together
 * have read {@linkcode TURN_BYTES} in a turn, waits for the next. A turn ends
 * in the event loop's check phase (`setImmediate`), after its I/O.
 *
 * @module
 */

import { setImmediate } from "node:timers";

/** The bytes the connections together read in one turn: one full read. */
export const TURN_BYTES = 64 * 1024;

let bytes = 0;
let ending = false;
let next: PromiseWithResolvers<void> | undefined;

/**
 * Counts bytes just read and says whether the reader must wait for the next
 * turn of the event loop before it goes on.
 *
 * @param n the bytes read
 * @returns a promise to await first, or nothing when the turn has room
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readInTurn, TURN_BYTES } from "./turn.ts";
 * assert.equal(readInTurn(100), undefined);
 * const wait = readInTurn(TURN_BYTES);
 * assert.ok(wait instanceof Promise);
 * await wait; // the next turn
 * assert.equal(readInTurn(100), undefined);
 * ```
 */
export function readInTurn(n: number): Promise<void> | undefined {
  if (!ending) {
    ending = true;
    setImmediate(endTurn);
  }
  bytes += n;
  if (bytes < TURN_BYTES) return undefined;
  next ??= Promise.withResolvers();
  return next.promise;
}

function endTurn(): void {
  ending = false;
  bytes = 0;
  const waiting = next;
  next = undefined;
  waiting?.resolve();
}
