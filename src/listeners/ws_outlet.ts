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
import type { ByteConn } from "./listener.ts";

/** How long a close frame may take to leave before the socket is closed anyway. */
const CLOSE_GRACE_MS = 1000;

type Write = (bytes: Uint8Array) => Promise<void>;

/** Bytes gathered into one write, at most (a frame larger is written alone). */
const WRITE_BYTES = 64 * 1024;

/**
 * The writing side of an upgraded connection, and its outlet: one write at a
 * time (a pong never lands inside a batch of frames), then one close frame.
 *
 * A flush that fits one write and finds the socket idle is taken at once (so
 * the outbox may queue more while it is written, as a socket buffer would);
 * otherwise the flush waits for the socket to take it. At most one write of
 * at most {@linkcode WRITE_BYTES} is in flight beyond the outbound queue.
 *
 * One object per connection, its methods on the prototype: an idle
 * connection holds one closure here (`#settled`) and no promise.
 */
export class Socket implements Outlet {
  readonly #conn: ByteConn;
  readonly #lines: boolean;
  /** In line mode, the largest text frame's payload. */
  readonly #max: number;
  #tail: Promise<void> = DONE;
  #pending = 0;
  #ending = false;

  /**
   * @param conn the upgraded connection
   * @param lines whether it speaks line mode
   * @param max the largest message, in bytes
   */
  constructor(conn: ByteConn, lines: boolean, max: number) {
    this.#conn = conn;
    this.#lines = lines;
    this.#max = max;
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
    if (this.#pending === 0) return this.#track(writeAll(this.#conn, bytes));
    return this.#run((write) => write(bytes));
  }

  /** Runs a job that writes through `write`, after what is being written. */
  #run(job: (write: Write) => Promise<void>): Promise<void> {
    const write: Write = (bytes) => writeAll(this.#conn, bytes);
    return this.#track(
      this.#pending === 0 ? job(write) : this.#tail.then(() => job(write)),
    );
  }

  #track(written: Promise<void>): Promise<void> {
    this.#pending++;
    this.#tail = written.then(this.#settled, this.#settled);
    return written;
  }

  /** A write ended: an idle socket keeps no promise of its last one. */
  readonly #settled = () => {
    if (--this.#pending === 0) this.#tail = DONE;
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

  /** The outlet's write: a flush of frames. */
  write(frames: readonly Frame[]): void | Promise<void> {
    const idle = this.#pending === 0;
    let bytes = 0;
    for (const frame of frames) bytes += frame.size;
    const lines = this.#lines;
    const written = !lines && frames.length === 1
      ? this.send(frames[0]!.webSocket(textFrameOf))
      : this.#run((write) =>
        lines
          ? writeLines(write, frames, this.#max)
          : writeFrames(write, frames)
      );
    if (!idle || bytes > WRITE_BYTES) return written;
    // Taken: a failure closes the socket, which ends the read loop.
    written.catch(() => this.abort());
  }

  /** The outlet's close: the server ends the connection. */
  close(): void {
    this.end(CLOSE_GOING_AWAY, "closing");
  }
}

const DONE = Promise.resolve();

/** Plain mode: each frame's shared bytes, joined into writes of at most {@linkcode WRITE_BYTES}. */
async function writeFrames(
  write: Write,
  frames: readonly Frame[],
): Promise<void> {
  let i = 0;
  while (i < frames.length) {
    const first = frames[i]!.webSocket(textFrameOf);
    let size = first.length;
    let end = i + 1;
    for (; end < frames.length; end++) {
      const next = frames[end]!.webSocket(textFrameOf).length;
      if (size + next > WRITE_BYTES) break;
      size += next;
    }
    if (end === i + 1) {
      await write(first);
      i = end;
      continue;
    }
    const out = Buffer.allocUnsafe(size);
    let at = 0;
    for (; i < end; i++) {
      const bytes = frames[i]!.webSocket(textFrameOf);
      out.set(bytes, at);
      at += bytes.length;
    }
    await write(out);
  }
}

/**
 * Line mode: the frames' lines packed into as few text frames as the maximum
 * allows, headers and lines copied straight into one buffer per write of at
 * most {@linkcode WRITE_BYTES} (a larger text frame is written alone).
 */
async function writeLines(
  write: Write,
  frames: readonly Frame[],
  max: number,
): Promise<void> {
  const groups = [...lineGroups(frames, max)];
  let line = 0;
  let g = 0;
  while (g < groups.length) {
    let size = 0;
    let last = g;
    for (; last < groups.length; last++) {
      const bytes = groups[last]![1];
      const n = headerLength(bytes) + bytes;
      if (size > 0 && size + n > WRITE_BYTES) break;
      size += n;
    }
    const out = Buffer.allocUnsafe(size);
    let at = 0;
    for (; g < last; g++) {
      const [end, bytes] = groups[g]!;
      at += writeHeader(out.subarray(at), OP_TEXT, bytes);
      for (; line < end; line++) {
        const bytes = frames[line]!.line;
        out.set(bytes, at);
        at += bytes.length;
      }
    }
    await write(out);
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
