/**
 * A client's subscriptions: one on the server per distinct tag set, shared by
 * every local subscription with those tags; the messages delivered to the
 * client routed to those that match, and to the client's message iterators;
 * and the subscriptions made again on each new connection.
 *
 * @module
 */

import { MistError } from "../protocol/errors.ts";
import type { Message } from "../protocol/codec.ts";
import { BoundedQueue } from "./bounded_queue.ts";
import { positive } from "./options.ts";
import type { RequestTracker } from "./requests.ts";
import type { StatusFeed } from "./status.ts";
import {
  ClientSubscription,
  type Delivery,
  deliverySize,
  type SubscribeOptions,
  type Subscription,
  type SubscriptionHost,
} from "./subscription.ts";

/** The subscription the server holds for a tag set, and the local ones sharing it. */
interface ServerSubscription {
  readonly key: string;
  readonly tags: readonly string[];
  readonly locals: Set<ClientSubscription>;
}

/** What a {@linkcode SubscriptionRegistry} works with. */
export interface SubscriptionRegistryOptions {
  /** Sends the subscribe and unsubscribe requests. */
  readonly requests: RequestTracker;
  /** Where slow readers and refused re-subscriptions are told. */
  readonly events: StatusFeed;
  /** The buffer of a subscription or iterator made without one, in bytes. */
  readonly maxPendingBytes: number;
}

/** Every subscription and message iterator of one client. */
export class SubscriptionRegistry {
  readonly #requests: RequestTracker;
  readonly #events: StatusFeed;
  readonly #maxPendingBytes: number;
  readonly #byTags = new Map<string, ServerSubscription>();
  readonly #readers = new Set<BoundedQueue<Delivery>>();
  #ended = false;
  readonly #host: SubscriptionHost;

  /** @param options the requests and the status feed */
  constructor(options: SubscriptionRegistryOptions) {
    this.#requests = options.requests;
    this.#events = options.events;
    this.#maxPendingBytes = options.maxPendingBytes;
    this.#host = {
      release: (sub) => this.#release(sub),
      overflow: (sub) => this.#events.emit({ type: "slow", tags: sub.tags }),
    };
  }

  /**
   * Adds a subscription and subscribes on the server.
   *
   * @param tags its tags, from {@linkcode canonicalTags}
   * @param options its buffer
   * @returns the subscription, once the server has applied it
   * @throws {RangeError} for a buffer that is not a positive number
   * @throws {MistError} the server's error, or `timed out`, `not connected`, `client closed`
   */
  async subscribe(
    tags: readonly string[],
    options: SubscribeOptions,
  ): Promise<Subscription> {
    const maxPendingBytes = this.#capacity(options);
    this.#requests.checkOpen();
    const key = JSON.stringify(tags);
    let entry = this.#byTags.get(key);
    if (entry === undefined) {
      entry = { key, tags, locals: new Set() };
      this.#byTags.set(key, entry);
    }
    const sub = new ClientSubscription(tags, {
      maxPendingBytes,
      host: this.#host,
    });
    entry.locals.add(sub);
    try {
      await this.#requests.send({ command: "subscribe", tags });
    } catch (err) {
      this.#forget(sub);
      throw err;
    }
    return sub;
  }

  /**
   * Ends every subscription with these tags and unsubscribes on the server.
   *
   * @param tags the tags, from {@linkcode canonicalTags}
   * @throws {MistError} the server's error, or `timed out`, `client closed`
   */
  async unsubscribe(tags: readonly string[]): Promise<void> {
    this.#requests.checkOpen();
    const key = JSON.stringify(tags);
    const entry = this.#byTags.get(key);
    if (entry !== undefined) {
      this.#byTags.delete(key);
      for (const sub of entry.locals) sub.end();
    }
    await this.#unsubscribeOnServer(tags);
  }

  /**
   * A new iterator of every message delivered from now on.
   *
   * @param options its buffer
   * @returns the iterator; already ended once the registry has
   * @throws {RangeError} for a buffer that is not a positive number
   */
  messages(options: SubscribeOptions): AsyncIterableIterator<Delivery> {
    const queue: BoundedQueue<Delivery> = new BoundedQueue<Delivery>({
      capacity: this.#capacity(options),
      sizeOf: deliverySize,
      onReturn: () => this.#readers.delete(queue),
      onOverflow: () => this.#events.emit({ type: "slow", tags: undefined }),
    });
    if (this.#ended) queue.end();
    else this.#readers.add(queue);
    return queue;
  }

  /**
   * Hands a delivery from the server to every subscription it matches and
   * every message iterator.
   *
   * @param message a `publish` message without an id
   */
  deliver(message: Message): void {
    const tags = message.tags;
    if (tags === undefined || tags.length === 0) {
      this.#events.emit({
        type: "error",
        error: new MistError("protocol_error", "a delivery without tags"),
      });
      return;
    }
    const delivery: Delivery = Object.freeze({
      command: "publish",
      tags: Object.freeze([...tags]),
      data: message.data ?? "",
    });
    if (this.#byTags.size > 0) {
      const have = new Set(tags);
      for (const entry of this.#byTags.values()) {
        if (entry.tags.every((tag) => have.has(tag))) {
          for (const sub of entry.locals) sub.push(delivery);
        }
      }
    }
    for (const reader of this.#readers) reader.push(delivery);
  }

  /**
   * Ends every subscription with these tags because the server dropped its
   * subscription: an admin revoked the grant (docs/protocol.md §4, the `revoked`
   * notice). The tag set is forgotten, so it is not subscribed again after a
   * reconnect, and nothing is sent: the server no longer holds it. Message
   * iterators go on.
   *
   * @param tags the notice's tags
   */
  revoke(tags: readonly string[] | undefined): void {
    if (tags === undefined || tags.length === 0) {
      this.#events.emit({
        type: "error",
        error: new MistError("protocol_error", "a revoked notice without tags"),
      });
      return;
    }
    const canonical = [...new Set(tags)].sort();
    const key = JSON.stringify(canonical);
    const entry = this.#byTags.get(key);
    // None: unsubscribed here while the notice was on its way.
    if (entry === undefined) return;
    this.#byTags.delete(key);
    const error = new MistError("forbidden", `revoked ${key}`);
    for (const sub of entry.locals) sub.end(error);
  }

  /**
   * Subscribes again on a new connection, which must be the current one. A
   * subscription the server refuses now ends with its error.
   *
   * @returns resolves once the server has answered each (never rejects)
   */
  resubscribe(): Promise<void> {
    const replays: Promise<void>[] = [];
    for (const entry of this.#byTags.values()) {
      replays.push(
        this.#requests.sendInternal({ command: "subscribe", tags: entry.tags })
          .then(() => {}, (err) => this.#replayFailed(entry, err)),
      );
    }
    return Promise.all(replays).then(() => {});
  }

  #replayFailed(entry: ServerSubscription, err: unknown): void {
    if (!(err instanceof MistError)) return;
    if (err.code === "connection_closed" || err.code === "client_closed") {
      return; // the next connection subscribes again
    }
    if (err.code !== "timeout" && this.#byTags.get(entry.key) === entry) {
      // Refused by the server now (a grant revoked, a limit lowered).
      this.#byTags.delete(entry.key);
      for (const sub of entry.locals) sub.end(err);
    }
    this.#events.emit({ type: "error", error: err });
  }

  /**
   * Ends every subscription and iterator, after what they buffered: the
   * client has closed.
   *
   * @param error when given, what their readers get after the buffered messages
   */
  endAll(error: Error | undefined): void {
    this.#ended = true;
    for (const entry of this.#byTags.values()) {
      for (const sub of entry.locals) sub.end(error);
    }
    this.#byTags.clear();
    for (const reader of this.#readers) reader.end(error);
    this.#readers.clear();
  }

  #capacity(options: SubscribeOptions): number {
    return positive(
      "maxPendingBytes",
      options.maxPendingBytes,
      this.#maxPendingBytes,
    );
  }

  /** Forgets a subscription the server did not take. */
  #forget(sub: ClientSubscription): void {
    const key = JSON.stringify(sub.tags);
    const entry = this.#byTags.get(key);
    sub.end();
    if (entry === undefined || !entry.locals.delete(sub)) return;
    if (entry.locals.size === 0) this.#byTags.delete(key);
  }

  async #release(sub: ClientSubscription): Promise<void> {
    const key = JSON.stringify(sub.tags);
    const entry = this.#byTags.get(key);
    sub.end();
    if (entry === undefined || !entry.locals.delete(sub)) return;
    if (entry.locals.size > 0) return;
    this.#byTags.delete(key);
    if (this.#ended) return;
    await this.#unsubscribeOnServer(entry.tags);
  }

  async #unsubscribeOnServer(tags: readonly string[]): Promise<void> {
    if (
      !this.#requests.connected && this.#requests.whenDisconnected === "fail"
    ) {
      // The lost connection's subscriptions went with it, and the next one
      // will not be given this one.
      return;
    }
    await this.#requests.send({ command: "unsubscribe", tags });
  }
}

/**
 * Checks a subscription's or a message's tags and puts them in the form the
 * client keys subscriptions by.
 *
 * @param tags what the caller gave
 * @returns the tags sorted, without duplicates
 * @throws {TypeError} when they are not a non-empty array of non-empty strings
 */
export function canonicalTags(tags: unknown): string[] {
  if (
    !Array.isArray(tags) || tags.length === 0 ||
    !tags.every((tag) => typeof tag === "string" && tag !== "")
  ) {
    throw new TypeError("Tags must be a non-empty array of non-empty strings");
  }
  return [...new Set(tags as string[])].sort();
}

/**
 * Reads the reply to `list`.
 *
 * @param reply the reply
 * @returns the subscriptions the server holds, each as a sorted tag array
 * @throws {MistError} `protocol error` when it is not a list of tag arrays
 */
export function listReply(reply: Message | undefined): string[][] {
  // The original mist answers "" for no subscriptions (and no JSON otherwise).
  if (reply?.data === "") return [];
  let value: unknown;
  try {
    value = JSON.parse(reply?.data ?? "");
  } catch {
    // Handled below.
  }
  if (
    !Array.isArray(value) ||
    !value.every((set) =>
      Array.isArray(set) && set.every((tag) => typeof tag === "string")
    )
  ) {
    throw new MistError(
      "protocol_error",
      'the reply to "list" is not a list of tag arrays',
    );
  }
  return value as string[][];
}
