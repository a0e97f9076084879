/**
 * The TCP listener (`tcp://`): one JSON object per line.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { MistError } from "../protocol/errors.ts";
import { LineSplitter, OVERSIZE } from "../protocol/framing.ts";
import type { Frame } from "../protocol/codec.ts";
import type { Outlet } from "../server/connection.ts";
import {
  bindAddress,
  boundUrl,
  type Listener,
  type ListenerContext,
  newStats,
  writeAll,
} from "./listener.ts";

const log = getLogger(["mist", "tcp"]);

/** The port of a `tcp://` URL without one. */
export const TCP_DEFAULT_PORT = 1445;

const READ_BUFFER_BYTES = 64 * 1024;

/**
 * Starts a TCP listener.
 *
 * @param url e.g. `tcp://127.0.0.1:1445` (port 0 picks a free port)
 * @param context the server's side
 * @returns the started listener
 * @throws {Deno.errors.AddrInUse} and the other errors of `Deno.listen`
 */
export function listenTcp(
  url: URL,
  context: ListenerContext,
): Promise<Listener> {
  const listener = Deno.listen({
    ...bindAddress(url, TCP_DEFAULT_PORT),
    transport: "tcp",
  });
  return Promise.resolve(
    serveConnections(
      listener,
      boundUrl("tcp", listener.addr),
      context,
    ),
  );
}

/** The port of a `tls://` URL without one. */
export const TLS_DEFAULT_PORT = 1446;

/**
 * Starts a TLS listener: the TCP line protocol over TLS.
 *
 * @param url e.g. `tls://0.0.0.0:1446`
 * @param context the server's side; its `tls` certificate is required
 * @returns the started listener
 * @throws {Error} without a certificate; the errors of `Deno.listenTls`
 */
export function listenTls(
  url: URL,
  context: ListenerContext,
): Promise<Listener> {
  if (context.tls === undefined) {
    throw new Error("tls:// needs a certificate: set tls-cert and tls-key");
  }
  const listener = Deno.listenTls({
    ...bindAddress(url, TLS_DEFAULT_PORT),
    cert: context.tls.cert,
    key: context.tls.key,
    transport: "tcp",
  });
  return Promise.resolve(
    serveConnections(listener, boundUrl("tls", listener.addr), context),
  );
}

/**
 * Serves the line protocol on every connection a `Deno.Listener` accepts; the
 * TLS listener shares it.
 *
 * @param listener a bound TCP or TLS listener
 * @param url its bound address, for logs and for {@linkcode Listener.url}
 * @param context the server's side
 * @returns the running listener
 */
export function serveConnections(
  listener: Deno.Listener,
  url: string,
  context: ListenerContext,
): Listener {
  const stats = newStats();
  const connections = new Set<Promise<void>>();
  /** Connections still in their TLS handshake: closed with the listener. */
  const handshaking = new Set<Deno.Conn>();
  const accepting = (async () => {
    try {
      for await (const conn of listener) {
        const done = handshake(conn, handshaking)
          .then(async (ok) => {
            if (ok) await serveConnection(conn, url, context, stats);
          })
          .finally(() => connections.delete(done));
        connections.add(done);
      }
    } catch (err) {
      if (!(err instanceof Deno.errors.BadResource)) {
        log.error("{listener} stopped accepting: {error}", {
          listener: url,
          error: err,
        });
      }
    }
  })();
  return {
    url,
    stats,
    close() {
      try {
        listener.close();
      } catch {
        // Already closed.
      }
      for (const conn of handshaking) conn.close();
    },
    finished: accepting.then(async () => {
      while (connections.size > 0) await Promise.all(connections);
    }),
  };
}

/** Completes a TLS handshake (plain TCP has none); false when it failed. */
async function handshake(
  conn: Deno.Conn,
  handshaking: Set<Deno.Conn>,
): Promise<boolean> {
  if (!("handshake" in conn)) return true;
  handshaking.add(conn);
  try {
    await (conn as Deno.TlsConn).handshake();
    return true;
  } catch (err) {
    log.debug("TLS handshake failed: {error}", {
      error: err instanceof Error ? err.message : String(err),
    });
    try {
      conn.close();
    } catch {
      // Closed by the listener already.
    }
    return false;
  } finally {
    handshaking.delete(conn);
  }
}

async function serveConnection(
  conn: Deno.Conn,
  url: string,
  context: ListenerContext,
  stats: ReturnType<typeof newStats>,
): Promise<void> {
  try {
    (conn as Deno.TcpConn).setNoDelay?.(true);
  } catch {
    // Not every conn has the option (TLS before its handshake); harmless.
  }
  const remote = conn.remoteAddr as Deno.NetAddr;
  const session = context.open(tcpOutlet(conn), {
    listener: url,
    remote: `${remote.hostname}:${remote.port}`,
    stats,
  });
  const splitter = new LineSplitter(context.limits.maxMessageBytes);
  const buffer = new Uint8Array(READ_BUFFER_BYTES);
  try {
    while (!session.isClosed) {
      const n = await conn.read(buffer);
      if (n === null) {
        // The client finished sending: write what it is owed, then close.
        await session.drain(context.drainTimeoutMs);
        break;
      }
      for (const line of splitter.split(buffer.subarray(0, n))) {
        const pending = line === OVERSIZE
          ? session.refuse(new MistError("too_large"))
          : session.handle(line);
        if (pending !== undefined) await pending;
        // Stop reading requests while the client does not read its replies.
        if (session.congested) await session.writable();
        if (session.isClosed) break;
      }
    }
  } catch (err) {
    if (!session.isClosed) {
      log.debug("{listener} session {id}: read failed: {error}", {
        listener: url,
        id: session.id,
        error: err instanceof Error ? err.message : String(err),
      });
    }
  } finally {
    session.close();
  }
}

function tcpOutlet(conn: Deno.Conn): Outlet {
  return {
    write(frames: readonly Frame[]): Promise<void> {
      if (frames.length === 1) return writeAll(conn, frames[0]!.line);
      let size = 0;
      for (const frame of frames) size += frame.size;
      const bytes = new Uint8Array(size);
      let offset = 0;
      for (const frame of frames) {
        bytes.set(frame.line, offset);
        offset += frame.line.byteLength;
      }
      return writeAll(conn, bytes);
    },
    close() {
      if (!("handshake" in conn)) {
        conn.close();
        return;
      }
      // TLS says goodbye with close_notify, but never waits long on a peer.
      const timer = setTimeout(() => closeQuietly(conn), 1000);
      conn.closeWrite().catch(() => {}).finally(() => {
        clearTimeout(timer);
        closeQuietly(conn);
      });
    },
  };
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}
