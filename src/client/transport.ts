/**
 * The boundary between the client and the bytes: a connection that sends and
 * receives frames. Each scheme has a thin adapter, registered under its URL
 * scheme like every plug-in family of mist; the client never touches `Deno`
 * networking itself.
 *
 * @module
 */

import { Registry } from "../_util/registry.ts";

/** What a transport tells the client as frames arrive. */
export interface TransportHandler {
  /**
   * One frame arrived. Called in order; use the bytes before returning (they
   * may be a view of a reused buffer).
   *
   * @param frame a WebSocket text frame, or a line's UTF-8 bytes without its ending
   */
  frame(frame: string | Uint8Array): void;
  /** A frame longer than the limit arrived and was skipped without buffering it. */
  oversize(): void;
}

/** What opening a transport needs. */
export interface TransportOptions {
  /** The token, for transports that present it themselves (WebSocket: `X-AUTH-TOKEN`). */
  readonly token?: string;
  /** Extra PEM certificate authorities to trust (`tls://`, `wss://`). */
  readonly caCerts?: readonly string[];
  /** A client certificate and its key, PEM, to present (`tls://`). */
  readonly clientCert?: { readonly cert: string; readonly key: string };
  /** The longest frame accepted from the server, in bytes. */
  readonly maxFrameBytes: number;
  /** Aborts connecting (the client's connect timeout). */
  readonly signal: AbortSignal;
}

/** An open connection to a server. */
export interface Transport {
  /** Whether the transport presented the token itself, so no `auth` is sent. */
  readonly presentsToken: boolean;
  /**
   * Writes frames in order. Never throws: a failed write closes the transport.
   *
   * @param frames JSON texts, one message each
   */
  send(frames: readonly string[]): void;
  /** Closes the connection. Idempotent. */
  close(): void;
  /**
   * Resolves once the connection has ended and released its resources: with
   * the error that ended it, or `undefined` when it was closed or ended cleanly.
   */
  readonly closed: Promise<Error | undefined>;
}

/**
 * Opens a transport to a server.
 *
 * @param url the server URL, checked by `parseServerAddress`
 * @param options what connecting needs
 * @param handler where frames go
 * @returns the open transport
 * @throws {MistError} `invalid token` when the server refused the token before the upgrade
 * @throws {Error} the network's error when it cannot connect
 */
export type TransportFactory = (
  url: URL,
  options: TransportOptions,
  handler: TransportHandler,
) => Promise<Transport>;

const transports = new Registry<TransportFactory>("transport");

/**
 * Registers a transport factory under a URL scheme, replacing any before it.
 *
 * @param scheme the scheme without `:` or `//`, e.g. `"tcp"`
 * @param factory what opens a transport of that scheme
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { serve } from "../server/server.ts";
 * import { connect } from "./client.ts";
 * import { openLineTransport } from "./line_transport.ts";
 * import { registerTransport } from "./transport.ts";
 *
 * // The line protocol over TCP under another scheme, counting connections.
 * let opened = 0;
 * registerTransport("counted", (url, options, handler) => {
 *   opened++;
 *   return openLineTransport(url, options, handler);
 * });
 *
 * await using server = await serve({ listeners: ["tcp://127.0.0.1:0"] });
 * const { port } = new URL(server.addresses[0]!);
 * await using client = await connect(`counted://127.0.0.1:${port}`);
 * assert.equal(client.server, `counted://127.0.0.1:${port}`);
 * assert.equal(opened, 1);
 * ```
 */
export function registerTransport(
  scheme: string,
  factory: TransportFactory,
): void {
  transports.register(scheme, factory);
}

/**
 * The schemes a transport is registered for: those `connect()` accepts.
 *
 * @returns the schemes, lower-case, in the order they were first registered
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { registerTransport, transportSchemes } from "./transport.ts";
 * import { openLineTransport } from "./line_transport.ts";
 * registerTransport("TCP+Example", openLineTransport);
 * assert.ok(transportSchemes().includes("tcp+example"));
 * ```
 */
export function transportSchemes(): string[] {
  return transports.schemes();
}

/**
 * Opens the transport registered for a URL's scheme.
 *
 * @param url a server URL from `parseServerAddress`
 * @param options what connecting needs
 * @param handler where frames go
 * @returns the open transport
 * @throws {TypeError} for a scheme nobody registered
 * @throws {Error} whatever the transport throws when it cannot connect
 */
export const openTransport: TransportFactory = (url, options, handler) => {
  let factory: TransportFactory;
  try {
    factory = transports.require(url);
  } catch (err) {
    return Promise.reject(err);
  }
  return factory(url, options, handler);
};
