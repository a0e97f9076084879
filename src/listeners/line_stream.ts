/**
 * The line protocol over a byte stream, whatever carries it: the one loop
 * that serves `tcp://` and `tls://` connections, and the outlet that writes
 * their frames.
 *
 * @module
 */

import { getLogger } from "npm:@logtape/logtape@^2.4.2";
import { errorText } from "../_util/text.ts";
import type { Frame } from "../protocol/codec.ts";
import { MistError } from "../protocol/errors.ts";
import { LineSplitter, OVERSIZE } from "../protocol/framing.ts";
import type { ServerPort } from "../server/port.ts";
import type { ListenerStats, Outlet } from "../server/transport.ts";

const log = getLogger(["mist", "tcp"]);

const READ_BUFFER_BYTES = 64 * 1024;

/**
 * What serving the line protocol needs of one connection: a `Deno.Conn`
 * (`tcp.ts`) or a `node:tls` socket (`tls_node.ts`).
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
export async function serveConnection(
  stream: LineStream,
  url: string,
  server: ServerPort,
  stats: ListenerStats,
): Promise<void> {
  const connection = server.open(lineOutlet(stream), {
    listener: url,
    remote: stream.remote,
    stats,
  });
  const splitter = new LineSplitter(server.settings.limits.maxMessageBytes);
  const buffer = new Uint8Array(READ_BUFFER_BYTES);
  try {
    while (!connection.isClosed) {
      const n = await stream.read(buffer);
      if (n === null) {
        // The client finished sending: write what it is owed, then close.
        await connection.drain(server.settings.drainTimeoutMs);
        break;
      }
      stats.bytesReceived += n;
      for (const line of splitter.split(buffer.subarray(0, n))) {
        const wait = line === OVERSIZE
          ? connection.refuse(new MistError("too_large"))
          : connection.receive(line);
        if (wait !== undefined) await wait;
        if (connection.isClosed) break;
      }
    }
  } catch (err) {
    if (!connection.isClosed) {
      log.debug("{listener} connection {id}: read failed: {error}", {
        listener: url,
        id: connection.id,
        error: errorText(err),
      });
    }
  } finally {
    connection.close();
  }
}

function lineOutlet(stream: LineStream): Outlet {
  return {
    write(frames: readonly Frame[]): Promise<void> {
      if (frames.length === 1) return stream.write(frames[0]!.line);
      let size = 0;
      for (const frame of frames) size += frame.size;
      const bytes = new Uint8Array(size);
      let offset = 0;
      for (const frame of frames) {
        bytes.set(frame.line, offset);
        offset += frame.line.byteLength;
      }
      return stream.write(bytes);
    },
    close() {
      stream.close();
    },
  };
}
