/**
 * The TCP and TLS listeners (`tcp://`, `tls://`): one JSON object per line.
 *
 * @module
 */

import { writeAll } from "../_util/io.ts";
import { newStats } from "../server/transport.ts";
import type { ServerPort } from "../server/port.ts";
import { bindAddress, boundUrl, type Listener } from "./listener.ts";
import { type LineStream, serveConnection } from "./line_stream.ts";
import { listenTlsNode } from "./tls_node.ts";
import { AcceptFailures, Acceptor } from "./accept_failures.ts";

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
 * Starts a TLS listener: the TCP line protocol over TLS, on `node:tls`
 * (`tls_node.ts`).
 *
 * @param url e.g. `tls://0.0.0.0:1446`
 * @param server the server's side; its `tls` certificate is required
 * @returns the started listener
 * @throws {Error} without a certificate; the errors of `Deno.listen`
 */
export function listenTls(
  url: URL,
  server: ServerPort,
): Promise<Listener> {
  const tls = server.settings.tls;
  if (tls === undefined) {
    throw new Error("tls:// needs a certificate: set tls-cert and tls-key");
  }
  return listenTlsNode(bindAddress(url, TLS_DEFAULT_PORT), server, tls);
}

/**
 * Serves the line protocol on every connection a TCP listener accepts.
 *
 * @param listener a bound TCP listener
 * @param url its bound address, for logs and for {@linkcode Listener.url}
 * @param server the server's side
 * @returns the running listener
 */
export function serveConnections(
  listener: Deno.TcpListener,
  url: string,
  server: ServerPort,
): Listener {
  const stats = newStats();
  const acceptor = new Acceptor(
    listener,
    new AcceptFailures(() => url, stats),
    // One promise per connection and no closure of its own (18,000 idle
    // ones hold them).
    (conn) => serveConnection(new ConnStream(conn), url, server, stats),
  );
  return {
    url,
    stats,
    close() {
      acceptor.close();
    },
    finished: acceptor.finished(),
  };
}

/**
 * A `Deno.Conn` as a {@linkcode LineStream}: a class, so that each of many
 * idle connections holds one small object rather than four closures.
 */
class ConnStream implements LineStream {
  readonly remote: string;
  readonly #conn: Deno.TcpConn;

  constructor(conn: Deno.TcpConn) {
    this.#conn = conn;
    try {
      conn.setNoDelay(true);
      // Finds peers that vanished (no FIN, no RST) after the system's keepalive time.
      conn.setKeepAlive(true);
    } catch {
      // Closed already: the first read says so.
    }
    const remote = conn.remoteAddr;
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
    closeQuietly(this.#conn);
  }
}

function closeQuietly(conn: { close(): void }): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}
