/**
 * A client's connection over its life: the first connection, the routing of
 * what arrives on it, the reconnect loop with its status events after a loss,
 * and closing, which ends the requests, subscriptions and status iterators
 * that depended on it.
 *
 * @module
 */

import { getLogger } from "npm:@logtape/logtape@^2.4.2";
import { sleep } from "../_util/deadline.ts";
import { errorText } from "../_util/text.ts";
import { MistError } from "../protocol/errors.ts";
import type { Message } from "../protocol/codec.ts";
import { parseServerFrame } from "../protocol/inbound.ts";
import { reconnectDelay, type ReconnectOptions } from "./backoff.ts";
import {
  type ConnectionHandler,
  type HandshakeOptions,
  networkErrorText,
  openConnection,
} from "./handshake.ts";
import type { ResolvedOptions } from "./options.ts";
import type { RequestTracker, ServerConnection } from "./requests.ts";
import type { ClientEvent, ClientState, StatusFeed } from "./status.ts";
import type { SubscriptionRegistry } from "./subscription_registry.ts";

const log = getLogger(["mist", "client"]);

/** What a {@linkcode Connector} connects to and works with. */
export interface ConnectorOptions {
  /** The server URL, from `parseServerAddress`. */
  readonly url: URL;
  /** The server, as it may appear in messages. */
  readonly server: string;
  /** The client's options. */
  readonly options: ResolvedOptions;
  readonly requests: RequestTracker;
  readonly subscriptions: SubscriptionRegistry;
  readonly events: StatusFeed;
}

/** One client's connection over its life: made, replaced after each loss, closed. */
export class Connector {
  readonly #server: string;
  readonly #reconnect: Readonly<Required<ReconnectOptions>> | undefined;
  readonly #requests: RequestTracker;
  readonly #subscriptions: SubscriptionRegistry;
  readonly #events: StatusFeed;
  readonly #signal: AbortSignal | undefined;
  readonly #handshake: HandshakeOptions;
  readonly #handler: ConnectionHandler = {
    frame: (connection, frame) => this.#onFrame(connection, frame),
    oversize: (connection) =>
      this.#report(
        connection,
        new MistError(
          "protocol_error",
          `a frame from the server was longer than ${this.#handshake.maxFrameBytes} bytes; skipped`,
        ),
      ),
    closed: (connection, error) => this.#onLost(connection, error),
  };
  /** Aborted when the client closes: stops an attempt and the wait before the next. */
  readonly #stop = new AbortController();
  #state: ClientState | "connecting" = "connecting";
  #mode: "ids" | "legacy" | undefined;
  #current: ServerConnection | undefined;
  #attempt: Promise<unknown> = Promise.resolve();
  #closing: Promise<void> | undefined;
  readonly #closed = Promise.withResolvers<Error | undefined>();
  readonly #onAbort = () => void this.shutdown(undefined);
  readonly #pingIntervalMs: number;
  readonly #pingTimeoutMs: number;
  /** The next heartbeat ping of the current connection. */
  #beat: ReturnType<typeof setTimeout> | undefined;

  /** @param options what to connect to, and the client's parts it serves */
  constructor(options: ConnectorOptions) {
    this.#server = options.server;
    this.#reconnect = options.options.reconnect;
    this.#requests = options.requests;
    this.#subscriptions = options.subscriptions;
    this.#events = options.events;
    this.#signal = options.options.signal;
    this.#pingIntervalMs = options.options.pingIntervalMs;
    this.#pingTimeoutMs = options.options.pingTimeoutMs;
    const { token, caCerts, clientCert, maxFrameBytes, mode, timeoutMs } =
      options.options;
    this.#handshake = {
      url: options.url,
      server: options.server,
      token,
      caCerts,
      clientCert,
      maxFrameBytes,
      mode,
      timeoutMs,
      requests: options.requests,
      signal: this.#stop.signal,
    };
  }

  /** Where the connection stands (`"connecting"` until the first one). */
  get state(): ClientState | "connecting" {
    return this.#state;
  }

  /** How the current (or last) connection matches replies. */
  get mode(): "ids" | "legacy" | undefined {
    return this.#mode;
  }

  /** The connection requests go out on now, if any. */
  get current(): ServerConnection | undefined {
    return this.#current;
  }

  /** Resolves once closed, with the error that closed it, if any (see `MistClient.closed`). */
  get closed(): Promise<Error | undefined> {
    return this.#closed.promise;
  }

  /**
   * Makes the first connection; when it fails, closes.
   *
   * @throws {MistError} what {@linkcode openConnection} throws, or
   *   `connection closed` when the server closed it right after the handshake
   * @throws the client's signal's reason when it aborted
   */
  async open(): Promise<void> {
    if (this.#signal !== undefined) {
      this.#signal.throwIfAborted();
      this.#signal.addEventListener("abort", this.#onAbort, { once: true });
    }
    try {
      const connection = await this.#establish();
      this.#install(connection);
    } catch (err) {
      await this.shutdown(err instanceof Error ? err : undefined);
      if (this.#signal?.aborted) throw this.#signal.reason;
      throw err;
    }
  }

  /**
   * Closes once the requests the user made have settled; new ones are refused.
   *
   * @returns resolves once closed
   */
  async drain(): Promise<void> {
    if (this.#closing !== undefined) return await this.#closing;
    this.#requests.refuseNew();
    await this.#requests.settled();
    await this.shutdown(undefined);
  }

  /**
   * Closes for good: stops connecting, closes the connection, fails the
   * requests not settled yet, and ends the subscriptions and iterators after
   * what they buffered. Idempotent: the first call decides.
   *
   * @param error what closed the client, or `undefined` for a close or an abort
   * @returns resolves once the connection and any attempt have released what they held
   */
  shutdown(error: Error | undefined): Promise<void> {
    if (this.#closing !== undefined) return this.#closing;
    this.#state = "closed";
    this.#signal?.removeEventListener("abort", this.#onAbort);
    this.#stop.abort(new MistError("client_closed"));
    clearTimeout(this.#beat);
    const current = this.#current;
    this.#current = undefined;
    current?.transport?.close();
    this.#requests.rejectAll(
      error instanceof MistError
        ? error
        : new MistError("client_closed", undefined, { cause: error }),
    );
    this.#subscriptions.endAll(error);
    this.#events.end();
    if (error !== undefined) {
      log.debug("Client of {server} closed: {error}", {
        server: this.#server,
        error: error.message,
      });
    }
    this.#closing = Promise.all([current?.transport?.closed, this.#attempt])
      .then(() => this.#closed.resolve(error));
    return this.#closing;
  }

  /** Whether the client has closed; a method, so that awaits do not fool narrowing. */
  #isClosed(): boolean {
    return this.#state === "closed";
  }

  #establish(): Promise<ServerConnection> {
    const attempt = openConnection(this.#handshake, this.#handler);
    this.#attempt = attempt.catch(() => {});
    return attempt;
  }

  /**
   * Makes a connection the current one: subscribes again, sends what waited.
   *
   * @returns resolves once the subscriptions are restored
   * @throws {MistError} `connection closed` when the connection was lost meanwhile
   */
  #install(connection: ServerConnection): Promise<void> {
    if (this.#isClosed()) {
      connection.transport?.close();
      throw new MistError("client_closed");
    }
    if (connection.lost) {
      throw new MistError(
        "connection_closed",
        `${this.#server}: the server closed the connection after the handshake`,
      );
    }
    this.#current = connection;
    this.#state = "connected";
    this.#mode = connection.correlator.mode === "ids" ? "ids" : "legacy";
    log.debug("Connected to {server} ({mode})", {
      server: this.#server,
      mode: this.#mode,
    });
    const restored = this.#subscriptions.resubscribe();
    this.#requests.flushWaiting();
    this.#heartbeat(connection);
    return restored;
  }

  /**
   * Pings the current connection every `pingIntervalMs`; a pong that does not
   * come back within `pingTimeoutMs` closes it, which reconnects (a server
   * or a network that went silent without closing the connection).
   */
  #heartbeat(connection: ServerConnection): void {
    if (this.#pingIntervalMs === 0) return;
    const alive = () => connection === this.#current && !connection.lost;
    const beat = async () => {
      this.#beat = undefined;
      if (!alive()) return;
      const ping = this.#requests.create({ command: "ping" }, {
        timeoutMs: this.#pingTimeoutMs,
      });
      connection.transport?.send(connection.correlator.encode(ping));
      try {
        await ping.promise;
      } catch (err) {
        if (!alive()) return;
        log.debug("{server}: no pong within {ms} ms, reconnecting: {error}", {
          server: this.#server,
          ms: this.#pingTimeoutMs,
          error: errorText(err),
        });
        connection.transport?.close();
        return;
      }
      if (alive()) this.#beat = setTimeout(beat, this.#pingIntervalMs);
    };
    clearTimeout(this.#beat);
    this.#beat = setTimeout(beat, this.#pingIntervalMs);
  }

  #onLost(connection: ServerConnection, error: Error | undefined): void {
    if (connection.lost) return;
    connection.lost = true;
    const reason = new MistError(
      "connection_closed",
      `lost the connection to ${this.#server}${
        error !== undefined ? `: ${networkErrorText(error)}` : ""
      }`,
      ...(error !== undefined ? [{ cause: error }] : []),
    );
    const abandoned = connection.correlator.abandon();
    const wasCurrent = connection === this.#current && !this.#isClosed();
    this.#requests.abandon(abandoned, reason, wasCurrent);
    if (!wasCurrent) return;
    this.#current = undefined;
    clearTimeout(this.#beat);
    log.debug("{error}", { error: reason.message });
    this.#emit({ type: "disconnect", error: reason });
    if (this.#reconnect === undefined) {
      void this.shutdown(reason);
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
        void this.shutdown(
          new MistError(
            "connection_failed",
            `${this.#server}: gave up after ${policy.maxAttempts} attempts to reconnect`,
          ),
        );
        return;
      }
      const delayMs = reconnectDelay(attempt, policy);
      this.#emit({ type: "reconnecting", attempt, delayMs });
      await sleep(delayMs, this.#stop.signal);
      if (this.#isClosed()) return;
      let connection: ServerConnection;
      try {
        connection = await this.#establish();
      } catch (err) {
        if (this.#isClosed()) return;
        if (err instanceof MistError && err.code !== "connection_failed") {
          // The server answered, with an error (a token refused): trying
          // again would be refused the same way.
          void this.shutdown(err);
          return;
        }
        log.debug("Reconnect attempt {attempt} failed: {error}", {
          attempt,
          error: errorText(err),
        });
        continue;
      }
      if (this.#isClosed()) {
        connection.transport?.close();
        return;
      }
      let restored: Promise<void>;
      try {
        restored = this.#install(connection);
      } catch {
        continue;
      }
      await restored;
      if (this.#current === connection) {
        this.#emit({
          type: "reconnect",
          attempts: attempt,
          gapMs: Date.now() - lostAt,
        });
      }
      return;
    }
  }

  /** Routes a frame: deliveries, notices (`revoked`, `dropped`), and replies to their requests. */
  #onFrame(connection: ServerConnection, frame: string | Uint8Array): void {
    if (connection.lost) return;
    let message: Message;
    try {
      message = parseServerFrame(frame);
    } catch (err) {
      this.#report(connection, err as MistError);
      return;
    }
    if (message.id === undefined && message.error === undefined) {
      if (message.command === "publish") {
        if (connection === this.#current) {
          this.#subscriptions.deliver(message);
        }
        return;
      }
      if (message.command === "revoked") {
        if (connection === this.#current) {
          this.#subscriptions.revoke(message.tags);
        }
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
    if (!connection.correlator.accept(message)) {
      this.#report(
        connection,
        new MistError(
          "protocol_error",
          `unexpected "${message.command}" message from the server`,
        ),
      );
    }
  }

  #report(connection: ServerConnection, error: MistError): void {
    if (connection.lost) return;
    log.debug("{server}: {error}", {
      server: this.#server,
      error: error.message,
    });
    this.#emit({ type: "error", error });
  }

  #emit(event: ClientEvent): void {
    this.#events.emit(event);
  }
}
