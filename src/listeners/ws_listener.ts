/**
 * The WebSocket listener (`ws://`, `wss://`), owned end to end: an accept
 * loop on `Deno.listen` / `Deno.listenTls`, the HTTP/1.1 request head read
 * with a size cap and a deadline, the routes of docs/protocol.md §8 for this
 * listener (the upgrade paths, `/ping`, the health routes), the RFC 6455
 * upgrade, then the frames of `ws_frames.ts` on the socket itself: a publisher
 * that outruns its connection is read no further until it catches up, and a
 * subscriber's writes wait for the socket to drain, with no timer.
 *
 * @module
 */

import { getLogger } from "npm:@logtape/logtape@^2.4.2";
import { Buffer } from "node:buffer";
import { writeAll } from "../_util/io.ts";
import { errorText } from "../_util/text.ts";
import type { Frame } from "../protocol/codec.ts";
import { MistError } from "../protocol/errors.ts";
import type { Connection } from "../server/connection.ts";
import type { ServerPort } from "../server/port.ts";
import {
  type ConnectionInfo,
  type ListenerStats,
  newStats,
  type Outlet,
} from "../server/transport.ts";
import { bindAddress, boundUrl, type Listener } from "./listener.ts";
import {
  CLOSE_GOING_AWAY,
  closeFrame,
  encodeFrame,
  FrameParser,
  headerLength,
  lineGroups,
  OP_PONG,
  OP_TEXT,
  splitLines,
  textFrame,
  writeHeader,
} from "./ws_frames.ts";
import { readHead, type Upgrade, upgradeOrRespond } from "./ws_http.ts";

const log = getLogger(["mist", "ws"]);

const DEFAULT_PORTS: Record<string, number> = { ws: 8888, wss: 8889 };
/** Bytes read at a time from an upgraded connection. */
const READ_BUFFER_BYTES = 16 * 1024;
/** How long a close frame may take to leave before the socket is closed anyway. */
const CLOSE_GRACE_MS = 1000;
/** A pause after a failed accept (descriptors exhausted), in milliseconds. */
const ACCEPT_RETRY_MS = 100;

/**
 * Starts a `ws://` or `wss://` listener.
 *
 * @param url e.g. `ws://127.0.0.1:8888` (port 0 picks a free port)
 * @param server the server's side; `wss://` needs its `tls` certificate
 * @returns the started listener
 * @throws {Error} for `wss://` without a certificate; the errors of
 *   `Deno.listen` and `Deno.listenTls`
 */
export function listenWs(url: URL, server: ServerPort): Promise<Listener> {
  const scheme = url.protocol.slice(0, -1);
  const address = bindAddress(url, DEFAULT_PORTS[scheme] ?? 80);
  let listener: Deno.Listener;
  if (scheme === "wss") {
    const tls = server.settings.tls;
    if (tls === undefined) {
      throw new Error("wss:// needs a certificate: set tls-cert and tls-key");
    }
    listener = Deno.listenTls({ ...address, cert: tls.cert, key: tls.key });
  } else {
    listener = Deno.listen({ ...address, transport: "tcp" });
  }
  const bound = boundUrl(scheme, listener.addr as Deno.NetAddr);
  return Promise.resolve(accept(listener, bound, server));
}

function accept(
  listener: Deno.Listener,
  url: string,
  server: ServerPort,
): Listener {
  const stats = newStats();
  const serving = new Set<Promise<void>>();
  /** Connections not upgraded yet: closed with the listener. */
  const early = new Set<Deno.Conn>();
  let closed = false;
  const accepting = (async () => {
    let failing = false;
    while (!closed) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch (err) {
        if (closed || err instanceof Deno.errors.BadResource) break;
        if (!failing) {
          log.error("{listener}: accept failed, retrying: {error}", {
            listener: url,
            error: errorText(err),
          });
        }
        failing = true;
        await new Promise((resolve) => setTimeout(resolve, ACCEPT_RETRY_MS));
        continue;
      }
      failing = false;
      const done = serveConn(conn, { url, server, stats, early })
        .catch((err) =>
          log.debug("{listener}: connection failed: {error}", {
            listener: url,
            error: errorText(err),
          })
        )
        .finally(() => serving.delete(done));
      serving.add(done);
    }
  })();
  return {
    url,
    stats,
    close() {
      closed = true;
      closeQuietly(listener);
      for (const conn of early) closeQuietly(conn);
    },
    finished: accepting.then(async () => {
      while (serving.size > 0) await Promise.all(serving);
    }),
  };
}

/** What serving one connection needs. */
interface Scope {
  url: string;
  server: ServerPort;
  stats: ListenerStats;
  early: Set<Deno.Conn>;
}

async function serveConn(conn: Deno.Conn, scope: Scope): Promise<void> {
  const remote = conn.remoteAddr as Deno.NetAddr;
  const info: ConnectionInfo = {
    listener: scope.url,
    remote: `${remote.hostname}:${remote.port}`,
    stats: scope.stats,
  };
  // One deadline for the TLS handshake, the request head and the upgrade.
  scope.early.add(conn);
  const timeoutMs = scope.server.settings.requestTimeoutMs;
  const deadline = timeoutMs > 0
    ? setTimeout(() => closeQuietly(conn), timeoutMs)
    : undefined;
  let upgrade: Upgrade | undefined;
  try {
    if ("handshake" in conn) await (conn as Deno.TlsConn).handshake();
    const head = await readHead(conn);
    if (head === undefined) return closeQuietly(conn);
    scope.stats.bytesReceived += head.bytes;
    upgrade = await upgradeOrRespond(conn, head, scope.server);
  } catch (err) {
    closeQuietly(conn);
    log.debug("{listener}: request from {remote} failed: {error}", {
      listener: scope.url,
      remote: info.remote,
      error: errorText(err),
    });
  } finally {
    clearTimeout(deadline);
    scope.early.delete(conn);
  }
  if (upgrade !== undefined) await serveSocket(conn, upgrade, scope, info);
}

/** Serves the protocol on an upgraded connection until either side ends it. */
async function serveSocket(
  conn: Deno.Conn,
  upgrade: Upgrade,
  scope: Scope,
  info: ConnectionInfo,
): Promise<void> {
  try {
    (conn as Deno.TcpConn).setNoDelay?.(true);
    // Finds peers that vanished (no FIN, no RST); TLS conns do not offer it.
    (conn as Deno.TcpConn).setKeepAlive?.(true);
  } catch {
    // Harmless: the options are an optimisation.
  }
  const { limits } = scope.server.settings;
  const socket = new Socket(conn);
  const connection = scope.server.open(
    webSocketOutlet(socket, upgrade.lines, limits.maxMessageBytes),
    info,
    upgrade.principal === undefined ? {} : { principal: upgrade.principal },
  );
  // In line mode a frame holds whole lines, up to the maximum plus a newline.
  const parser = new FrameParser(
    limits.maxMessageBytes + (upgrade.lines ? 1 : 0),
  );
  const buffer = new Uint8Array(READ_BUFFER_BYTES);
  let chunk = upgrade.rest;
  try {
    while (!connection.isClosed) {
      if (
        chunk.length > 0 &&
        !await feed(parser, chunk, connection, socket, upgrade.lines)
      ) {
        break;
      }
      const n = await conn.read(buffer);
      if (n === null) break;
      info.stats.bytesReceived += n;
      chunk = buffer.subarray(0, n);
    }
  } catch (err) {
    if (!connection.isClosed) {
      log.debug("{listener} connection {id}: read failed: {error}", {
        listener: scope.url,
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
  for (const event of parser.parse(chunk)) {
    let wait: void | Promise<void> = undefined;
    switch (event.kind) {
      case "text":
        if (!lines) {
          wait = connection.receive(event.text);
          break;
        }
        for (const line of splitLines(event.text)) {
          const next = connection.receive(line);
          if (next !== undefined) await next;
          if (connection.isClosed) return false;
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
        socket.send(encodeFrame(OP_PONG, event.payload)).catch(() => {});
        break;
      case "close":
        socket.end(event.code);
        return false;
      case "fail":
        socket.end(event.code);
        return false;
    }
    if (wait !== undefined) await wait;
    if (connection.isClosed) return false;
  }
  return true;
}

type Write = (bytes: Uint8Array) => Promise<void>;

/**
 * The writing side of an upgraded connection: one write at a time (a pong
 * never lands inside a batch of frames), then one close frame.
 */
class Socket {
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
  end(code: number | undefined): void {
    if (this.#ending) return;
    this.#ending = true;
    const timer = setTimeout(() => closeQuietly(this.#conn), CLOSE_GRACE_MS);
    this.send(closeFrame(code)).catch(() => {}).finally(() => {
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
function webSocketOutlet(socket: Socket, lines: boolean, max: number): Outlet {
  return {
    write(frames: readonly Frame[]): void | Promise<void> {
      const idle = socket.idle;
      let bytes = 0;
      for (const frame of frames) bytes += frame.size;
      const written = !lines && frames.length === 1
        ? socket.send(frames[0]!.webSocket(textFrame))
        : socket.run((write) =>
          lines ? writeLines(write, frames, max) : writeFrames(write, frames)
        );
      if (!idle || bytes > WRITE_BYTES) return written;
      // Taken: a failure closes the socket, which ends the read loop.
      written.catch(() => socket.abort());
    },
    close() {
      socket.end(CLOSE_GOING_AWAY);
    },
  };
}

/** Plain mode: each frame's shared bytes, gathered into bounded writes. */
async function writeFrames(
  write: Write,
  frames: readonly Frame[],
): Promise<void> {
  const batch = new Batch(write);
  for (const frame of frames) await batch.add(frame.webSocket(textFrame));
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
