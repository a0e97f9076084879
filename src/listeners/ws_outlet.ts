/**
 * The writing side of a `ws://` connection (ws_listener.ts): one write at a
 * time on the socket, the outlet that hands it a flush (each delivery's
 * shared frame bytes, or line-mode frames), and the close frame.
 *
 * @module
 */

import type { Frame } from "../protocol/codec.ts";
import type { Outlet } from "../server/transport.ts";
import {
  CLOSE_GOING_AWAY,
  closeFrame,
  encodeFrame,
  OP_TEXT,
  writeHeader,
} from "./ws_frames.ts";
import type { ByteConn } from "./listener.ts";
import { SpareChunk } from "./spare_chunk.ts";

/** How long a close frame may take to leave before the socket is closed anyway. */
const CLOSE_GRACE_MS = 1000;

/**
 * The most bytes one write copies frames into: a write packs queued frames
 * into a chunk up to this size (a busy connection reuses its chunk), so that
 * a stalled subscriber holds the frames it shares with others plus one chunk.
 * Four times the largest read, as on TCP (line_stream.ts): one read of a
 * publisher can queue about as many bytes for a subscriber as it read, and
 * 64 KiB chunks fell behind (W1 lost 0.8 % to full queues).
 */
const WRITE_BYTES = 256 * 1024;
/** The most bytes of a server frame's header. */
const HEADER_BYTES = 10;

/**
 * The writing side of an upgraded connection, and its outlet: one write at a
 * time (a pong never lands inside a batch of frames), then one close frame.
 *
 * A flush that fits one write and finds the socket idle is taken at once (so
 * the outbox may queue more while it is written, as a socket buffer would);
 * otherwise the flush waits for the socket to take it. At most one write of
 * at most {@linkcode WRITE_BYTES} is in flight beyond the outbound queue.
 *
 * A flush of one frame in plain mode writes the frame's shared bytes; any
 * other flush copies headers and lines straight into a chunk, with no buffer
 * per frame. One object per connection, its methods on the prototype: an
 * idle connection holds no closure and no promise here.
 */
export class Socket implements Outlet {
  readonly #conn: ByteConn;
  readonly #lines: boolean;
  /** In line mode, the largest text frame's payload. */
  readonly #max: number;
  #tail: Promise<void> = DONE;
  #pending = 0;
  #ending = false;
  /** The chunk a busy connection packs its writes into. */
  readonly #spare = new SpareChunk(WRITE_BYTES + 1);

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
    if (this.#pending === 0) return this.#track(this.#writeAll(bytes));
    return this.#track(this.#tail.then(() => this.#writeAll(bytes)));
  }

  #track(written: Promise<void>): Promise<void> {
    this.#pending++;
    // A closure per write rather than one per connection, held while idle.
    const settled = () => this.#settled();
    this.#tail = written.then(settled, settled);
    return written;
  }

  /** A write ended: an idle socket keeps no promise of its last one. */
  #settled(): void {
    if (--this.#pending === 0) this.#tail = DONE;
  }

  async #writeAll(bytes: Uint8Array): Promise<void> {
    const conn = this.#conn;
    let n = await conn.write(bytes);
    while (n < bytes.length) n += await conn.write(bytes.subarray(n));
  }

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
    for (let i = 0; i < frames.length; i++) bytes += frames[i]!.size;
    const written = !this.#lines && frames.length === 1
      ? this.send(frames[0]!.webSocket(textFrameOf))
      : this.#track(
        idle
          ? this.#pack(frames, bytes)
          : this.#tail.then(() => this.#pack(frames, bytes)),
      );
    if (!idle || bytes + HEADER_BYTES * frames.length > WRITE_BYTES) {
      return written;
    }
    // Taken: a failure closes the socket, which ends the read loop.
    written.catch(() => this.abort());
  }

  /**
   * Writes frames as WebSocket frames: in plain mode one text frame each, in
   * line mode their lines packed into as few text frames as the maximum
   * allows (a larger line alone). Headers and payloads are copied into a
   * chunk written whenever it is full; a payload larger than a chunk is
   * written from where it lies.
   */
  async #pack(frames: readonly Frame[], bytes: number): Promise<void> {
    const lines = this.#lines;
    const size = Math.min(bytes + HEADER_BYTES * frames.length, WRITE_BYTES);
    // One byte more: in plain mode a line's newline is copied, then
    // overwritten by the next header or left out of the write.
    const chunk = this.#spare.take(size + 1);
    let at = 0;
    let most = 0;
    let i = 0;
    while (i < frames.length) {
      // The text frame to write: frames i..end, of `payload` bytes.
      let end = i + 1;
      let payload = frames[i]!.size;
      if (lines) {
        for (; end < frames.length; end++) {
          const next = frames[end]!.size;
          if (payload + next > this.#max) break;
          payload += next;
        }
      } else {
        payload--; // the JSON text without its newline
      }
      if (at + HEADER_BYTES > chunk.length) {
        await this.#writeAll(chunk.subarray(0, at));
        if (at > most) most = at;
        at = 0;
      }
      at = writeHeader(chunk, OP_TEXT, payload, at);
      for (; i < end; i++) {
        const line = frames[i]!.line;
        // In plain mode the newline copied is overwritten by the next header,
        // or left out of the write.
        const n = lines ? line.length : line.length - 1;
        if (at + line.length > chunk.length) {
          await this.#writeAll(chunk.subarray(0, at));
          if (at > most) most = at;
          at = 0;
          if (line.length > chunk.length) {
            await this.#writeAll(lines ? line : line.subarray(0, n));
            continue;
          }
        }
        chunk.set(line, at);
        at += n;
      }
    }
    if (at > 0) await this.#writeAll(chunk.subarray(0, at));
    if (at > most) most = at;
    this.#spare.used(most);
  }

  /** The outlet's close: the server ends the connection. */
  close(): void {
    this.end(CLOSE_GOING_AWAY, "closing");
  }
}

const DONE = Promise.resolve();

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
