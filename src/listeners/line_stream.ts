/**
 * The line protocol over a byte stream, whatever carries it: the one loop
 * that serves `tcp://` and `tls://` connections, and the outlet that writes
 * their frames.
 *
 * @module
 */

import { getLogger } from "npm:@logtape/logtape@^2.4.2";
import { Slabs } from "../_util/slabs.ts";
import { errorText } from "../_util/text.ts";
import { readInTurn } from "../_util/turn.ts";
import type { Frame } from "../protocol/codec.ts";
import { MistError } from "../protocol/errors.ts";
import { LineSplitter, OVERSIZE } from "../protocol/framing.ts";
import type { Connection } from "../server/connection.ts";
import type { ServerPort } from "../server/port.ts";
import type { ListenerStats, Outlet } from "../server/transport.ts";
import { SpareChunk } from "./spare_chunk.ts";

const log = getLogger(["mist", "tcp"]);

/**
 * A connection's read buffer starts small, since most clients send little
 * (an idle subscriber holds it for ever, in the pending read), doubles each
 * time a read fills it, up to the largest, and halves after that many reads
 * in a row that used less than a quarter of it.
 */
export const READ_BUFFER = Object.freeze({
  smallest: 64,
  largest: 64 * 1024,
  shrinkAfter: 16,
});

/**
 * The smallest read buffers are carved from shared slabs of this size, one
 * region per connection: an idle connection then holds a view rather than a
 * buffer of its own. A slab lives while any of its connections keeps its
 * region, so at most this much stays pinned per connection left over.
 */
const smallest = new Slabs(8 * 1024);

/** A new smallest read buffer: a region of the current slab. */
function smallestBuffer(): Uint8Array {
  return smallest.take(READ_BUFFER.smallest);
}

/**
 * The most bytes one write to the stream copies frames into: a write joins
 * queued frames into one buffer up to this size, so a subscriber that does
 * not read holds the frames it shares with others plus one such chunk. Four
 * times the largest read: one read of a publisher can queue about as many
 * bytes for a subscriber as it read, and a writer that drained no more per
 * turn than that would fall behind (measured: 64 KiB chunks lost 2 % of W1
 * to full queues, 256 KiB none).
 */
export const WRITE_CHUNK_BYTES = 4 * READ_BUFFER.largest;

/**
 * What serving the line protocol needs of one connection: a `Deno.Conn`
 * (`tcp.ts`) or a `node:tls` socket (`tls_socket.ts`).
 */
export interface LineStream {
  /** Reads into `buffer`: how many bytes, or `null` once the peer finished sending. */
  read(buffer: Uint8Array): Promise<number | null>;
  /** Writes all of `bytes`. */
  write(bytes: Uint8Array): Promise<void>;
  /** Closes; over TLS after a close_notify that waits at most a second. */
  close(): void;
  /** The peer, `HOST:PORT`. */
  readonly remote: string;
}

/**
 * Serves the line protocol on one connection until either side closes it:
 * the one loop of `tcp://` and `tls://`, whatever accepted the connection.
 *
 * @param stream the connection
 * @param url the listener's bound address
 * @param server the server's side
 * @param stats the listener's counters
 */
export function serveConnection(
  stream: LineStream,
  url: string,
  server: ServerPort,
  stats: ListenerStats,
): Promise<void> {
  return new LineSession(stream, url, server, stats).run();
}

/**
 * The outlet of a line-protocol connection: each frame's shared line, joined
 * into chunks of at most {@linkcode WRITE_CHUNK_BYTES}.
 *
 * @param stream the connection
 * @returns its outlet
 */
export function lineOutlet(stream: LineStream): Outlet {
  return new ChunkWriter(stream);
}

/**
 * Writes frames in chunks of at most {@linkcode WRITE_CHUNK_BYTES}, copied
 * only when written; a frame as large as a chunk is written as it is.
 *
 * It is the outlet itself, a class rather than closures: 18,000 idle
 * connections hold one each. A busy connection reuses its chunk from write
 * to write (`spare_chunk.ts`).
 */
class ChunkWriter implements Outlet {
  protected readonly stream: LineStream;
  readonly #spare = new SpareChunk(WRITE_CHUNK_BYTES);

  constructor(stream: LineStream) {
    this.stream = stream;
  }

  write(frames: readonly Frame[]): Promise<void> {
    if (frames.length === 1) return this.stream.write(frames[0]!.line);
    return this.#join(frames);
  }

  close(): void {
    this.stream.close();
  }

  async #join(frames: readonly Frame[]): Promise<void> {
    let i = 0;
    let most = 0;
    while (i < frames.length) {
      let size = 0;
      let end = i;
      while (end < frames.length) {
        const next = frames[end]!.size;
        if (size > 0 && size + next > WRITE_CHUNK_BYTES) break;
        size += next;
        end++;
      }
      if (end === i + 1) {
        await this.stream.write(frames[i]!.line);
      } else if (frames[i]!.shared) {
        await this.stream.write(sharedChunk(frames, i, end, size));
      } else {
        const chunk = this.#spare.take(size).subarray(0, size);
        await this.stream.write(join(frames, i, end, chunk));
        if (size > most) most = size;
      }
      i = end;
    }
    this.#spare.used(most);
  }
}

/** Copies the lines of `frames[from..end)` into `chunk`, which fits them. */
function join(
  frames: readonly Frame[],
  from: number,
  end: number,
  chunk: Uint8Array,
): Uint8Array {
  let offset = 0;
  for (let i = from; i < end; i++) {
    const line = frames[i]!.line;
    chunk.set(line, offset);
    offset += line.byteLength;
  }
  return chunk;
}

/** A chunk joined from frames that went to several connections. */
interface Joined {
  readonly frames: readonly Frame[];
  readonly from: number;
  readonly end: number;
  readonly chunk: Uint8Array;
}

/** How many shared chunks are kept for the connections that write next. */
const JOINED_KEPT = 4;
const joined: Joined[] = [];

/**
 * The bytes of `frames[from..end)` when they went to several connections:
 * the chunk another connection just wrote when it wrote the same frames (a
 * fan-out to 100 subscribers that keep up flushes the same frames to each
 * of them in a row), else a new one that the next may share. Such a chunk is
 * never written into again: the others may still be writing it.
 */
function sharedChunk(
  frames: readonly Frame[],
  from: number,
  end: number,
  size: number,
): Uint8Array {
  const count = end - from;
  for (const kept of joined) {
    if (kept.end - kept.from !== count) continue;
    let same = true;
    for (let k = 0; k < count && same; k++) {
      same = kept.frames[kept.from + k] === frames[from + k];
    }
    if (same) return kept.chunk;
  }
  const chunk = join(frames, from, end, new Uint8Array(size));
  if (joined.push({ frames, from, end, chunk }) > JOINED_KEPT) joined.shift();
  return chunk;
}

/**
 * One connection served: its outlet and its reading side in one object, the
 * state of the read loop in fields rather than in an async function's frame
 * (18,000 idle connections each hold one, suspended in a read).
 */
class LineSession extends ChunkWriter {
  readonly #server: ServerPort;
  readonly #connection: Connection;
  readonly #splitter: LineSplitter;
  #buffer = smallestBuffer();
  /** Reads in a row that used less than a quarter of the buffer. */
  #small = 0;

  constructor(
    stream: LineStream,
    url: string,
    server: ServerPort,
    stats: ListenerStats,
  ) {
    super(stream);
    this.#server = server;
    this.#connection = server.open(this, {
      listener: url,
      remote: stream.remote,
      stats,
    });
    this.#splitter = new LineSplitter(server.settings.limits.maxMessageBytes);
  }

  /** Reads and answers until either side closes the connection. */
  async run(): Promise<void> {
    const connection = this.#connection;
    try {
      while (!connection.isClosed) {
        const n = await this.stream.read(this.#buffer);
        if (n === null) {
          // The client finished sending: write what it is owed, then close.
          await connection.drain(this.#drainTimeoutMs);
          break;
        }
        for (
          let wait = this.#take(n);
          wait !== undefined;
          wait = this.#lines()
        ) {
          await wait;
          if (connection.isClosed) break;
        }
        // The next read may complete at once: it waits for its turn.
        const turn = readInTurn(n);
        if (turn !== undefined) await turn;
      }
    } catch (err) {
      if (!connection.isClosed) {
        log.debug("{listener} connection {id}: read failed: {error}", {
          listener: connection.info.listener,
          id: connection.id,
          error: errorText(err),
        });
      }
    } finally {
      connection.close();
    }
  }

  get #drainTimeoutMs(): number {
    return this.#server.settings.drainTimeoutMs;
  }

  /**
   * Takes `n` bytes just read: sizes the buffer for the next read, then
   * answers the lines (see {@linkcode LineSession.#lines}).
   */
  #take(n: number): Promise<void> | undefined {
    this.#connection.info.stats.bytesReceived += n;
    const buffer = this.#buffer;
    // The splitter is done with the chunk once it has split it, so the next
    // read may use another buffer.
    if (n === buffer.length && n < READ_BUFFER.largest) {
      this.#buffer = new Uint8Array(n * 2);
      this.#small = 0;
    } else if (n * 4 < buffer.length && buffer.length > READ_BUFFER.smallest) {
      if (++this.#small === READ_BUFFER.shrinkAfter) {
        const length = buffer.length / 2;
        this.#buffer = length === READ_BUFFER.smallest
          ? smallestBuffer()
          : new Uint8Array(length);
        this.#small = 0;
      }
    } else {
      this.#small = 0;
    }
    this.#splitter.feed(buffer.subarray(0, n));
    return this.#lines();
  }

  /**
   * Hands the connection the lines of the chunk fed until it is used up, or
   * until the connection asks to wait: then the promise to await before
   * calling this again for the rest.
   */
  #lines(): Promise<void> | undefined {
    const connection = this.#connection;
    const splitter = this.#splitter;
    for (
      let line = splitter.next();
      line !== undefined && !connection.isClosed;
      line = splitter.next()
    ) {
      const wait = line === OVERSIZE
        ? connection.refuse(new MistError("too_large"))
        : connection.receive(line);
      if (wait !== undefined) return wait;
    }
    return undefined;
  }
}
