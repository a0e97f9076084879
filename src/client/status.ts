/**
 * What a client tells about its connection: its state and its events.
 *
 * @module
 */

import type { MistError } from "../protocol/errors.ts";
import { BoundedQueue } from "./bounded_queue.ts";

/**
 * Where a client's connection stands: `"reconnecting"` between a lost
 * connection and the next one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type ClientState, connect, serve } from "@mist/mist";
 *
 * await using server = await serve({ listeners: ["tcp://127.0.0.1:0"] });
 * const client = await connect(server.addresses[0]!);
 * const state: ClientState = client.state;
 * assert.equal(state, "connected");
 * await client.close();
 * assert.equal(client.state, "closed");
 * ```
 */
export type ClientState = "connected" | "reconnecting" | "closed";

/**
 * What happens to a client's connection, from {@linkcode MistClient.status}.
 *
 * - `disconnect`: the connection was lost; `error` says how.
 * - `reconnecting`: attempt number `attempt` starts after `delayMs`.
 * - `reconnect`: connected again after `attempts` attempts, authenticated and
 *   subscribed again; messages published during the `gapMs` without a
 *   connection were not received.
 * - `dropped`: the server dropped `count` messages to this client because it
 *   read too slowly (docs/protocol.md §7).
 * - `slow`: a subscription's buffer (`tags`; `undefined` for a
 *   {@linkcode MistClient.messages} iterator) is full and drops newer messages.
 * - `error`: something the client could not use: a malformed or oversized
 *   frame, an unexpected reply, a subscription the server refused after a reconnect.
 *
 * @example Log what happens to the connection
 * ```ts
 * import assert from "node:assert/strict";
 * import { type ClientEvent, connect, serve } from "@mist/mist";
 *
 * function eventText(event: ClientEvent): string {
 *   switch (event.type) {
 *     case "disconnect":
 *       return `lost: ${event.error.message}`;
 *     case "reconnecting":
 *       return `attempt ${event.attempt} in ${Math.round(event.delayMs)} ms`;
 *     case "reconnect":
 *       return `back after ${event.gapMs} ms; messages meanwhile are lost`;
 *     case "dropped":
 *       return `the server dropped ${event.count} messages`;
 *     case "slow":
 *       return `a buffer is full: ${event.tags ?? "all messages"}`;
 *     case "error":
 *       return event.error.message;
 *   }
 * }
 *
 * await using server = await serve({ listeners: ["tcp://127.0.0.1:0"] });
 * await using client = await connect(server.addresses[0]!);
 * // In a program: for await (const event of client.status()) log(eventText(event))
 * const status = client.status();
 * await client.subscribe(["news"], { maxPendingBytes: 1 }); // room for one message
 * server.publish(["news"], "read by nobody");
 * server.publish(["news"], "no room for this one");
 * const { value: event } = await status.next();
 * assert.equal(eventText(event!), "a buffer is full: news");
 * ```
 */
export type ClientEvent =
  | { readonly type: "disconnect"; readonly error: MistError }
  | {
    readonly type: "reconnecting";
    readonly attempt: number;
    readonly delayMs: number;
  }
  | {
    readonly type: "reconnect";
    readonly attempts: number;
    readonly gapMs: number;
  }
  | { readonly type: "dropped"; readonly count: number }
  | { readonly type: "slow"; readonly tags: readonly string[] | undefined }
  | { readonly type: "error"; readonly error: MistError };

/**
 * The most recent status events a {@linkcode MistClient.status} iterator keeps
 * unread; older ones are dropped.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { STATUS_BUFFER } from "@mist/mist";
 * assert.equal(STATUS_BUFFER, 256);
 * ```
 */
export const STATUS_BUFFER = 256;

/**
 * Hands each status event to every {@linkcode MistClient.status} iterator
 * open at the time.
 */
export class StatusFeed {
  readonly #readers = new Set<BoundedQueue<ClientEvent>>();
  #ended = false;

  /**
   * A new iterator of the events from now on; already ended once the feed has.
   *
   * @returns the iterator
   */
  reader(): AsyncIterableIterator<ClientEvent> {
    const queue: BoundedQueue<ClientEvent> = new BoundedQueue<ClientEvent>({
      capacity: STATUS_BUFFER,
      overflow: "drop-oldest",
      onReturn: () => this.#readers.delete(queue),
    });
    if (this.#ended) queue.end();
    else this.#readers.add(queue);
    return queue;
  }

  /**
   * Tells every reader.
   *
   * @param event what happened
   */
  emit(event: ClientEvent): void {
    for (const reader of this.#readers) reader.push(event);
  }

  /** Ends every reader, after what they have not read yet. Idempotent. */
  end(): void {
    this.#ended = true;
    for (const reader of this.#readers) reader.end();
    this.#readers.clear();
  }
}
