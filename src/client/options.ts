/**
 * How a client connects and behaves: the options of `connect()`, their
 * defaults, and their checks.
 *
 * @module
 */

import { type ReconnectOptions, reconnectPolicy } from "./backoff.ts";

/**
 * How the client matches replies to requests.
 *
 * @example Talk to the original mist exactly as its own clients do
 * ```ts
 * import assert from "node:assert/strict";
 * import { type ConnectionMode, connect, serve } from "@mist/mist";
 *
 * await using server = await serve({ listeners: ["tcp://127.0.0.1:0"] });
 * const mode: ConnectionMode = "legacy";
 * await using client = await connect(server.addresses[0]!, { mode });
 * assert.equal(client.mode, "legacy"); // no ids, though this server has them
 * await client.subscribe(["a"]); // confirmed by the pong of a ping sent after it
 * assert.deepEqual(await client.list(), [["a"]]);
 * ```
 *
 * - `"auto"` (the default): it sends correlation ids (docs/protocol.md §5) and looks
 *   at the answer to the ping it sends on connecting: a server that echoes the
 *   id acknowledges every request; one that does not (the original mist) is
 *   driven as `"legacy"`. Decided again on every connection.
 * - `"ids"`: correlation ids only; connecting to a server without them fails.
 * - `"legacy"`: never sends ids, exactly like the original's clients. Each
 *   request but `ping` is followed by a `ping`; its pong confirms the request
 *   was applied, and an error that arrives before it is the request's.
 */
export type ConnectionMode = "auto" | "ids" | "legacy";

/**
 * How a {@linkcode MistClient} connects and behaves. Every field is optional.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { connect, type ConnectOptions, serve } from "@mist/mist";
 *
 * await using server = await serve({ listeners: ["tcp://127.0.0.1:0"] });
 * const stop = new AbortController();
 * const options: ConnectOptions = {
 *   token: Deno.env.get("MIST_TOKEN"), // none when unset
 *   reconnect: { initialDelayMs: 250, maxDelayMs: 10_000, maxAttempts: 20 },
 *   whenDisconnected: "fail", // don't queue requests while reconnecting
 *   requestTimeoutMs: 5_000,
 *   signal: stop.signal, // e.g. AbortSignal.timeout(60_000): close after a minute
 * };
 * const client = await connect(server.addresses[0]!, options);
 * assert.equal(client.state, "connected");
 * stop.abort(); // closes the client
 * assert.equal(await client.closed, undefined);
 * assert.equal(client.state, "closed");
 * ```
 */
export interface ConnectOptions {
  /**
   * The token to present: sent as `auth`, the first command, on `tcp://` and
   * `tls://`; in the `X-AUTH-TOKEN` header on `ws://` and `wss://`. Presented
   * again on every reconnect. `undefined` presents none.
   */
  token?: string | undefined;
  /** How replies are matched to requests (default `"auto"`). */
  mode?: ConnectionMode;
  /** The most time one connection attempt may take, handshake included, in milliseconds (default 10000). */
  timeoutMs?: number;
  /**
   * The most time a request may wait for its answer, in milliseconds, counted
   * from the call, so including any wait for a reconnect (default 10000).
   */
  requestTimeoutMs?: number;
  /**
   * Whether and how to reconnect after the connection is lost (default `true`:
   * capped exponential backoff from 100 ms to 5 s, half of it random, without
   * limit). With `false`, a lost connection closes the client.
   */
  reconnect?: boolean | ReconnectOptions;
  /**
   * What a request made while the client is reconnecting does: `"wait"` (the
   * default) is sent once the connection is back, or fails with `timed out`
   * after `requestTimeoutMs`; `"fail"` fails at once with `not connected`.
   *
   * A request in flight when the connection drops fails with `connection
   * closed` (the client cannot know whether the server applied it), except
   * `ping`, `list`, `tags`, `subscribe` and `unsubscribe`, which are safe to
   * repeat and, with `"wait"`, are sent again after reconnecting.
   */
  whenDisconnected?: "wait" | "fail";
  /**
   * The most unread messages may take in each subscription and each
   * {@linkcode MistClient.messages} iterator, in bytes (see
   * {@linkcode SubscribeOptions.maxPendingBytes}; default 8 MiB).
   */
  maxPendingBytes?: number;
  /** The longest frame accepted from the server, in bytes; longer ones are skipped and reported (default 8 MiB). */
  maxFrameBytes?: number;
  /**
   * PEM certificate authorities to trust besides the system's, for `tls://`
   * and `wss://` servers with certificates of their own.
   */
  caCerts?: readonly string[];
  /**
   * A client certificate chain, PEM, to present on `tls://` to a server that
   * asks for one (mutual TLS, `tls-client-ca`); goes with `key`.
   */
  cert?: string;
  /** The private key, PEM, of `cert`. */
  key?: string;
  /** Closes the client when aborted; connecting fails with its reason. */
  signal?: AbortSignal;
  /**
   * How often the client pings the server to find a dead connection (a
   * server or network that went silent without closing it), in milliseconds
   * (default 30000; 0: never).
   */
  pingIntervalMs?: number;
  /**
   * How long the client waits for the pong of such a ping before it drops
   * the connection and reconnects, in milliseconds (default 10000).
   */
  pingTimeoutMs?: number;
}

/** The wait for a connection and for each answer when none is given, in milliseconds. */
export const DEFAULT_TIMEOUT_MS = 10_000;
/** The buffer of each subscription and iterator when none is given, in bytes. */
export const DEFAULT_MAX_PENDING_BYTES = 8 * 1024 * 1024;
/** The longest frame accepted from a server when none is given, in bytes. */
export const DEFAULT_MAX_FRAME_BYTES = 8 * 1024 * 1024;
/** How often the client pings to find a dead connection when not told, in milliseconds. */
export const DEFAULT_PING_INTERVAL_MS = 30_000;
/** How long the client waits for such a pong when not told, in milliseconds. */
export const DEFAULT_PING_TIMEOUT_MS = 10_000;

/** {@linkcode ConnectOptions} checked, with every default filled in. */
export interface ResolvedOptions {
  readonly token: string | undefined;
  readonly mode: ConnectionMode;
  readonly timeoutMs: number;
  readonly requestTimeoutMs: number;
  /** `undefined`: do not reconnect. */
  readonly reconnect: Readonly<Required<ReconnectOptions>> | undefined;
  readonly whenDisconnected: "wait" | "fail";
  readonly maxPendingBytes: number;
  readonly maxFrameBytes: number;
  readonly caCerts: readonly string[] | undefined;
  /** The client certificate and its key (`cert` and `key`), when given. */
  readonly clientCert: { cert: string; key: string } | undefined;
  readonly signal: AbortSignal | undefined;
  /** 0: no heartbeat. */
  readonly pingIntervalMs: number;
  readonly pingTimeoutMs: number;
}

/**
 * Checks the options of `connect()` and fills in the defaults.
 *
 * @param options what the caller gave
 * @returns the options to use
 * @throws {TypeError} for a token that is not a non-empty string, an unknown
 *   mode, or a `cert` without a `key` (or the other way round)
 * @throws {RangeError} for a time or size that is not a positive number, or a
 *   bad reconnect policy
 */
export function resolveOptions(options: ConnectOptions): ResolvedOptions {
  if (
    options.token !== undefined &&
    (typeof options.token !== "string" || options.token === "")
  ) {
    throw new TypeError("token must be a non-empty string");
  }
  if ((options.cert === undefined) !== (options.key === undefined)) {
    throw new TypeError("cert and key go together: give both");
  }
  return {
    token: options.token,
    mode: oneOf("mode", options.mode, ["auto", "ids", "legacy"]),
    whenDisconnected: oneOf("whenDisconnected", options.whenDisconnected, [
      "wait",
      "fail",
    ]),
    timeoutMs: positive("timeoutMs", options.timeoutMs, DEFAULT_TIMEOUT_MS),
    requestTimeoutMs: positive(
      "requestTimeoutMs",
      options.requestTimeoutMs,
      DEFAULT_TIMEOUT_MS,
    ),
    maxPendingBytes: positive(
      "maxPendingBytes",
      options.maxPendingBytes,
      DEFAULT_MAX_PENDING_BYTES,
    ),
    maxFrameBytes: Math.floor(
      positive("maxFrameBytes", options.maxFrameBytes, DEFAULT_MAX_FRAME_BYTES),
    ),
    reconnect: reconnectPolicy(options.reconnect),
    caCerts: options.caCerts,
    clientCert: options.cert === undefined || options.key === undefined
      ? undefined
      : { cert: options.cert, key: options.key },
    signal: options.signal,
    pingIntervalMs: options.pingIntervalMs === 0 ? 0 : positive(
      "pingIntervalMs",
      options.pingIntervalMs,
      DEFAULT_PING_INTERVAL_MS,
    ),
    pingTimeoutMs: positive(
      "pingTimeoutMs",
      options.pingTimeoutMs,
      DEFAULT_PING_TIMEOUT_MS,
    ),
  };
}

/**
 * A number option that must be positive and finite.
 *
 * @param name the option, for the error
 * @param value what was given
 * @param fallback the default
 * @returns the value, or the default when none was given
 * @throws {RangeError} when it is not a positive finite number
 */
export function positive(
  name: string,
  value: number | undefined,
  fallback: number,
): number {
  if (value === undefined) return fallback;
  if (!(typeof value === "number" && value > 0 && Number.isFinite(value))) {
    throw new RangeError(`${name} must be a positive number, got ${value}`);
  }
  return value;
}

function oneOf<T extends string>(
  name: string,
  value: T | undefined,
  allowed: readonly T[],
): T {
  if (value === undefined) return allowed[0]!;
  if (!allowed.includes(value)) {
    throw new TypeError(
      `${name} must be one of ${allowed.map((a) => `"${a}"`).join(", ")}, got ${
        JSON.stringify(value)
      }`,
    );
  }
  return value;
}
