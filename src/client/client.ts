/**
 * The mist client, the public face over its parts: the {@linkcode Connector}
 * keeps it connected, the {@linkcode RequestTracker} sends requests and
 * matches their replies, the {@linkcode SubscriptionRegistry} holds its
 * subscriptions and routes deliveries, and the {@linkcode StatusFeed} tells
 * what happens to the connection. It speaks through a `Transport` and never
 * touches `Deno` networking itself.
 *
 * @module
 */

import type { Message } from "../protocol/codec.ts";
import { parseServerAddress, safeText } from "./address.ts";
import { adminMethods, type MistAdmin } from "./admin.ts";
import { Connector } from "./connector.ts";
import { type ConnectOptions, resolveOptions } from "./options.ts";
import { RequestTracker } from "./requests.ts";
import { type ClientEvent, type ClientState, StatusFeed } from "./status.ts";
import type {
  Delivery,
  SubscribeOptions,
  Subscription,
} from "./subscription.ts";
import {
  canonicalTags,
  listReply,
  SubscriptionRegistry,
} from "./subscription_registry.ts";

/**
 * A connection to a mist server. Get one with {@linkcode connect}.
 *
 * Every request carries a correlation id, so each method resolves once the
 * server has applied the request and rejects with a {@linkcode MistError}
 * carrying the server's error text (against a server without ids, see
 * {@linkcode ConnectionMode}). Deliveries arrive per subscription, or all
 * together from `for await (const msg of client)`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { connect, serve } from "@mist/mist";
 *
 * await using server = await serve({ listeners: ["tcp://127.0.0.1:0"] });
 * await using alice = await connect(server.addresses[0]!);
 * await using bob = await connect(server.addresses[0]!);
 *
 * const sub = await alice.subscribe(["hello"]);
 * await bob.publish(["hello", "world"], "hi!"); // everyone else subscribed receives it
 * for await (const msg of sub) {
 *   assert.deepEqual(msg, { command: "publish", tags: ["hello", "world"], data: "hi!" });
 *   break; // unsubscribes
 * }
 * ```
 */
export class MistClient implements AsyncDisposable, AsyncIterable<Delivery> {
  /** The admin commands (docs/protocol.md §4), for a client connected with the admin token. */
  readonly admin: MistAdmin;
  readonly #url: URL;
  readonly #events = new StatusFeed();
  readonly #requests: RequestTracker;
  readonly #subscriptions: SubscriptionRegistry;
  readonly #connector: Connector;

  private constructor(url: URL, options: ConnectOptions) {
    this.#url = url;
    const resolved = resolveOptions(options);
    const server = safeText(url);
    this.#requests = new RequestTracker({
      ...resolved,
      server,
      connection: () => this.#connector.current,
    });
    this.#subscriptions = new SubscriptionRegistry({
      ...resolved,
      requests: this.#requests,
      events: this.#events,
    });
    this.#connector = new Connector({
      url,
      server,
      options: resolved,
      requests: this.#requests,
      subscriptions: this.#subscriptions,
      events: this.#events,
    });
    this.admin = adminMethods((message) => this.#requests.send(message));
  }

  /**
   * Connects to a server; {@linkcode connect} is the same.
   *
   * @param address the server: a URL (`tcp://`, `tls://`, `ws://`, `wss://`,
   *   or a scheme registered with `registerTransport`) or `host:port`
   * @param options how to connect and behave
   * @returns the connected client
   * @throws {TypeError} for a bad address; {@linkcode RangeError} for a bad option
   * @throws {MistError} `cannot connect` when the first attempt fails (the
   *   client reconnects only once it has been connected), `invalid token`
   *   when the server refused the token
   */
  static async connect(
    address: string | URL,
    options: ConnectOptions = {},
  ): Promise<MistClient> {
    const client = new MistClient(parseServerAddress(address), options);
    await client.#connector.open();
    return client;
  }

  /** The server, as a URL without credentials or query. */
  get server(): string {
    return safeText(this.#url);
  }

  /** Where the connection stands. */
  get state(): ClientState {
    const state = this.#connector.state;
    return state === "connecting" ? "reconnecting" : state;
  }

  /**
   * How the current (or last) connection matches replies: `"ids"` when the
   * server acknowledges requests, `"legacy"` when it does not.
   */
  get mode(): "ids" | "legacy" | undefined {
    return this.#connector.mode;
  }

  /**
   * Resolves once the client has closed and released its connection: with
   * `undefined` after {@linkcode MistClient.close} or an abort, or with the
   * error that closed it (a lost connection without reconnect, reconnect
   * attempts exhausted, a token refused on reconnecting). Never rejects.
   */
  get closed(): Promise<Error | undefined> {
    return this.#connector.closed;
  }

  // ---- requests -----------------------------------------------------------

  /**
   * Pings the server.
   *
   * @returns the round-trip time in milliseconds
   * @throws {MistError} when the server cannot be reached in time
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { connect, serve } from "@mist/mist";
   *
   * await using server = await serve({ listeners: ["tcp://127.0.0.1:0"] });
   * await using client = await connect(server.addresses[0]!);
   * const ms = await client.ping();
   * assert.ok(ms >= 0 && ms < 10_000, `pong in ${ms} ms`);
   * ```
   */
  async ping(): Promise<number> {
    const start = performance.now();
    await this.#requests.send({ command: "ping" });
    return performance.now() - start;
  }

  /**
   * Subscribes to the messages whose tags include all of these tags.
   *
   * A grant revoked by an admin (`unset`, `unregister`) ends it: its iterator
   * yields what it buffered, then rejects with a {@linkcode MistError} of code
   * `forbidden` (`forbidden: revoked ["a","b"]`), and it is not subscribed
   * again after a reconnect (docs/protocol.md §4, {@linkcode Subscription}).
   *
   * @param tags the subscription's tags (order and duplicates do not matter)
   * @param options its buffer
   * @returns the subscription, once the server has applied it
   * @throws {TypeError} when `tags` is not a non-empty array of non-empty strings
   * @throws {MistError} the server's error (`forbidden`, `too many subscriptions`...),
   *   or `timed out`, `not connected`, `client closed`
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { connect, serve } from "@mist/mist";
   *
   * await using server = await serve({ listeners: ["tcp://127.0.0.1:0"] });
   * await using client = await connect(server.addresses[0]!);
   * const sub = await client.subscribe(["onefish", "twofish"]);
   * server.publish(["onefish"], "not for it: twofish is missing");
   * server.publish(["twofish", "onefish", "redfish"], "for it: both, in any order");
   * for await (const msg of sub) {
   *   assert.equal(msg.data, "for it: both, in any order");
   *   break; // unsubscribes
   * }
   * assert.deepEqual(await client.list(), []);
   * ```
   */
  async subscribe(
    tags: readonly string[],
    options: SubscribeOptions = {},
  ): Promise<Subscription> {
    return await this.#subscriptions.subscribe(canonicalTags(tags), options);
  }

  /**
   * Removes the subscription with exactly these tags: every subscription of
   * this client with this tag set ends.
   *
   * @param tags the subscription's tags (order and duplicates do not matter)
   * @throws {TypeError} when `tags` is not a non-empty array of non-empty strings
   * @throws {MistError} the server's error, or `timed out`, `client closed`
   */
  async unsubscribe(tags: readonly string[]): Promise<void> {
    await this.#subscriptions.unsubscribe(canonicalTags(tags));
  }

  /**
   * Publishes a message: every other connection with a matching subscription
   * receives it (this one does not, docs/protocol.md §2).
   *
   * @param tags the message's tags
   * @param data the payload (may be empty, may hold newlines)
   * @throws {TypeError} for tags that are not a non-empty array of non-empty
   *   strings, or data that is not a string
   * @throws {MistError} the server's error (`forbidden`, `message too large`...),
   *   `connection closed` when the connection dropped before the server
   *   answered (it may or may not have been published), `timed out`,
   *   `not connected`, `client closed`
   */
  async publish(tags: readonly string[], data: string): Promise<void> {
    canonicalTags(tags);
    if (typeof data !== "string") {
      throw new TypeError("data must be a string");
    }
    await this.#requests.send({ command: "publish", tags: [...tags], data });
  }

  /**
   * The subscriptions the server holds for this connection.
   *
   * @returns each as a sorted tag array, the list sorted
   * @throws {MistError} when the server cannot be reached in time, or its reply is malformed
   */
  async list(): Promise<string[][]> {
    return listReply(await this.#requests.send({ command: "list" }));
  }

  /**
   * Sends any command, such as a custom command of the server.
   *
   * @param message the request (an `id` in it is replaced by the client's own)
   * @returns its reply without the `id`; for a command without a reply, its
   *   acknowledgement (`data: "ok"`) when the server sends ids, else `undefined`
   * @throws {TypeError} when `command` is not a non-empty string
   * @throws {MistError} the server's error, or `timed out`, `not connected`, `client closed`
   */
  async request(message: Message): Promise<Message | undefined> {
    if (typeof message?.command !== "string" || message.command === "") {
      throw new TypeError("command must be a non-empty string");
    }
    const { id: _, ...request } = message;
    const reply = await this.#requests.send(request);
    if (reply === undefined) return undefined;
    const { id: __, ...rest } = reply;
    return rest;
  }

  // ---- what arrives -------------------------------------------------------

  /**
   * Every message delivered to this client from now on, whichever of its
   * subscriptions matched it (once each). Each call gives an independent
   * iterator with its own buffer; break out of it to stop.
   *
   * @param options its buffer
   * @returns the messages
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { connect, serve } from "@mist/mist";
   *
   * await using server = await serve({ listeners: ["tcp://127.0.0.1:0"] });
   * await using client = await connect(server.addresses[0]!);
   * const messages = client.messages(); // buffers from now on
   * await client.subscribe(["a"]);
   * await client.subscribe(["b"]);
   * server.publish(["a", "b"], "once, though both match");
   * server.publish(["b"], "then this");
   * const read: string[] = [];
   * for await (const msg of messages) {
   *   read.push(msg.data);
   *   if (read.length === 2) break;
   * }
   * assert.deepEqual(read, ["once, though both match", "then this"]);
   * ```
   */
  messages(options: SubscribeOptions = {}): AsyncIterableIterator<Delivery> {
    return this.#subscriptions.messages(options);
  }

  /**
   * The same as {@linkcode MistClient.messages}: `for await (const msg of client)`.
   *
   * @returns an iterator of every message delivered from now on
   */
  [Symbol.asyncIterator](): AsyncIterator<Delivery> {
    return this.messages();
  }

  /**
   * What happens to the connection from now on; the iterator ends when the
   * client closes. It keeps the {@linkcode STATUS_BUFFER} most recent unread
   * events.
   *
   * @returns an iterator of {@linkcode ClientEvent}s
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { connect, serve } from "@mist/mist";
   *
   * const first = await serve({ listeners: ["tcp://127.0.0.1:0"] });
   * const address = first.addresses[0]!;
   * await using client = await connect(address, { reconnect: { initialDelayMs: 10 } });
   * const status = client.status();
   * await first.close(); // the connection is lost
   * await using _again = await serve({ listeners: [address] }); // the same port
   * const seen: string[] = [];
   * for await (const event of status) {
   *   seen.push(event.type);
   *   if (event.type === "reconnect") break; // subscribed again, after event.gapMs
   * }
   * assert.deepEqual([...new Set(seen)], ["disconnect", "reconnecting", "reconnect"]);
   * ```
   */
  status(): AsyncIterableIterator<ClientEvent> {
    return this.#events.reader();
  }

  // ---- closing ------------------------------------------------------------

  /**
   * Closes the client at once: requests still waiting fail with `client
   * closed`, subscriptions and iterators end after what they buffered.
   * Idempotent.
   *
   * @returns resolves once the connection is released
   */
  close(): Promise<void> {
    return this.#connector.shutdown(undefined);
  }

  /**
   * Closes the client gracefully: new requests fail at once, and those already
   * made get their answers (or time out) before the connection closes.
   *
   * @returns resolves once the client has closed
   */
  drain(): Promise<void> {
    return this.#connector.drain();
  }

  /** Drains the client (`await using client = await connect(...)`). */
  [Symbol.asyncDispose](): Promise<void> {
    return this.drain();
  }
}

/**
 * Connects to a mist server.
 *
 * @param address the server: a URL (`tcp://`, `tls://`, `ws://`, `wss://`,
 *   or a scheme registered with `registerTransport`; `http(s)://` means the
 *   WebSocket upgrade of an HTTP listener) or `host:port`
 * @param options how to connect and behave
 * @returns the connected client
 * @throws {TypeError} for a bad address; {@linkcode RangeError} for a bad option
 * @throws {MistError} `cannot connect` when the first attempt fails (the
 *   client reconnects only once it has been connected), `invalid token` when
 *   the server refused the token
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { connect, serve } from "@mist/mist";
 *
 * await using server = await serve({ listeners: ["tcp://127.0.0.1:0"] });
 * // e.g. "tcp://127.0.0.1:1445", "127.0.0.1:1445", "ws://127.0.0.1:8888"
 * await using client = await connect(server.addresses[0]!, {
 *   token: Deno.env.get("MIST_TOKEN"), // presented on every (re)connect
 * });
 * assert.equal(client.server, server.addresses[0]);
 * assert.deepEqual(await client.list(), []);
 * ```
 */
export function connect(
  address: string | URL,
  options: ConnectOptions = {},
): Promise<MistClient> {
  return MistClient.connect(address, options);
}
