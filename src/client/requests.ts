/**
 * Sending a client's requests and matching their replies: each request gets a
 * timeout, goes out on the current connection (or waits for the next one), and
 * settles when its connection's {@linkcode Correlator} sees its answer.
 *
 * @module
 */

import { MistError } from "../protocol/errors.ts";
import type { Message } from "../protocol/codec.ts";
import { Correlator, type PendingRequest } from "./correlator.ts";
import type { Transport } from "./transport.ts";

/** Requests a client may send again on a new connection. */
const REPEATABLE: ReadonlySet<string> = new Set([
  "ping",
  "list",
  "tags",
  "subscribe",
  "unsubscribe",
]);

/** A request of the client, waiting for its answer or its timeout. */
export interface ClientRequest extends PendingRequest {
  /** Settles with the request. */
  readonly promise: Promise<Message | undefined>;
  /** Made by the client itself (handshake, re-subscription): never repeated. */
  readonly internal: boolean;
}

/**
 * One connection to the server, as requests travel over it: its transport,
 * the correlator that matches its replies, and whether it was lost.
 */
export interface ServerConnection {
  /** `undefined` until the transport is open. */
  transport: Transport | undefined;
  readonly correlator: Correlator;
  lost: boolean;
}

/** How a {@linkcode RequestTracker} behaves. */
export interface RequestTrackerOptions {
  /** The server, as it may appear in messages. */
  readonly server: string;
  /** The most time a request waits for its answer, in milliseconds. */
  readonly requestTimeoutMs: number;
  /** Whether a request made without a connection waits for one or fails. */
  readonly whenDisconnected: "wait" | "fail";
  /** The connection requests go out on now, if any. */
  readonly connection: () => ServerConnection | undefined;
}

/** Every request of one client: sent, waiting for a connection, or in flight. */
export class RequestTracker {
  /** Whether a request made without a connection waits for one or fails. */
  readonly whenDisconnected: "wait" | "fail";
  readonly #server: string;
  readonly #requestTimeoutMs: number;
  readonly #connection: () => ServerConnection | undefined;
  #lastId = 0;
  readonly #nextId = () => ++this.#lastId;
  #waiting: ClientRequest[] = [];
  readonly #unsettled = new Set<ClientRequest>();
  #accepting = true;

  /** @param options how requests behave, and where they go */
  constructor(options: RequestTrackerOptions) {
    this.#server = options.server;
    this.#requestTimeoutMs = options.requestTimeoutMs;
    this.whenDisconnected = options.whenDisconnected;
    this.#connection = options.connection;
  }

  /** Whether there is a connection to send on. */
  get connected(): boolean {
    return this.#connection()?.transport !== undefined;
  }

  /**
   * A fresh connection's state, before its transport opens. Its correlator
   * takes ids from this tracker, so a late reply on one connection can never
   * be taken for another request's.
   *
   * @param legacy whether to use ping barriers from the start rather than detect
   * @returns the connection
   */
  newConnection(legacy: boolean): ServerConnection {
    return {
      transport: undefined,
      correlator: new Correlator(legacy ? "legacy" : "detect", this.#nextId),
      lost: false,
    };
  }

  /**
   * Throws unless new requests are accepted.
   *
   * @throws {MistError} `client closed` once the client drains or closes
   */
  checkOpen(): void {
    if (!this.#accepting) throw new MistError("client_closed");
  }

  /**
   * Sends a request of the user.
   *
   * @param request the request, without an id
   * @returns its reply, or `undefined` when it has none
   * @throws {MistError} its error, `timed out`, `not connected`, `client closed`
   */
  send(request: Message): Promise<Message | undefined> {
    try {
      this.checkOpen();
    } catch (err) {
      return Promise.reject(err);
    }
    const pending = this.create(request, { internal: false });
    this.#dispatch(pending);
    return pending.promise;
  }

  /**
   * Sends a request of the client itself (re-subscribing): never repeated on
   * another connection, and its failure is the caller's to handle.
   *
   * @param request the request, without an id
   * @returns its reply, or `undefined` when it has none
   */
  sendInternal(request: Message): Promise<Message | undefined> {
    const pending = this.create(request);
    this.#dispatch(pending);
    return pending.promise;
  }

  /**
   * A request that times out, not sent yet; the caller encodes it on a
   * connection of its choice (the handshake's).
   *
   * @param request the request, without an id
   * @param options its timeout (default the client's) and whether the client made it (default yes)
   * @returns the request
   */
  create(
    request: Message,
    { timeoutMs = this.#requestTimeoutMs, internal = true }: {
      timeoutMs?: number;
      internal?: boolean;
    } = {},
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
    // A timer that can be cleared: a request's usually settles long before.
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
    const connection = this.#connection();
    if (connection?.transport !== undefined) {
      connection.transport.send(connection.correlator.encode(request));
    } else if (this.whenDisconnected === "fail") {
      request.reject(
        new MistError("not_connected", `reconnecting to ${this.#server}`),
      );
    } else {
      this.#waiting.push(request);
    }
  }

  /** Sends what waited for a connection, now that there is one. */
  flushWaiting(): void {
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const request of waiting) {
      if (!request.settled) this.#dispatch(request);
    }
  }

  /**
   * Deals with the requests a lost connection had in flight: the user's that
   * are safe to repeat wait for the next connection (when requests wait at
   * all), the others fail.
   *
   * @param abandoned what its correlator gave up on, in the order sent
   * @param reason why the connection was lost
   * @param repeat whether requests may go out again on another connection
   */
  abandon(
    abandoned: readonly PendingRequest[],
    reason: MistError,
    repeat: boolean,
  ): void {
    const again: ClientRequest[] = [];
    for (const request of abandoned as readonly ClientRequest[]) {
      if (
        repeat && !request.internal && this.whenDisconnected === "wait" &&
        REPEATABLE.has(request.request.command)
      ) {
        again.push(request);
      } else {
        request.reject(reason);
      }
    }
    this.#waiting.unshift(...again);
  }

  /** Refuses new requests (draining); those already made go on. */
  refuseNew(): void {
    this.#accepting = false;
  }

  /**
   * Resolves once every request the user made has settled.
   *
   * @returns resolves, never rejects
   */
  async settled(): Promise<void> {
    await Promise.allSettled(
      [...this.#unsettled].filter((r) => !r.internal).map((r) => r.promise),
    );
  }

  /**
   * Fails every request not settled yet, and refuses new ones.
   *
   * @param error why
   */
  rejectAll(error: MistError): void {
    this.#accepting = false;
    for (const request of [...this.#unsettled]) request.reject(error);
    this.#waiting = [];
  }
}
