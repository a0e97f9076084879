/**
 * The TCP and TLS listeners (`tcp://`, `tls://`): one JSON object per line.
 *
 * @module
 */

import { getLogger } from "npm:@logtape/logtape@^2.4.2";
import { writeAll } from "../_util/io.ts";
import { errorText } from "../_util/text.ts";
import { newStats } from "../server/transport.ts";
import type { ServerPort, TlsCertificate } from "../server/port.ts";
import {
  bindAddress,
  boundUrl,
  canRebind,
  type Listener,
  rebindable,
} from "./listener.ts";
import { type LineStream, serveConnection } from "./line_stream.ts";
import { listenTlsClientAuth } from "./tls_node.ts";
import { AcceptFailures, Acceptor } from "./accept_failures.ts";

const log = getLogger(["mist", "tcp"]);

/** The port of a `tcp://` URL without one. */
export const TCP_DEFAULT_PORT = 1445;

/**
 * Starts a TCP listener.
 *
 * @param url e.g. `tcp://127.0.0.1:1445` (port 0 picks a free port)
 * @param server the server's side
 * @returns the started listener
 * @throws {Deno.errors.AddrInUse} and the other errors of `Deno.listen`
 */
export function listenTcp(
  url: URL,
  server: ServerPort,
): Promise<Listener> {
  const listener = Deno.listen({
    ...bindAddress(url, TCP_DEFAULT_PORT),
    transport: "tcp",
  });
  return Promise.resolve(
    serveConnections(
      listener,
      boundUrl("tcp", listener.addr),
      server,
    ),
  );
}

/** The port of a `tls://` URL without one. */
export const TLS_DEFAULT_PORT = 1446;

/**
 * Starts a TLS listener: the TCP line protocol over TLS.
 *
 * @param url e.g. `tls://0.0.0.0:1446`
 * @param server the server's side; its `tls` certificate is required
 * @returns the started listener
 * @throws {Error} without a certificate; the errors of `Deno.listenTls`
 */
export function listenTls(
  url: URL,
  server: ServerPort,
): Promise<Listener> {
  const tls = server.settings.tls;
  if (tls === undefined) {
    throw new Error("tls:// needs a certificate: set tls-cert and tls-key");
  }
  if (tls.clientCa !== undefined) {
    return listenTlsClientAuth(bindAddress(url, TLS_DEFAULT_PORT), server, {
      ...tls,
      clientCa: tls.clientCa,
    });
  }
  const address = rebindable(bindAddress(url, TLS_DEFAULT_PORT));
  const bind = (certificate: TlsCertificate, port: number) =>
    Deno.listenTls({
      ...address,
      port,
      cert: certificate.cert,
      key: certificate.key,
      transport: "tcp",
    });
  const listener = bind(tls, address.port);
  const { port } = listener.addr;
  return Promise.resolve(
    serveConnections(listener, boundUrl("tls", listener.addr), server, {
      rebind: canRebind() ? (next) => bind(next, port) : undefined,
    }),
  );
}

/**
 * Serves the line protocol on every connection a `Deno.Listener` accepts; the
 * TLS listener shares it.
 *
 * @param listener a bound TCP or TLS listener
 * @param url its bound address, for logs and for {@linkcode Listener.url}
 * @param server the server's side
 * @param tls for a TLS listener: binds another listener on the same address
 *   with a new certificate, or `undefined` when it cannot (restart-only)
 * @returns the running listener
 */
export function serveConnections(
  listener: Deno.Listener,
  url: string,
  server: ServerPort,
  tls?: { rebind: ((next: TlsCertificate) => Deno.Listener) | undefined },
): Listener {
  const stats = newStats();
  /** Connections still in their TLS handshake: closed with the listener. */
  const handshaking = new Set<Deno.Conn>();
  const timeoutMs = server.settings.tlsHandshakeTimeoutMs;
  const serve = async (conn: Deno.Conn) => {
    if (await handshake(conn, handshaking, timeoutMs)) {
      await serveConnection(new ConnStream(conn), url, server, stats);
    }
  };
  const acceptor = new Acceptor(
    listener,
    new AcceptFailures(() => url, stats),
    // Plain TCP has no handshake: its connection is served at once, with one
    // promise and no closure of its own (18,000 idle ones hold them).
    (conn) =>
      "handshake" in conn
        ? serve(conn)
        : serveConnection(new ConnStream(conn), url, server, stats),
  );
  const rebind = tls?.rebind;
  return {
    url,
    stats,
    close() {
      acceptor.close();
      for (const conn of handshaking) conn.close();
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

/**
 * Completes a TLS handshake (plain TCP has none) within `timeoutMs`; false
 * when it failed or took longer, and the connection is then closed.
 */
async function handshake(
  conn: Deno.Conn,
  handshaking: Set<Deno.Conn>,
  timeoutMs: number,
): Promise<boolean> {
  if (!("handshake" in conn)) return true;
  handshaking.add(conn);
  let late = false;
  // Cleared as soon as the handshake ends, within milliseconds for a client.
  const timer = Number.isFinite(timeoutMs)
    ? setTimeout(() => {
      late = true;
      closeQuietly(conn);
    }, timeoutMs)
    : undefined;
  try {
    await (conn as Deno.TlsConn).handshake();
    return true;
  } catch (err) {
    log.debug("TLS handshake failed: {error}", {
      error: late ? `no handshake within ${timeoutMs} ms` : errorText(err),
    });
    closeQuietly(conn);
    return false;
  } finally {
    clearTimeout(timer);
    handshaking.delete(conn);
  }
}

/**
 * A `Deno.Conn` as a {@linkcode LineStream}: a class, so that each of many
 * idle connections holds one small object rather than four closures.
 */
class ConnStream implements LineStream {
  readonly remote: string;
  readonly #conn: Deno.Conn;

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
    try {
      (conn as Deno.TcpConn).setNoDelay?.(true);
      // Finds peers that vanished (no FIN, no RST) after the system's keepalive
      // time. Deno.TlsConn has no such option; idle-timeout covers it there.
      (conn as Deno.TcpConn).setKeepAlive?.(true);
    } catch {
      // Not every conn has the options (TLS before its handshake); harmless.
    }
    const remote = conn.remoteAddr as Deno.NetAddr;
    this.remote = `${remote.hostname}:${remote.port}`;
  }

  read(buffer: Uint8Array): Promise<number | null> {
    return this.#conn.read(buffer);
  }

  write(bytes: Uint8Array): Promise<void> {
    // Most writes are taken whole: no async function (its frame and promise)
    // for them, only for the rest of one that was not.
    return this.#conn.write(bytes).then((n) =>
      n < bytes.length ? writeAll(this.#conn, bytes.subarray(n)) : undefined
    );
  }

  close(): void {
    const conn = this.#conn;
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
  }
}

function closeQuietly(conn: { close(): void }): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}
