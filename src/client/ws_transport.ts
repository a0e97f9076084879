/**
 * The `ws://` and `wss://` transports: one JSON object per text frame.
 *
 * @module
 */

import { MistError } from "../protocol/errors.ts";
import { utf8Length } from "../protocol/codec.ts";
import type {
  Transport,
  TransportHandler,
  TransportOptions,
} from "./transport.ts";

/**
 * Opens a WebSocket to a server. The token goes in the `X-AUTH-TOKEN` header
 * (never in the URL); extra certificate authorities go to a Deno HTTP client.
 *
 * @param url a `ws://` or `wss://` URL
 * @param options what connecting needs
 * @param handler where frames go
 * @returns the open transport
 * @throws {MistError} `invalid token` when the server answered the upgrade with 401
 * @throws {Error} the network's error when it cannot connect
 */
export async function openWebSocketTransport(
  url: URL,
  options: TransportOptions,
  handler: TransportHandler,
): Promise<Transport> {
  options.signal.throwIfAborted();
  const client = options.caCerts
    ? Deno.createHttpClient({ caCerts: [...options.caCerts] })
    : undefined;
  const socket = new WebSocket(url, {
    ...(options.token !== undefined
      ? { headers: { "X-AUTH-TOKEN": options.token } }
      : {}),
    ...(client !== undefined ? { client } : {}),
  });
  socket.binaryType = "arraybuffer";
  const transport = new WebSocketTransport(socket, {
    presentsToken: options.token !== undefined,
    client,
    maxFrameBytes: options.maxFrameBytes,
    handler,
  });
  const opened = Promise.withResolvers<void>();
  const onAbort = () => {
    opened.reject(options.signal.reason);
    transport.close();
  };
  options.signal.addEventListener("abort", onAbort, { once: true });
  socket.addEventListener("open", () => opened.resolve(), { once: true });
  transport.closed.then((error) =>
    opened.reject(error ?? new Error("the server closed the connection"))
  );
  try {
    await opened.promise;
  } catch (err) {
    transport.close();
    await transport.closed;
    if (
      err instanceof Error && /Invalid status code:? 401\b/.test(err.message)
    ) {
      throw new MistError("invalid_token", "refused by the server (HTTP 401)");
    }
    if (
      err instanceof Error && /Invalid status code:? 403\b/.test(err.message)
    ) {
      throw new MistError("forbidden", "refused by the server (HTTP 403)");
    }
    throw err;
  } finally {
    options.signal.removeEventListener("abort", onAbort);
  }
  return transport;
}

class WebSocketTransport implements Transport {
  readonly presentsToken: boolean;
  readonly closed: Promise<Error | undefined>;
  readonly #socket: WebSocket;
  #closedByUs = false;
  #ended = false;

  constructor(
    socket: WebSocket,
    { presentsToken, client, maxFrameBytes, handler }: {
      presentsToken: boolean;
      client: Deno.HttpClient | undefined;
      maxFrameBytes: number;
      handler: TransportHandler;
    },
  ) {
    this.#socket = socket;
    this.presentsToken = presentsToken;
    const closed = Promise.withResolvers<Error | undefined>();
    this.closed = closed.promise;
    let error: Error | undefined;
    socket.addEventListener("message", (event: MessageEvent) => {
      const data = event.data;
      if (typeof data === "string") {
        if (
          data.length > maxFrameBytes ||
          (data.length * 3 > maxFrameBytes && utf8Length(data) > maxFrameBytes)
        ) {
          handler.oversize();
        } else {
          handler.frame(data);
        }
      } else if (data instanceof ArrayBuffer) {
        if (data.byteLength > maxFrameBytes) handler.oversize();
        else handler.frame(new Uint8Array(data));
      }
    });
    socket.addEventListener("error", (event) => {
      if (!this.#closedByUs) {
        error ??= new Error(
          event instanceof ErrorEvent && event.message
            ? event.message
            : "WebSocket error",
        );
      }
    });
    socket.addEventListener("close", (event: CloseEvent) => {
      this.#ended = true;
      if (error === undefined && !event.wasClean && !this.#closedByUs) {
        error = new Error(
          `the connection ended abnormally (WebSocket code ${event.code})`,
        );
      }
      try {
        client?.close();
      } catch {
        // Already closed.
      }
      closed.resolve(error);
    }, { once: true });
  }

  send(frames: readonly string[]): void {
    if (this.#ended || this.#socket.readyState !== WebSocket.OPEN) return;
    try {
      for (const frame of frames) this.#socket.send(frame);
    } catch {
      this.close();
    }
  }

  close(): void {
    if (this.#closedByUs || this.#ended) return;
    this.#closedByUs = true;
    try {
      this.#socket.close(1000);
    } catch {
      // Already closing.
    }
  }
}
