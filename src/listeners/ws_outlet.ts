/**
 * The writing side of a `ws://` connection (ws_listener.ts): one write at a
 * time on the socket, the outlet that hands it a flush (each delivery's
 * shared frame bytes, or line-mode frames), and the close frame.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { writeAll } from "../_util/io.ts";
import type { Frame } from "../protocol/codec.ts";
import type { Outlet } from "../server/transport.ts";
import {
  CLOSE_GOING_AWAY,
  closeFrame,
  encodeFrame,
  headerLength,
  lineGroups,
  OP_TEXT,
  writeHeader,
} from "./ws_frames.ts";

/** How long a close frame may take to leave before the socket is closed anyway. */
const CLOSE_GRACE_MS = 1000;

type Write = (bytes: Uint8Array) => Promise<void>;

/**
 * The writing side of an upgraded connection: one write at a time (a pong
 * never lands inside a batch of frames), then one close frame.
 */
export class Socket {
  readonly #conn: Deno.Conn;
  readonly #write: Write;
  #tail: Promise<void> = Promise.resolve();
  #pending = 0;
  #ending = false;

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
    this.#write = (bytes) => writeAll(conn, bytes);
  }

  /** Whether nothing is being written. */
  get idle(): boolean {
    return this.#pending === 0;
  }

  /** Closes the socket at once, without a close frame. */
  abort(): void {
    this.#ending = true;
    closeQuietly(this.#conn);
  }

  /** Writes bytes after what is being written. */
  send(bytes: Uint8Array): Promise<void> {
    if (this.#pending === 0) return this.#track(this.#write(bytes));
    return this.run((write) => write(bytes));
  }

  /** Runs a job that writes through `write`, after what is being written. */
  run(job: (write: Write) => Promise<void>): Promise<void> {
    return this.#track(
      this.#pending === 0
        ? job(this.#write)
        : this.#tail.then(() => job(this.#write)),
    );
  }

  #track(written: Promise<void>): Promise<void> {
    this.#pending++;
    this.#tail = written.then(this.#settle, this.#settle);
    return written;
  }

  readonly #settle = () => {
    this.#pending--;
  };

  /** Sends a close frame (once), then closes the socket. */
  end(code: number | undefined, reason?: string): void {
    if (this.#ending) return;
    this.#ending = true;
    const timer = setTimeout(() => closeQuietly(this.#conn), CLOSE_GRACE_MS);
    this.send(closeFrame(code, reason)).catch(() => {}).finally(() => {
      clearTimeout(timer);
      closeQuietly(this.#conn);
    });
  }
}

/** Bytes gathered into one write, at most (a frame larger is written alone). */
const WRITE_BYTES = 64 * 1024;

/**
 * The outlet: a flush that fits one write and finds the socket idle is taken
 * at once (so the outbox may queue more while it is written, as a socket
 * buffer would); otherwise the flush waits for the socket to take it. At most
 * one write of at most {@linkcode WRITE_BYTES} is in flight beyond the
 * outbound queue.
 */
export function webSocketOutlet(
  socket: Socket,
  lines: boolean,
  max: number,
): Outlet {
  return {
    write(frames: readonly Frame[]): void | Promise<void> {
      const idle = socket.idle;
      let bytes = 0;
      for (const frame of frames) bytes += frame.size;
      const written = !lines && frames.length === 1
        ? socket.send(frames[0]!.webSocket(textFrameOf))
        : socket.run((write) =>
          lines ? writeLines(write, frames, max) : writeFrames(write, frames)
        );
      if (!idle || bytes > WRITE_BYTES) return written;
      // Taken: a failure closes the socket, which ends the read loop.
      written.catch(() => socket.abort());
    },
    close() {
      socket.end(CLOSE_GOING_AWAY, "closing");
    },
  };
}

/** Plain mode: each frame's shared bytes, gathered into bounded writes. */
async function writeFrames(
  write: Write,
  frames: readonly Frame[],
): Promise<void> {
  const batch = new Batch(write);
  for (const frame of frames) await batch.add(frame.webSocket(textFrameOf));
  await batch.flush();
}

/** Line mode: the frames' lines packed into as few text frames as the maximum allows. */
async function writeLines(
  write: Write,
  frames: readonly Frame[],
  max: number,
): Promise<void> {
  const batch = new Batch(write);
  let start = 0;
  for (const [end, bytes] of lineGroups(frames, max)) {
    const header = new Uint8Array(headerLength(bytes));
    writeHeader(header, OP_TEXT, bytes);
    await batch.add(header);
    for (let i = start; i < end; i++) await batch.add(frames[i]!.line);
    start = end;
  }
  await batch.flush();
}

/** Gathers pieces into one buffer of at most {@linkcode WRITE_BYTES}, written when full. */
class Batch {
  readonly #write: Write;
  #pieces: Uint8Array[] = [];
  #bytes = 0;

  constructor(write: Write) {
    this.#write = write;
  }

  async add(piece: Uint8Array): Promise<void> {
    if (this.#bytes + piece.length > WRITE_BYTES) await this.flush();
    this.#pieces.push(piece);
    this.#bytes += piece.length;
  }

  flush(): Promise<void> {
    const pieces = this.#pieces;
    if (pieces.length === 0) return Promise.resolve();
    this.#pieces = [];
    this.#bytes = 0;
    return this.#write(
      pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces),
    );
  }
}

function closeQuietly(resource: { close(): void }): void {
  try {
    resource.close();
  } catch {
    // Already closed.
  }
}

/** A text frame of UTF-8 bytes. */
function textFrameOf(payload: Uint8Array): Uint8Array {
  return encodeFrame(OP_TEXT, payload);
}
