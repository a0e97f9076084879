/**
 * The `ws://` and `wss://` transports. The client offers the subprotocol
 * `mist.lines` (PROTOCOL.md §1, line mode): when the server's 101 names it,
 * every frame holds one or more messages each ended by `\n`, both ways;
 * otherwise one JSON object per text frame.
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
    protocols: [LINE_PROTOCOL],
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

/** The subprotocol of WebSocket line mode (PROTOCOL.md §1). */
export const LINE_PROTOCOL = "mist.lines";

/** The most UTF-16 code units packed into one outgoing frame in line mode. */
const PACK_LIMIT = 64 * 1024;

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
    const text = (data: string) => {
      if (
        data.length > maxFrameBytes ||
        (data.length * 3 > maxFrameBytes && utf8Length(data) > maxFrameBytes)
      ) {
        handler.oversize();
      } else {
        handler.frame(data);
      }
    };
    const bytes = (data: Uint8Array) => {
      if (data.byteLength > maxFrameBytes) handler.oversize();
      else handler.frame(data);
    };
    socket.addEventListener("message", (event: MessageEvent) => {
      const data = event.data;
      const lines = this.lineMode;
      if (typeof data === "string") {
        if (!lines) return text(data);
        let start = 0;
        for (let end; (end = data.indexOf("\n", start)) !== -1;) {
          if (end > start) text(data.slice(start, end));
          start = end + 1;
        }
        if (start < data.length) text(data.slice(start));
      } else if (data instanceof ArrayBuffer) {
        const all = new Uint8Array(data);
        if (!lines) return bytes(all);
        let start = 0;
        for (let end; (end = all.indexOf(10, start)) !== -1;) {
          if (end > start) bytes(all.subarray(start, end));
          start = end + 1;
        }
        if (start < all.length) bytes(all.subarray(start));
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

  /** Whether the server accepted line mode (`mist.lines`) in its 101. */
  get lineMode(): boolean {
    return this.#socket.protocol === LINE_PROTOCOL;
  }

  send(frames: readonly string[]): void {
    if (this.#ended || this.#socket.readyState !== WebSocket.OPEN) return;
    try {
      if (!this.lineMode) {
        for (const frame of frames) this.#socket.send(frame);
        return;
      }
      // Line mode: as many whole messages per frame as fit in PACK_LIMIT
      // (a longer message goes alone), each ended by a newline.
      let packed = "";
      for (const frame of frames) {
        if (packed !== "" && packed.length + frame.length >= PACK_LIMIT) {
          this.#socket.send(packed);
          packed = "";
        }
        packed += frame + "\n";
      }
      if (packed !== "") this.#socket.send(packed);
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
