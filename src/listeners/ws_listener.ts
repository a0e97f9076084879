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
import { errorText } from "../_util/text.ts";
import { MistError } from "../protocol/errors.ts";
import type { Connection } from "../server/connection.ts";
import type { ServerPort, TlsCertificate } from "../server/port.ts";
import {
  type ConnectionInfo,
  type ListenerStats,
  newStats,
} from "../server/transport.ts";
import {
  bindAddress,
  boundUrl,
  canRebind,
  type Listener,
  rebindable,
} from "./listener.ts";
import { encodeFrame, FrameParser, OP_PONG } from "./ws_frames.ts";
import { readHead, type Upgrade, upgradeOrRespond } from "./ws_http.ts";
import { Socket } from "./ws_outlet.ts";
import { AcceptFailures, Acceptor } from "./accept_failures.ts";

const log = getLogger(["mist", "ws"]);

const DEFAULT_PORTS: Record<string, number> = { ws: 8888, wss: 8889 };
/**
 * The read buffer of an upgraded connection: it doubles after a read that
 * filled it and halves after one that used less than an eighth, between these
 * sizes, so that a busy publisher reads in large chunks and an idle
 * subscriber holds little (the parser copies what it keeps out of it).
 */
const MIN_READ_BYTES = 512;
const MAX_READ_BYTES = 64 * 1024;

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
  let address = bindAddress(url, DEFAULT_PORTS[scheme] ?? 80);
  if (scheme !== "wss") {
    const listener = Deno.listen({ ...address, transport: "tcp" });
    const bound = boundUrl(scheme, listener.addr as Deno.NetAddr);
    return Promise.resolve(accept(listener, bound, server));
  }
  const tls = server.settings.tls;
  if (tls === undefined) {
    throw new Error("wss:// needs a certificate: set tls-cert and tls-key");
  }
  address = rebindable(address);
  const bind = (certificate: TlsCertificate) =>
    Deno.listenTls({
      ...address,
      cert: certificate.cert,
      key: certificate.key,
    });
  const listener = bind(tls);
  address.port = listener.addr.port;
  const bound = boundUrl(scheme, listener.addr);
  return Promise.resolve(accept(listener, bound, server, {
    rebind: canRebind() ? bind : undefined,
  }));
}

function accept(
  first: Deno.Listener,
  url: string,
  server: ServerPort,
  tls?: { rebind: ((next: TlsCertificate) => Deno.Listener) | undefined },
): Listener {
  const stats = newStats();
  const scope: Scope = { url, server, stats, early: new Set() };
  const failed = (err: unknown) =>
    log.debug("{listener}: connection failed: {error}", {
      listener: url,
      error: errorText(err),
    });
  // One shared callback, nothing kept per connection.
  const acceptor = new Acceptor(
    first,
    new AcceptFailures(() => url, stats),
    (conn) => serveConn(conn, scope).catch(failed),
  );
  const rebind = tls?.rebind;
  return {
    url,
    stats,
    close() {
      acceptor.close();
      for (const conn of scope.early) closeQuietly(conn);
    },
    ...(tls === undefined ? {} : {
      async renewCertificate(next: TlsCertificate): Promise<boolean> {
        if (rebind === undefined || acceptor.closed) return false;
        await acceptor.replace(rebind(next));
        return true;
      },
    }),
    finished: acceptor.finished(),
  };
}

/** What serving one connection needs. */
interface Scope {
  url: string;
  server: ServerPort;
  stats: ListenerStats;
  /** Connections not upgraded yet: closed with the listener. */
  early: Set<Deno.Conn>;
}

/**
 * Reads the request head and answers it; an upgraded connection is then
 * served by {@linkcode serveSocket}, returned rather than awaited so that
 * nothing of the head (its text, headers, URL, the deadline) outlives the
 * upgrade in this function's frame.
 */
async function serveConn(conn: Deno.Conn, scope: Scope): Promise<void> {
  const remote = conn.remoteAddr as Deno.NetAddr;
  const peer = `${remote.hostname}:${remote.port}`;
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
    upgrade = await upgradeOrRespond(conn, head, scope.server, scope.url);
  } catch (err) {
    closeQuietly(conn);
    log.debug("{listener}: request from {remote} failed: {error}", {
      listener: scope.url,
      remote: peer,
      error: errorText(err),
    });
  } finally {
    clearTimeout(deadline);
    scope.early.delete(conn);
  }
  if (upgrade === undefined) return;
  const info: ConnectionInfo = {
    listener: scope.url,
    remote: peer,
    stats: scope.stats,
  };
  return serveSocket(conn, upgrade, scope, info);
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
  const socket = new Socket(conn, upgrade.lines, limits.maxMessageBytes);
  const connection = scope.server.open(
    socket,
    info,
    upgrade.principal === undefined ? {} : { principal: upgrade.principal },
  );
  // In line mode a frame holds whole lines, up to the maximum plus a newline.
  const parser = new FrameParser(
    limits.maxMessageBytes + (upgrade.lines ? 1 : 0),
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
        // The bytes, as TCP hands them over: a canonical publish is forwarded
        // as it came, without being decoded.
        if (!lines) {
          wait = connection.receive(event.bytes);
          break;
        }
        {
          const done = receiveLines(event.bytes, connection);
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
        socket.send(encodeFrame(OP_PONG, event.payload)).catch(() => {});
        break;
      case "close":
        socket.end(event.code);
        return false;
      case "fail":
        socket.end(event.code, event.reason);
        return false;
    }
    if (wait !== undefined) await wait;
    if (connection.isClosed) return false;
  }
  return true;
}

const NOTHING = new Uint8Array(0);
const LF = 0x0a;
const CR = 0x0d;

/**
 * Line mode: hands each line of a text message to the connection (a `\r\n`
 * ending is accepted; blank lines are skipped), synchronously until the
 * connection asks to wait.
 *
 * @returns false once the connection is closed; a promise of that when it
 *   had to wait
 */
function receiveLines(
  bytes: Uint8Array,
  connection: Connection,
  start = 0,
): boolean | Promise<boolean> {
  while (start < bytes.length) {
    let end = bytes.indexOf(LF, start);
    if (end < 0) end = bytes.length;
    const stop = end > start && bytes[end - 1] === CR ? end - 1 : end;
    if (stop > start) {
      const wait = connection.receive(bytes.subarray(start, stop));
      if (wait !== undefined) {
        return wait.then(() =>
          !connection.isClosed && receiveLines(bytes, connection, end + 1)
        );
      }
      if (connection.isClosed) return false;
    }
    start = end + 1;
  }
  return true;
}

function closeQuietly(resource: { close(): void }): void {
  try {
    resource.close();
  } catch {
    // Already closed.
  }
}
