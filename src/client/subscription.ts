/**
 * A subscription as its holder sees it: the messages that match it, read with
 * `for await`, from a bounded buffer.
 *
 * @module
 */

import { BoundedQueue } from "./bounded_queue.ts";

/**
 * A message delivered to a subscriber, exactly as the server sent it:
 * `JSON.stringify` gives the wire form back.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Delivery } from "@mist/mist";
 *
 * const msg: Delivery = { command: "publish", tags: ["a", "b"], data: "hi" };
 * assert.equal(
 *   JSON.stringify(msg),
 *   '{"command":"publish","tags":["a","b"],"data":"hi"}',
 * );
 * ```
 */
export interface Delivery {
  /** Always `"publish"`. */
  readonly command: "publish";
  /** The message's tags, as published. */
  readonly tags: readonly string[];
  /** The payload. */
  readonly data: string;
}

/**
 * How one subscription buffers what it has not read yet.
 *
 * @example A small buffer for a subscriber that only wants the latest news
 * ```ts
 * import assert from "node:assert/strict";
 * import { connect, serve, type SubscribeOptions } from "@mist/mist";
 *
 * await using server = await serve({ listeners: ["tcp://127.0.0.1:0"] });
 * await using client = await connect(server.addresses[0]!);
 * const options: SubscribeOptions = { maxPendingBytes: 64 * 1024 };
 * const sub = await client.subscribe(["news"], options);
 * const story = "x".repeat(40 * 1024);
 * server.publish(["news"], story);
 * server.publish(["news"], story); // 80 KiB would wait unread: dropped
 * server.publish(["news"], "latest");
 * await client.ping(); // its pong comes after the messages: they wait unread
 * const read: string[] = [];
 * for await (const msg of sub) {
 *   read.push(msg.data);
 *   if (msg.data === "latest") break;
 * }
 * assert.deepEqual(read, [story, "latest"]);
 * assert.equal(sub.dropped, 1);
 * ```
 */
export interface SubscribeOptions {
  /**
   * The most its unread messages may take, in bytes (counted as the characters
   * of their data and tags, plus 64 per message). Once full, newer messages to
   * it are dropped and counted in {@linkcode Subscription.dropped}; the
   * client's status reports a `slow` event. Default: the client's
   * `maxPendingBytes` (8 MiB).
   */
  maxPendingBytes?: number;
}

/**
 * One subscription: an async iterable of the messages whose tags include all of
 * its tags. Breaking out of a `for await` over it unsubscribes it.
 *
 * The server holds one subscription per distinct tag set and connection; the
 * client counts how many of its subscriptions share a tag set and unsubscribes
 * on the server when the last one goes. A subscription survives reconnects: the
 * client subscribes again on each new connection.
 *
 * It ends with an error when the server takes it away: its iterator yields
 * what it buffered, then rejects with a `MistError` of code `forbidden`
 * (`forbidden: revoked ["a","b"]`) when an admin revokes a grant it needs
 * (docs/protocol.md §4), or with the server's error when the server refuses it on
 * a reconnect. Either way the client forgets it: it is not subscribed again.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { connect, serve } from "@mist/mist";
 *
 * await using server = await serve({ listeners: ["tcp://127.0.0.1:0"] });
 * await using client = await connect(server.addresses[0]!);
 * {
 *   await using sub = await client.subscribe(["b", "a", "a"]);
 *   assert.deepEqual(sub.tags, ["a", "b"]);
 *   server.publish(["a", "b", "c"], "hello");
 *   for await (const msg of sub) {
 *     assert.equal(msg.data, "hello");
 *     break;
 *   }
 *   assert.equal(sub.isClosed, true);
 * } // unsubscribed here, if the loop had not already
 * assert.deepEqual(await client.list(), []);
 * ```
 *
 * @example A revoked grant ends the subscription with `forbidden`
 * ```ts
 * import assert from "node:assert/strict";
 * import { connect, openAuthenticator, serve } from "@mist/mist";
 *
 * await using server = await serve({
 *   listeners: ["tcp://127.0.0.1:0"],
 *   authenticator: await openAuthenticator("memory://"),
 *   token: "admin-token",
 * });
 * await using admin = await connect(server.addresses[0]!, { token: "admin-token" });
 * await admin.admin.register("user-token", ["a", "b"]);
 * await using user = await connect(server.addresses[0]!, { token: "user-token" });
 * const sub = await user.subscribe(["a", "b"]);
 * await admin.admin.unset("user-token", ["b"]);
 * await assert.rejects(async () => {
 *   for await (const _ of sub) assert.fail("nothing was published");
 * }, { name: "MistError", code: "forbidden", message: 'forbidden: revoked ["a","b"]' });
 * assert.deepEqual(await user.list(), []); // and not subscribed again after a reconnect
 * ```
 */
export interface Subscription extends AsyncIterable<Delivery>, AsyncDisposable {
  /** Its tags, sorted and without duplicates. */
  readonly tags: readonly string[];
  /** Messages dropped because its buffer was full. */
  readonly dropped: number;
  /** Whether it has ended (unsubscribed, revoked, refused, or its client closed). */
  readonly isClosed: boolean;
  /** Resolves once it has ended. */
  readonly closed: Promise<void>;
  /**
   * Ends it: the iterator yields what is buffered, then finishes. Resolves when
   * the server has applied the unsubscription (at once when another
   * subscription of the client has the same tags, or when not connected).
   *
   * @throws {MistError} when the server answers with an error or cannot be reached in time
   */
  unsubscribe(): Promise<void>;
}

/**
 * The size a message counts for in a buffer.
 *
 * @param delivery the message
 * @returns the characters of its data and tags, plus 64
 */
export function deliverySize(delivery: Delivery): number {
  let size = 64 + delivery.data.length;
  for (const tag of delivery.tags) size += tag.length;
  return size;
}

/** What a {@linkcode ClientSubscription} needs from its client. */
export interface SubscriptionHost {
  /** Removes the subscription and unsubscribes when it was the last of its tags. */
  release(subscription: ClientSubscription): Promise<void>;
  /** Reports that its buffer started dropping messages. */
  overflow(subscription: ClientSubscription): void;
}

/** The client's side of a {@linkcode Subscription}. */
export class ClientSubscription implements Subscription {
  readonly tags: readonly string[];
  readonly #queue: BoundedQueue<Delivery>;
  readonly #host: SubscriptionHost;
  readonly #closed = Promise.withResolvers<void>();
  #isClosed = false;

  /**
   * @param tags its tags, sorted and without duplicates
   * @param options the size of its buffer, and its client
   */
  constructor(
    tags: readonly string[],
    { maxPendingBytes, host }: {
      maxPendingBytes: number;
      host: SubscriptionHost;
    },
  ) {
    this.tags = tags;
    this.#host = host;
    this.#queue = new BoundedQueue<Delivery>({
      capacity: maxPendingBytes,
      sizeOf: deliverySize,
      onReturn: () => {
        this.unsubscribe().catch(() => {
          // The client is closing or the server is gone: nothing to undo.
        });
      },
      onOverflow: () => host.overflow(this),
    });
  }

  get dropped(): number {
    return this.#queue.dropped;
  }

  get isClosed(): boolean {
    return this.#isClosed;
  }

  get closed(): Promise<void> {
    return this.#closed.promise;
  }

  /**
   * Buffers a message for the reader.
   *
   * @param delivery the message
   */
  push(delivery: Delivery): void {
    this.#queue.push(delivery);
  }

  /**
   * Ends the subscription on the client's side.
   *
   * @param error when given, what the reader gets after the buffered messages
   */
  end(error?: Error): void {
    if (this.#isClosed) return;
    this.#isClosed = true;
    this.#queue.end(error);
    this.#closed.resolve();
  }

  unsubscribe(): Promise<void> {
    return this.#host.release(this);
  }

  [Symbol.asyncIterator](): AsyncIterator<Delivery> {
    return this.#queue;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.unsubscribe();
  }
}
