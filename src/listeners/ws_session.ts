/**
 * One upgraded WebSocket connection (RFC 6455, docs/protocol.md §1), served
 * on the socket itself: frames read with an adaptive buffer and parsed by
 * `ws_frames.ts`, each text message (or each line, in line mode) handed to
 * the `Connection`, and a publisher that outruns its connection read no
 * further until it catches up. The writing side is `ws_outlet.ts`.
 *
 * @module
 */

import { getLogger } from "npm:@logtape/logtape@^2.4.2";
import { errorText } from "../_util/text.ts";
import { readInTurn } from "../_util/turn.ts";
import { MistError } from "../protocol/errors.ts";
import type { Connection } from "../server/connection.ts";
import type { ServerPort } from "../server/port.ts";
import type { ConnectionInfo } from "../server/transport.ts";
import { encodeFrame, FrameParser, OP_PONG } from "./ws_frames.ts";
import type { Upgrade } from "./ws_http.ts";
import { Socket } from "./ws_outlet.ts";
import type { ByteConn } from "./listener.ts";

const log = getLogger(["mist", "ws"]);

/**
 * The read buffer of an upgraded connection: it doubles after a read that
 * filled it and halves after one that used less than an eighth, between these
 * sizes, so that a busy publisher reads in large chunks and an idle
 * subscriber holds little (the parser copies what it keeps out of it): 64
 * bytes at first, which a subscription and a ping fill (W5: 12.06 KB per
 * idle connection, against 12.44 with 256 bytes).
 */
const MIN_READ_BYTES = 64;
const MAX_READ_BYTES = 64 * 1024;

/**
 * Serves the protocol on an upgraded connection until either side ends it.
 *
 * @param conn the connection, its `101` answer written
 * @param upgrade what the upgrade settled
 * @param server the server's side
 * @param info where the connection came from, for logs and counters
 */
export async function serveSocket(
  conn: ByteConn,
  upgrade: Upgrade,
  server: ServerPort,
  info: ConnectionInfo,
): Promise<void> {
  try {
    (conn as Deno.TcpConn).setNoDelay?.(true);
    // Finds peers that vanished (no FIN, no RST); TLS conns do not offer it.
    (conn as Deno.TcpConn).setKeepAlive?.(true);
  } catch {
    // Harmless: the options are an optimisation.
  }
  const { limits } = server.settings;
  const socket = new Socket(conn, upgrade.lines, limits.maxMessageBytes);
  const connection = server.open(
    socket,
    info,
    upgrade.principal === undefined ? {} : { principal: upgrade.principal },
  );
  // In line mode a frame holds whole lines, up to the maximum plus a newline.
  const parser = new FrameParser(
    limits.maxMessageBytes + (upgrade.lines ? 1 : 0),
    upgrade.lines,
  );
  let buffer = new Uint8Array(MIN_READ_BYTES);
  let chunk = upgrade.rest;
  try {
    while (!connection.isClosed) {
      if (
        chunk.length > 0 &&
        !await feed(parser, chunk, connection, socket, upgrade.lines)
      ) {
        break;
      }
      chunk = NOTHING; // not kept by an idle connection
      const n = await conn.read(buffer);
      if (n === null) break;
      info.stats.bytesReceived += n;
      // The next read may complete at once: this one waits for its turn.
      const turn = readInTurn(n);
      if (turn !== undefined) await turn;
      chunk = buffer.subarray(0, n);
      const size = buffer.length;
      if (n === size && size < MAX_READ_BYTES) {
        buffer = new Uint8Array(size * 2);
      } else if (n < size >> 3 && size > MIN_READ_BYTES) {
        buffer = new Uint8Array(size >> 1);
      }
    }
  } catch (err) {
    if (!connection.isClosed) {
      log.debug("{listener} connection {id}: read failed: {error}", {
        listener: info.listener,
        id: connection.id,
        error: errorText(err),
      });
    }
  } finally {
    connection.close();
  }
}

/**
 * Hands one chunk's messages to the connection, waiting whenever it asks to
 * (the socket is not read meanwhile).
 *
 * @returns false once the connection must end
 */
async function feed(
  parser: FrameParser,
  chunk: Uint8Array,
  connection: Connection,
  socket: Socket,
  lines: boolean,
): Promise<boolean> {
  parser.feed(chunk);
  for (let kind = parser.next(); kind !== undefined; kind = parser.next()) {
    let wait: void | Promise<void> = undefined;
    switch (kind) {
      case "text":
        // The bytes, as TCP hands them over: a canonical publish is forwarded
        // as it came, without being decoded.
        if (!lines) {
          wait = connection.receive(parser.bytes);
          break;
        }
        {
          const done = receiveLines(
            parser.bytes,
            parser.newlines,
            connection,
          );
          if (done === false || (done !== true && !await done)) return false;
        }
        break;
      case "binary":
        wait = connection.refuse(
          new MistError("invalid_message", "binary frames are not supported"),
        );
        break;
      case "too_large":
        wait = connection.refuse(new MistError("too_large"));
        break;
      case "ping":
        socket.send(encodeFrame(OP_PONG, parser.bytes)).catch(() => {});
        break;
      case "close":
        socket.end(parser.code);
        return false;
      case "fail":
        socket.end(parser.code, parser.reason);
        return false;
    }
    if (wait !== undefined) await wait;
    if (connection.isClosed) return false;
  }
  return true;
}

const NOTHING = new Uint8Array(0);
const CR = 0x0d;

/**
 * Line mode: hands each line of a text message to the connection (a `\r\n`
 * ending is accepted; blank lines are skipped), synchronously until the
 * connection asks to wait.
 *
 * @param bytes the message
 * @param newlines where its `\n`s lie, in order (found by the parser)
 * @param connection where the lines go
 * @param line the first line to hand over: its index in `newlines`
 * @returns false once the connection is closed; a promise of that when it
 *   had to wait
 */
function receiveLines(
  bytes: Uint8Array,
  newlines: readonly number[],
  connection: Connection,
  line = 0,
): boolean | Promise<boolean> {
  const count = newlines.length;
  while (line <= count) {
    const start = line === 0 ? 0 : newlines[line - 1]! + 1;
    const end = line < count ? newlines[line]! : bytes.length;
    line++;
    const stop = end > start && bytes[end - 1] === CR ? end - 1 : end;
    if (stop > start) {
      const wait = connection.receive(bytes.subarray(start, stop));
      if (wait !== undefined) {
        return wait.then(() =>
          !connection.isClosed &&
          receiveLines(bytes, newlines, connection, line)
        );
      }
      if (connection.isClosed) return false;
    }
  }
  return true;
}
