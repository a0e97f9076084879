/**
 * The boundary between the client and the bytes: a connection that sends and
 * receives frames. Each scheme has a thin adapter; the client never touches
 * `Deno` networking itself.
 *
 * @module
 */

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
