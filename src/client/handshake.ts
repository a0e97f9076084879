/**
 * One attempt at a connection: open a transport, present the token, ping, and
 * learn how the server matches replies (docs/protocol.md §5), all within the
 * connect timeout.
 *
 * @module
 */

import { MistError } from "../protocol/errors.ts";
import { errorText } from "../_util/text.ts";
import type { ConnectionMode } from "./options.ts";
import type {
  ClientRequest,
  RequestTracker,
  ServerConnection,
} from "./requests.ts";
import type { Transport } from "./transport.ts";
import { openTransport } from "./transports.ts";

/** What connecting to a server needs. */
export interface HandshakeOptions {
  /** The server URL, from `parseServerAddress`. */
  readonly url: URL;
  /** The server, as it may appear in messages. */
  readonly server: string;
  readonly token: string | undefined;
  readonly caCerts: readonly string[] | undefined;
  /** A client certificate and its key, for `tls://`. */
  readonly clientCert: { cert: string; key: string } | undefined;
  readonly maxFrameBytes: number;
  readonly mode: ConnectionMode;
  /** The most time the attempt may take, handshake included, in milliseconds. */
  readonly timeoutMs: number;
  /** Makes the handshake's requests and the connection's correlator. */
  readonly requests: RequestTracker;
  /** Stops the attempt (the client is closing); its reason is what it fails with. */
  readonly signal: AbortSignal;
}

/** Where what happens on a connection goes, from its first frame on. */
export interface ConnectionHandler {
  /** A frame arrived (as `TransportHandler.frame` tells it). */
  frame(connection: ServerConnection, frame: string | Uint8Array): void;
  /** A frame longer than `maxFrameBytes` was skipped. */
  oversize(connection: ServerConnection): void;
  /** The transport ended, with the error that ended it. */
  closed(connection: ServerConnection, error: Error | undefined): void;
}

/**
 * Opens a connection and shakes hands: authenticates, pings, learns the mode.
 * Whatever was opened is released before a failure is told.
 *
 * @param options the server and how to connect
 * @param handler where the connection's frames and its end go
 * @returns the connection, ready for requests
 * @throws {MistError} `cannot connect` (unreachable, no answer in time, closed
 *   during the handshake), the server's error for the token (`invalid token`),
 *   `protocol error` for a server without ids in mode `"ids"`, or the signal's reason
 */
export async function openConnection(
  options: HandshakeOptions,
  handler: ConnectionHandler,
): Promise<ServerConnection> {
  const { server, timeoutMs } = options;
  const connection = options.requests.newConnection(options.mode === "legacy");
  const deadline = Date.now() + timeoutMs;
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = AbortSignal.any([options.signal, timeout]);
  const reason = (): unknown =>
    signal.reason === timeout.reason
      ? new MistError("timeout", `no connection within ${timeoutMs} ms`)
      : signal.reason;
  try {
    let transport: Transport;
    try {
      transport = await openTransport(options.url, {
        ...(options.token !== undefined ? { token: options.token } : {}),
        ...(options.caCerts !== undefined ? { caCerts: options.caCerts } : {}),
        ...(options.clientCert !== undefined
          ? { clientCert: options.clientCert }
          : {}),
        maxFrameBytes: options.maxFrameBytes,
        signal,
      }, {
        frame: (frame) => handler.frame(connection, frame),
        oversize: () => handler.oversize(connection),
      });
    } catch (err) {
      if (err instanceof MistError && err.code !== "timeout") throw err;
      throw new MistError(
        "connection_failed",
        `${server}: ${networkErrorText(signal.aborted ? reason() : err)}`,
        { cause: err },
      );
    }
    connection.transport = transport;
    transport.closed.then((error) => handler.closed(connection, error));
    if (signal.aborted) {
      transport.close();
      throw reason();
    }
    const steps: ClientRequest[] = [];
    const remaining = { timeoutMs: Math.max(1, deadline - Date.now()) };
    if (options.token !== undefined && !transport.presentsToken) {
      steps.push(options.requests.create(
        { command: "auth", data: options.token },
        remaining,
      ));
    }
    steps.push(options.requests.create({ command: "ping" }, remaining));
    const onAbort = () => transport.close();
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      transport.send(
        steps.flatMap((step) => connection.correlator.encode(step)),
      );
      await Promise.all(steps.map((step) => step.promise));
    } catch (err) {
      transport.close();
      // Aborted: the time is up (or the client is closing), which closed the
      // transport; say so rather than that the server closed it.
      const why = signal.aborted ? reason() : err;
      if (why instanceof MistError && why.code === "timeout") {
        throw new MistError(
          "connection_failed",
          `${server}: no answer to the handshake within ${timeoutMs} ms`,
          { cause: err },
        );
      }
      if (why instanceof MistError && why.code === "connection_closed") {
        throw new MistError(
          "connection_failed",
          `${server}: the server closed the connection during the handshake`,
          { cause: err },
        );
      }
      throw why;
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
    if (options.mode === "ids" && connection.correlator.mode !== "ids") {
      transport.close();
      throw new MistError(
        "protocol_error",
        `${server} does not answer correlation ids; connect with mode "auto" or "legacy"`,
      );
    }
    return connection;
  } catch (err) {
    connection.transport?.close();
    await connection.transport?.closed;
    if (err instanceof MistError && err.code === "timeout") {
      throw new MistError("connection_failed", `${server}: ${err.message}`, {
        cause: err,
      });
    }
    throw err;
  }
}

/**
 * A network error in words, without anything a URL's query may hold.
 *
 * @param err what a transport failed with
 * @returns e.g. `connection refused`
 */
export function networkErrorText(err: unknown): string {
  if (err instanceof MistError || !(err instanceof Error)) {
    return errorText(err);
  }
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
