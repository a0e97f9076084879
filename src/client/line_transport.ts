/**
 * The `tcp://` and `tls://` transports: one JSON object per line.
 *
 * @module
 */

import { abortable } from "../_util/deadline.ts";
import { writeAll } from "../_util/io.ts";
import { errorText, unbracket } from "../_util/text.ts";
import { LineSplitter, OVERSIZE } from "../protocol/framing.ts";
import type {
  Transport,
  TransportHandler,
  TransportOptions,
} from "./transport.ts";

const READ_BUFFER_BYTES = 64 * 1024;
const LF = 0x0a;
const encoder = new TextEncoder();

/**
 * Connects over TCP, or TLS for a `tls://` URL, and speaks the line protocol.
 *
 * @param url a `tcp://` or `tls://` URL with a port
 * @param options what connecting needs
 * @param handler where lines go
 * @returns the open transport
 * @throws {Error} the network's error (refused, unreachable, bad certificate, aborted)
 */
export async function openLineTransport(
  url: URL,
  options: TransportOptions,
  handler: TransportHandler,
): Promise<Transport> {
  const hostname = unbracket(url.hostname);
  const port = Number(url.port);
  let conn: Deno.TcpConn | Deno.TlsConn;
  if (url.protocol === "tls:") {
    const connecting = Deno.connectTls({
      hostname,
      port,
      ...(options.caCerts ? { caCerts: [...options.caCerts] } : {}),
      ...(options.clientCert
        ? { cert: options.clientCert.cert, key: options.clientCert.key }
        : {}),
    });
    conn = await connectStep(connecting, options.signal);
    try {
      // Certificate errors surface here rather than on the first read.
      await abortable(conn.handshake(), options.signal);
    } catch (err) {
      conn.close();
      throw err;
    }
  } else {
    conn = await Deno.connect({ hostname, port, signal: options.signal });
  }
  if ("setNoDelay" in conn) conn.setNoDelay(true);
  return new LineTransport(conn, {
    maxFrameBytes: options.maxFrameBytes,
    handler,
  });
}

/**
 * Waits for a step of connecting, unless the signal aborts first; a
 * connection that comes too late is closed.
 */
async function connectStep<T extends { close(): void }>(
  promise: Promise<T>,
  signal: AbortSignal,
): Promise<T> {
  try {
    return await abortable(promise, signal);
  } catch (err) {
    promise.then(closeQuietly, () => {});
    throw err;
  }
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(errorText(err));
}

function closeQuietly(resource: { close(): void }): void {
  try {
    resource.close();
  } catch {
    // Already closed.
  }
}

class LineTransport implements Transport {
  readonly presentsToken = false;
  readonly closed: Promise<Error | undefined>;
  readonly #conn: Deno.Conn;
  #queued: string[] = [];
  #writing: Promise<void> | undefined;
  #closing = false;
  #error: Error | undefined;

  constructor(
    conn: Deno.Conn,
    { maxFrameBytes, handler }: {
      maxFrameBytes: number;
      handler: TransportHandler;
    },
  ) {
    this.#conn = conn;
    this.closed = this.#read(maxFrameBytes, handler);
  }

  async #read(
    maxFrameBytes: number,
    handler: TransportHandler,
  ): Promise<Error | undefined> {
    const splitter = new LineSplitter(maxFrameBytes);
    const buffer = new Uint8Array(READ_BUFFER_BYTES);
    let midFrame = false;
    try {
      while (true) {
        const n = await this.#conn.read(buffer);
        if (n === null) {
          if (midFrame && !this.#closing) {
            this.#error ??= new Error(
              "the server closed the connection in the middle of a frame",
            );
          }
          break;
        }
        const chunk = buffer.subarray(0, n);
        midFrame = chunk[n - 1] !== LF;
        for (const line of splitter.split(chunk)) {
          if (line === OVERSIZE) handler.oversize();
          else handler.frame(line);
        }
      }
    } catch (err) {
      if (!this.#closing) {
        this.#error ??= asError(err);
      }
    } finally {
      this.close();
      await this.#writing;
    }
    return this.#error;
  }

  send(frames: readonly string[]): void {
    if (this.#closing) return;
    for (const frame of frames) this.#queued.push(frame, "\n");
    this.#writing ??= this.#write();
  }

  async #write(): Promise<void> {
    try {
      while (this.#queued.length > 0 && !this.#closing) {
        const bytes = encoder.encode(this.#queued.join(""));
        this.#queued = [];
        await writeAll(this.#conn, bytes);
      }
    } catch (err) {
      if (!this.#closing) {
        this.#error ??= asError(err);
        this.close();
      }
    } finally {
      this.#writing = undefined;
    }
  }

  close(): void {
    if (this.#closing) return;
    this.#closing = true;
    this.#queued = [];
    closeQuietly(this.#conn);
  }
}
