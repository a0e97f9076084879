/**
 * The mist client: requests that resolve when the server has applied them,
 * subscriptions read as async iterables, and a connection that comes back by
 * itself.
 *
 * The client core: it speaks to the server through a {@linkcode Transport}
 * and never touches `Deno` networking itself.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { MistError } from "../protocol/errors.ts";
import type { Message } from "../protocol/codec.ts";
import { parseServerAddress, safeText } from "./address.ts";
import { adminMethods, type MistAdmin } from "./admin.ts";
import { reconnectDelay, type ReconnectOptions } from "./backoff.ts";
import { BoundedQueue } from "./bounded_queue.ts";
import { Correlator, type PendingRequest } from "./correlator.ts";
import { parseServerFrame } from "../protocol/inbound.ts";
import {
  ClientSubscription,
  type Delivery,
  deliverySize,
  type SubscribeOptions,
  type Subscription,
  type SubscriptionHost,
} from "./subscription.ts";
import {
  type ConnectionMode,
  type ConnectOptions,
  positive,
  resolveOptions,
} from "./options.ts";
import { type ClientEvent, type ClientState, STATUS_BUFFER } from "./status.ts";
import type { Transport } from "./transport.ts";
import { openTransport } from "./transports.ts";

const log = getLogger(["mist", "client"]);

/** Requests a client may send again on a new connection. */
const REPEATABLE = new Set([
  "ping",
  "list",
  "tags",
  "subscribe",
  "unsubscribe",
]);

interface ClientRequest extends PendingRequest {
  readonly promise: Promise<Message | undefined>;
  /** Made by the client itself (handshake, re-subscription): never repeated. */
  readonly internal: boolean;
}

interface Link {
  transport: Transport | undefined;
  readonly correlator: Correlator;
  lost: boolean;
}

interface SubscriptionSet {
  readonly key: string;
  readonly tags: readonly string[];
  readonly locals: Set<ClientSubscription>;
}

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
 * import { connect, serve } from "@mist/mist";
 *
 * await using server = await serve({ listeners: ["tcp://127.0.0.1:0"] });
 * await using alice = await connect(server.addresses[0]!);
 * await using bob = await connect(server.addresses[0]!);
 *
 * const sub = await alice.subscribe(["hello"]);
 * await bob.publish(["hello", "world"], "hi!"); // everyone else subscribed receives it
 * for await (const msg of sub) {
 *   console.log(msg.tags, msg.data); // ["hello", "world"] "hi!"
 *   break; // unsubscribes
 * }
 * ```
 */
export class MistClient implements AsyncDisposable, AsyncIterable<Delivery> {
  /** The admin commands (PROTOCOL.md §4), for a client connected with the admin token. */
  readonly admin: MistAdmin;
  readonly #url: URL;
  readonly #token: string | undefined;
  readonly #mode: ConnectionMode;
  readonly #timeoutMs: number;
  readonly #requestTimeoutMs: number;
  readonly #reconnect: Readonly<Required<ReconnectOptions>> | undefined;
  readonly #whenDisconnected: "wait" | "fail";
  readonly #maxPendingBytes: number;
  readonly #maxFrameBytes: number;
  readonly #caCerts: readonly string[] | undefined;
  readonly #signal: AbortSignal | undefined;

  #state: ClientState | "connecting" = "connecting";
  #lastMode: "ids" | "legacy" | undefined;
  #link: Link | undefined;
  #lastId = 0;
  readonly #nextId = () => ++this.#lastId;
  #waiting: ClientRequest[] = [];
  readonly #unsettled = new Set<ClientRequest>();
  readonly #subs = new Map<string, SubscriptionSet>();
  readonly #readers = new Set<BoundedQueue<Delivery>>();
  readonly #statusReaders = new Set<BoundedQueue<ClientEvent>>();
  #establishing: { abort: AbortController; link: Link } | undefined;
  #establishDone: Promise<unknown> = Promise.resolve();
  #wake: (() => void) | undefined;
  #draining = false;
  #closing: Promise<void> | undefined;
  readonly #closed = Promise.withResolvers<Error | undefined>();
  readonly #onAbort = () => void this.close();
  readonly #subscriptionHost: SubscriptionHost = {
    release: (sub) => this.#release(sub),
    overflow: (sub) => this.#emit({ type: "slow", tags: sub.tags }),
  };

  private constructor(url: URL, options: ConnectOptions) {
    this.#url = url;
    const resolved = resolveOptions(options);
    this.#token = resolved.token;
    this.#mode = resolved.mode;
    this.#whenDisconnected = resolved.whenDisconnected;
    this.#timeoutMs = resolved.timeoutMs;
    this.#requestTimeoutMs = resolved.requestTimeoutMs;
    this.#maxPendingBytes = resolved.maxPendingBytes;
    this.#maxFrameBytes = resolved.maxFrameBytes;
    this.#reconnect = resolved.reconnect;
    this.#caCerts = resolved.caCerts;
    this.#signal = resolved.signal;
    this.admin = adminMethods((message) => this.#request(message));
  }

  /**
   * Connects to a server; {@linkcode connect} is the same.
   *
   * @param address the server: a URL (`tcp://`, `tls://`, `ws://`, `wss://`) or `host:port`
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
    await client.#open();
    return client;
  }

  /** The server, as a URL without credentials or query. */
  get server(): string {
    return safeText(this.#url);
  }

  /** Where the connection stands. */
  get state(): ClientState {
    return this.#state === "connecting" ? "reconnecting" : this.#state;
  }

  /**
   * How the current (or last) connection matches replies: `"ids"` when the
   * server acknowledges requests, `"legacy"` when it does not.
   */
  get mode(): "ids" | "legacy" | undefined {
    return this.#lastMode;
  }

  /**
   * Resolves once the client has closed and released its connection: with
   * `undefined` after {@linkcode MistClient.close} or an abort, or with the
   * error that closed it (a lost connection without reconnect, reconnect
   * attempts exhausted, a token refused on reconnecting). Never rejects.
   */
  get closed(): Promise<Error | undefined> {
    return this.#closed.promise;
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
   * import { connect, serve } from "@mist/mist";
   *
   * await using server = await serve({ listeners: ["tcp://127.0.0.1:0"] });
   * await using client = await connect(server.addresses[0]!);
   * const ms = await client.ping();
   * console.log(`pong ${ms.toFixed(1)} ms`);
   * ```
   */
  async ping(): Promise<number> {
    const start = performance.now();
    await this.#request({ command: "ping" });
    return performance.now() - start;
  }

  /**
   * Subscribes to the messages whose tags include all of these tags.
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
   * import { connect, serve } from "@mist/mist";
   *
   * await using server = await serve({ listeners: ["tcp://127.0.0.1:0"] });
   * await using client = await connect(server.addresses[0]!);
   * const sub = await client.subscribe(["onefish", "twofish"]);
   * server.publish(["twofish", "onefish", "redfish"], "stop");
   * for await (const msg of sub) {
   *   if (msg.data === "stop") break; // unsubscribes
   * }
   * ```
   */
  async subscribe(
    tags: readonly string[],
    options: SubscribeOptions = {},
  ): Promise<Subscription> {
    const set = tagSet(tags);
    const capacity = positive(
      "maxPendingBytes",
      options.maxPendingBytes,
      this.#maxPendingBytes,
    );
    this.#checkOpen();
    const key = JSON.stringify(set);
    let entry = this.#subs.get(key);
    if (entry === undefined) {
      entry = { key, tags: set, locals: new Set() };
      this.#subs.set(key, entry);
    }
    const sub = new ClientSubscription(set, {
      maxPendingBytes: capacity,
      host: this.#subscriptionHost,
    });
    entry.locals.add(sub);
    try {
      await this.#request({ command: "subscribe", tags: set });
    } catch (err) {
      this.#forget(sub);
      throw err;
    }
    return sub;
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
    const set = tagSet(tags);
    this.#checkOpen();
    const key = JSON.stringify(set);
    const entry = this.#subs.get(key);
    if (entry !== undefined) {
      this.#subs.delete(key);
      for (const sub of entry.locals) sub.end();
    }
    await this.#unsubscribeOnServer(set);
  }

  /**
   * Publishes a message: every other connection with a matching subscription
   * receives it (this one does not, PROTOCOL.md §2).
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
    tagSet(tags);
    if (typeof data !== "string") {
      throw new TypeError("data must be a string");
    }
    await this.#request({ command: "publish", tags: [...tags], data });
  }

  /**
   * The subscriptions the server holds for this connection.
   *
   * @returns each as a sorted tag array, the list sorted
   * @throws {MistError} when the server cannot be reached in time, or its reply is malformed
   */
  async list(): Promise<string[][]> {
    const reply = await this.#request({ command: "list" });
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
    const reply = await this.#request(request);
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
   * import { connect, serve } from "@mist/mist";
   *
   * await using server = await serve({ listeners: ["tcp://127.0.0.1:0"] });
   * await using client = await connect(server.addresses[0]!);
   * const messages = client.messages(); // buffers from now on
   * await client.subscribe(["a"]);
   * await client.subscribe(["b"]);
   * server.publish(["a", "b"], "once, though both match");
   * for await (const msg of messages) {
   *   console.log(msg.tags, msg.data);
   *   break;
   * }
   * ```
   */
  messages(options: SubscribeOptions = {}): AsyncIterableIterator<Delivery> {
    const capacity = positive(
      "maxPendingBytes",
      options.maxPendingBytes,
      this.#maxPendingBytes,
    );
    const queue: BoundedQueue<Delivery> = new BoundedQueue<Delivery>({
      capacity,
      sizeOf: deliverySize,
      onReturn: () => this.#readers.delete(queue),
      onOverflow: () => this.#emit({ type: "slow", tags: undefined }),
    });
    if (this.#state === "closed") queue.end();
    else this.#readers.add(queue);
    return queue;
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
   * import { connect, serve } from "@mist/mist";
   *
   * await using server = await serve({ listeners: ["tcp://127.0.0.1:0"] });
   * const client = await connect(server.addresses[0]!);
   * const status = client.status();
   * await client.close();
   * for await (const event of status) {
   *   if (event.type === "reconnect") console.log(`back after ${event.gapMs} ms`);
   * } // ends when the client closes
   * ```
   */
  status(): AsyncIterableIterator<ClientEvent> {
    const queue: BoundedQueue<ClientEvent> = new BoundedQueue<ClientEvent>({
      capacity: STATUS_BUFFER,
      overflow: "drop-oldest",
      onReturn: () => this.#statusReaders.delete(queue),
    });
    if (this.#state === "closed") queue.end();
    else this.#statusReaders.add(queue);
    return queue;
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
    return this.#shutdown(undefined);
  }

  /**
   * Closes the client gracefully: new requests fail at once, and those already
   * made get their answers (or time out) before the connection closes.
   *
   * @returns resolves once the client has closed
   */
  async drain(): Promise<void> {
    if (this.#closing !== undefined) return await this.#closing;
    this.#draining = true;
    await Promise.allSettled(
      [...this.#unsettled].filter((r) => !r.internal).map((r) => r.promise),
    );
    await this.close();
  }

  /** Drains the client (`await using client = await connect(...)`). */
  [Symbol.asyncDispose](): Promise<void> {
    return this.drain();
  }

  // ---- the connection -----------------------------------------------------

  async #open(): Promise<void> {
    if (this.#signal !== undefined) {
      this.#signal.throwIfAborted();
      this.#signal.addEventListener("abort", this.#onAbort, { once: true });
    }
    try {
      const link = await this.#establish();
      this.#install(link);
    } catch (err) {
      await this.#shutdown(err instanceof Error ? err : undefined);
      if (this.#signal?.aborted) throw this.#signal.reason;
      throw err;
    }
  }

  /** Opens a transport and shakes hands: authenticates, pings, learns the mode. */
  #establish(): Promise<Link> {
    const abort = new AbortController();
    const link: Link = {
      transport: undefined,
      correlator: new Correlator(
        this.#mode === "legacy" ? "legacy" : "detect",
        this.#nextId,
      ),
      lost: false,
    };
    this.#establishing = { abort, link };
    const done = this.#handshake(link, abort).finally(() => {
      if (this.#establishing?.link === link) this.#establishing = undefined;
    });
    this.#establishDone = done.catch(() => {});
    return done;
  }

  async #handshake(link: Link, abort: AbortController): Promise<Link> {
    const deadline = Date.now() + this.#timeoutMs;
    const timer = setTimeout(
      () =>
        abort.abort(
          new MistError(
            "timeout",
            `no connection within ${this.#timeoutMs} ms`,
          ),
        ),
      this.#timeoutMs,
    );
    try {
      let transport: Transport;
      try {
        transport = await openTransport(this.#url, {
          ...(this.#token !== undefined ? { token: this.#token } : {}),
          ...(this.#caCerts !== undefined ? { caCerts: this.#caCerts } : {}),
          maxFrameBytes: this.#maxFrameBytes,
          signal: abort.signal,
        }, {
          frame: (frame) => this.#onFrame(link, frame),
          oversize: () =>
            this.#report(
              link,
              new MistError(
                "protocol_error",
                `a frame from the server was longer than ${this.#maxFrameBytes} bytes; skipped`,
              ),
            ),
        });
      } catch (err) {
        if (err instanceof MistError && err.code !== "timeout") throw err;
        throw new MistError(
          "connection_failed",
          `${this.server}: ${describe(abort.signal.reason ?? err)}`,
          { cause: err },
        );
      }
      link.transport = transport;
      transport.closed.then((error) => this.#onClosed(link, error));
      if (abort.signal.aborted) {
        transport.close();
        throw abort.signal.reason;
      }
      const steps: ClientRequest[] = [];
      const remaining = Math.max(1, deadline - Date.now());
      if (this.#token !== undefined && !transport.presentsToken) {
        steps.push(
          this.#newRequest({ command: "auth", data: this.#token }, remaining),
        );
      }
      steps.push(this.#newRequest({ command: "ping" }, remaining));
      const onAbort = () => transport.close();
      abort.signal.addEventListener("abort", onAbort, { once: true });
      try {
        transport.send(steps.flatMap((step) => link.correlator.encode(step)));
        await Promise.all(steps.map((step) => step.promise));
      } catch (err) {
        transport.close();
        // Aborted: the time is up (or the client is closing), which closed the
        // transport; say so rather than that the server closed it.
        const reason = abort.signal.aborted ? abort.signal.reason : err;
        if (reason instanceof MistError && reason.code === "timeout") {
          throw new MistError(
            "connection_failed",
            `${this.server}: no answer to the handshake within ${this.#timeoutMs} ms`,
            { cause: err },
          );
        }
        if (
          reason instanceof MistError && reason.code === "connection_closed"
        ) {
          throw new MistError(
            "connection_failed",
            `${this.server}: the server closed the connection during the handshake`,
            { cause: err },
          );
        }
        throw reason;
      } finally {
        abort.signal.removeEventListener("abort", onAbort);
      }
      if (this.#mode === "ids" && link.correlator.mode !== "ids") {
        transport.close();
        throw new MistError(
          "protocol_error",
          `${this.server} does not answer correlation ids; connect with mode "auto" or "legacy"`,
        );
      }
      return link;
    } catch (err) {
      // Whatever was opened is released before the failure is told.
      link.transport?.close();
      await link.transport?.closed;
      if (err instanceof MistError && err.code === "timeout") {
        throw new MistError(
          "connection_failed",
          `${this.server}: ${err.message}`,
          { cause: err },
        );
      }
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Makes a link the connection: subscribes again, sends what waited.
   *
   * @returns resolves once the subscriptions are restored
   * @throws {MistError} `connection closed` when the link was lost meanwhile
   */
  #install(link: Link): Promise<void> {
    const transport = link.transport!;
    if (link.lost) {
      throw new MistError(
        "connection_closed",
        `${this.server}: the server closed the connection after the handshake`,
      );
    }
    this.#link = link;
    this.#state = "connected";
    this.#lastMode = link.correlator.mode === "ids" ? "ids" : "legacy";
    log.debug("Connected to {server} ({mode})", {
      server: this.server,
      mode: this.#lastMode,
    });
    const replays: Promise<void>[] = [];
    for (const entry of this.#subs.values()) {
      const request = this.#newRequest({
        command: "subscribe",
        tags: entry.tags,
      });
      transport.send(link.correlator.encode(request));
      replays.push(
        request.promise.then(
          () => {},
          (err) => this.#replayFailed(entry, err),
        ),
      );
    }
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const request of waiting) {
      if (!request.settled) this.#dispatch(request);
    }
    return Promise.all(replays).then(() => {});
  }

  #replayFailed(entry: SubscriptionSet, err: unknown): void {
    if (!(err instanceof MistError)) return;
    if (err.code === "connection_closed" || err.code === "client_closed") {
      return; // the next connection subscribes again
    }
    if (err.code !== "timeout" && this.#subs.get(entry.key) === entry) {
      // Refused by the server now (a grant revoked, a limit lowered).
      this.#subs.delete(entry.key);
      for (const sub of entry.locals) sub.end(err);
    }
    this.#emit({ type: "error", error: err });
  }

  #onClosed(link: Link, error: Error | undefined): void {
    if (link.lost) return;
    link.lost = true;
    const reason = new MistError(
      "connection_closed",
      `lost the connection to ${this.server}${
        error !== undefined ? `: ${describe(error)}` : ""
      }`,
      ...(error !== undefined ? [{ cause: error }] : []),
    );
    const abandoned = link.correlator.abandon();
    if (link !== this.#link || this.#state === "closed") {
      for (const request of abandoned) request.reject(reason);
      return;
    }
    this.#link = undefined;
    const repeat: ClientRequest[] = [];
    for (const request of abandoned as ClientRequest[]) {
      if (
        !request.internal && this.#whenDisconnected === "wait" &&
        REPEATABLE.has(request.request.command)
      ) {
        repeat.push(request);
      } else {
        request.reject(reason);
      }
    }
    this.#waiting.unshift(...repeat);
    log.debug("{error}", { error: reason.message });
    this.#emit({ type: "disconnect", error: reason });
    if (this.#reconnect === undefined) {
      void this.#shutdown(reason);
      return;
    }
    this.#state = "reconnecting";
    void this.#reconnectLoop(this.#reconnect, Date.now());
  }

  async #reconnectLoop(
    policy: Readonly<Required<ReconnectOptions>>,
    lostAt: number,
  ): Promise<void> {
    for (let attempt = 1;; attempt++) {
      if (this.#isClosed()) return;
      if (attempt > policy.maxAttempts) {
        void this.#shutdown(
          new MistError(
            "connection_failed",
            `${this.server}: gave up after ${policy.maxAttempts} attempts to reconnect`,
          ),
        );
        return;
      }
      const delayMs = reconnectDelay(attempt, policy);
      this.#emit({ type: "reconnecting", attempt, delayMs });
      await this.#sleep(delayMs);
      if (this.#isClosed()) return;
      let link: Link;
      try {
        link = await this.#establish();
      } catch (err) {
        if (this.#isClosed()) return;
        if (err instanceof MistError && err.code !== "connection_failed") {
          // The server answered, with an error (a token refused): trying
          // again would be refused the same way.
          void this.#shutdown(err);
          return;
        }
        log.debug("Reconnect attempt {attempt} failed: {error}", {
          attempt,
          error: err instanceof Error ? err.message : String(err),
        });
        continue;
      }
      if (this.#isClosed()) {
        link.transport?.close();
        return;
      }
      let restored: Promise<void>;
      try {
        restored = this.#install(link);
      } catch {
        continue;
      }
      await restored;
      if (this.#link === link) {
        this.#emit({
          type: "reconnect",
          attempts: attempt,
          gapMs: Date.now() - lostAt,
        });
      }
      return;
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        if (this.#wake === wake) this.#wake = undefined;
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.#wake = wake;
    });
  }

  #shutdown(error: Error | undefined): Promise<void> {
    if (this.#closing !== undefined) return this.#closing;
    this.#state = "closed";
    this.#signal?.removeEventListener("abort", this.#onAbort);
    this.#wake?.();
    const establishing = this.#establishing;
    establishing?.abort.abort(new MistError("client_closed"));
    establishing?.link.transport?.close();
    const link = this.#link;
    this.#link = undefined;
    link?.transport?.close();

    const failure = error instanceof MistError
      ? error
      : new MistError("client_closed", undefined, { cause: error });
    for (const request of [...this.#unsettled]) request.reject(failure);
    this.#waiting = [];
    for (const entry of this.#subs.values()) {
      for (const sub of entry.locals) sub.end(error);
    }
    this.#subs.clear();
    for (const reader of this.#readers) reader.end(error);
    this.#readers.clear();
    for (const reader of this.#statusReaders) reader.end();
    this.#statusReaders.clear();
    if (error !== undefined) {
      log.debug("Client of {server} closed: {error}", {
        server: this.server,
        error: error.message,
      });
    }
    this.#closing = Promise.all([
      link?.transport?.closed,
      this.#establishDone,
    ]).then(() => this.#closed.resolve(error));
    return this.#closing;
  }

  // ---- requests on the wire ----------------------------------------------

  /** Whether the client has closed; a method, so that awaits do not fool narrowing. */
  #isClosed(): boolean {
    return this.#state === "closed";
  }

  #checkOpen(): void {
    if (this.#state === "closed" || this.#draining) {
      throw new MistError("client_closed");
    }
  }

  #request(request: Message): Promise<Message | undefined> {
    try {
      this.#checkOpen();
    } catch (err) {
      return Promise.reject(err);
    }
    const pending = this.#newRequest(request, this.#requestTimeoutMs, false);
    this.#dispatch(pending);
    return pending.promise;
  }

  #newRequest(
    request: Message,
    timeoutMs: number = this.#requestTimeoutMs,
    internal = true,
  ): ClientRequest {
    const { promise, resolve, reject } = Promise.withResolvers<
      Message | undefined
    >();
    if (internal) promise.catch(() => {}); // whoever made it handles failures
    let settled = false;
    const settle = () => {
      settled = true;
      clearTimeout(timer);
      this.#unsettled.delete(pending);
    };
    const pending: ClientRequest = {
      request,
      internal,
      promise,
      get settled() {
        return settled;
      },
      resolve(reply) {
        if (settled) return;
        settle();
        resolve(reply);
      },
      reject(error) {
        if (settled) return;
        settle();
        reject(error);
      },
    };
    const timer = setTimeout(() => {
      const index = this.#waiting.indexOf(pending);
      if (index !== -1) this.#waiting.splice(index, 1);
      pending.reject(
        new MistError(
          "timeout",
          `no answer to "${request.command}" within ${timeoutMs} ms`,
        ),
      );
    }, timeoutMs);
    this.#unsettled.add(pending);
    return pending;
  }

  #dispatch(request: ClientRequest): void {
    const link = this.#link;
    if (link?.transport !== undefined) {
      link.transport.send(link.correlator.encode(request));
    } else if (this.#whenDisconnected === "fail") {
      request.reject(
        new MistError("not_connected", `reconnecting to ${this.server}`),
      );
    } else {
      this.#waiting.push(request);
    }
  }

  #onFrame(link: Link, frame: string | Uint8Array): void {
    if (link.lost) return;
    let message: Message;
    try {
      message = parseServerFrame(frame);
    } catch (err) {
      this.#report(link, err as MistError);
      return;
    }
    if (message.id === undefined && message.error === undefined) {
      if (message.command === "publish") {
        if (link === this.#link) this.#deliver(message);
        return;
      }
      if (message.command === "dropped") {
        const count = Number(message.data);
        this.#emit({
          type: "dropped",
          count: Number.isSafeInteger(count) ? count : 0,
        });
        return;
      }
    }
    if (!link.correlator.accept(message)) {
      this.#report(
        link,
        new MistError(
          "protocol_error",
          `unexpected "${message.command}" message from the server`,
        ),
      );
    }
  }

  #report(link: Link, error: MistError): void {
    if (link.lost) return;
    log.debug("{server}: {error}", {
      server: this.server,
      error: error.message,
    });
    this.#emit({ type: "error", error });
  }

  #deliver(message: Message): void {
    const tags = message.tags;
    if (tags === undefined || tags.length === 0) {
      this.#emit({
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
    if (this.#subs.size > 0) {
      const have = new Set(tags);
      for (const entry of this.#subs.values()) {
        if (entry.tags.every((tag) => have.has(tag))) {
          for (const sub of entry.locals) sub.push(delivery);
        }
      }
    }
    for (const reader of this.#readers) reader.push(delivery);
  }

  #emit(event: ClientEvent): void {
    for (const reader of this.#statusReaders) reader.push(event);
  }

  // ---- subscriptions ------------------------------------------------------

  /** Forgets a subscription the server did not take. */
  #forget(sub: ClientSubscription): void {
    const key = JSON.stringify(sub.tags);
    const entry = this.#subs.get(key);
    sub.end();
    if (entry === undefined || !entry.locals.delete(sub)) return;
    if (entry.locals.size === 0) this.#subs.delete(key);
  }

  async #release(sub: ClientSubscription): Promise<void> {
    const key = JSON.stringify(sub.tags);
    const entry = this.#subs.get(key);
    sub.end();
    if (entry === undefined || !entry.locals.delete(sub)) return;
    if (entry.locals.size > 0) return;
    this.#subs.delete(key);
    if (this.#state === "closed") return;
    await this.#unsubscribeOnServer(entry.tags);
  }

  async #unsubscribeOnServer(tags: readonly string[]): Promise<void> {
    if (this.#link === undefined && this.#whenDisconnected === "fail") {
      // The lost connection's subscriptions went with it, and the next one
      // will not be given this one.
      return;
    }
    await this.#request({ command: "unsubscribe", tags });
  }
}

/**
 * Connects to a mist server.
 *
 * @param address the server: a URL (`tcp://`, `tls://`, `ws://`, `wss://`;
 *   `http(s)://` means the WebSocket upgrade of an HTTP listener) or `host:port`
 * @param options how to connect and behave
 * @returns the connected client
 * @throws {TypeError} for a bad address; {@linkcode RangeError} for a bad option
 * @throws {MistError} `cannot connect` when the first attempt fails (the
 *   client reconnects only once it has been connected), `invalid token` when
 *   the server refused the token
 *
 * @example
 * ```ts
 * import { connect, serve } from "@mist/mist";
 *
 * await using server = await serve({ listeners: ["tcp://127.0.0.1:0"] });
 * // e.g. "tcp://127.0.0.1:1445", "127.0.0.1:1445", "ws://127.0.0.1:8888"
 * await using client = await connect(server.addresses[0]!, {
 *   token: Deno.env.get("MIST_TOKEN"), // presented on every (re)connect
 * });
 * console.log(await client.list()); // []
 * ```
 */
export function connect(
  address: string | URL,
  options: ConnectOptions = {},
): Promise<MistClient> {
  return MistClient.connect(address, options);
}

function tagSet(tags: unknown): string[] {
  if (
    !Array.isArray(tags) || tags.length === 0 ||
    !tags.every((tag) => typeof tag === "string" && tag !== "")
  ) {
    throw new TypeError("Tags must be a non-empty array of non-empty strings");
  }
  return [...new Set(tags as string[])].sort();
}

/** A network error in words, without anything a URL's query may hold. */
function describe(err: unknown): string {
  if (err instanceof MistError) return err.message;
  if (!(err instanceof Error)) return String(err);
  switch (err.name) {
    case "ConnectionRefused":
      return "connection refused";
    case "ConnectionReset":
      return "connection reset by the server";
    case "TimedOut":
      return "timed out";
    case "AbortError":
      return "aborted";
    default:
      return err.message;
  }
}
