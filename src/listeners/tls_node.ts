/**
 * The `tls://` listener that verifies client certificates (mutual TLS), on
 * `node:tls`: `Deno.listenTls` cannot ask for them. Each socket is served by
 * the same loop as every other `tcp://` and `tls://` connection.
 *
 * @module
 */

import { Duplex } from "node:stream";
import * as tls from "node:tls";
import { getLogger } from "npm:@logtape/logtape@^2.4.2";
import { errorText } from "../_util/text.ts";
import { newStats } from "../server/transport.ts";
import type { ServerPort, TlsCertificate } from "../server/port.ts";
import { boundUrl, type Listener } from "./listener.ts";
import { AcceptFailures, acceptLoop } from "./accept_failures.ts";
import { type LineStream, serveConnection } from "./line_stream.ts";

const log = getLogger(["mist", "tcp"]);

/**
 * Starts a `tls://` listener that requires a client certificate signed by
 * `tls.clientCa`; a client without one fails its handshake.
 *
 * @param address where to listen
 * @param server the server's side
 * @param certificate the server's certificate and the client CA
 * @returns the started listener
 * @throws {Error} the errors of listening (address in use)
 */
export function listenTlsClientAuth(
  address: { hostname: string; port: number },
  server: ServerPort,
  certificate: TlsCertificate & { clientCa: string },
): Promise<Listener> {
  // Accepted by Deno.listen, not node:net, whose accept loop stops for good,
  // without an error, once it runs out of descriptors (EMFILE).
  const listener = Deno.listen({ ...address, transport: "tcp" });
  const bound = boundUrl("tls", listener.addr);
  const stats = newStats();
  const connections = new Set<Promise<void>>();
  /** Connections still in their handshake: closed with the listener. */
  const handshaking = new Set<Deno.TcpConn>();
  const contextOf = (pair: TlsCertificate) =>
    tls.createSecureContext({
      cert: pair.cert,
      key: pair.key,
      ca: pair.clientCa ?? certificate.clientCa,
    });
  /** What each new handshake uses: a new certificate replaces it. */
  let context = contextOf(certificate);
  const timeoutMs = server.settings.tlsHandshakeTimeoutMs;
  const failures = new AcceptFailures(() => bound, stats);
  const stop = new AbortController();
  const accepting = acceptLoop(listener, failures, stop.signal, (conn) => {
    conn.setNoDelay(true);
    // Finds peers that vanished (no FIN, no RST) after the system's keepalive time.
    conn.setKeepAlive(true);
    handshaking.add(conn);
    const socket = new tls.TLSSocket(
      Duplex.fromWeb({ readable: conn.readable, writable: conn.writable }, {
        allowHalfOpen: true,
      }).on("error", () => {}), // the TLS socket over it reports them
      {
        isServer: true,
        secureContext: context,
        // The handshake fails without a certificate the CA signed.
        requestCert: true,
        rejectUnauthorized: true,
      },
    );
    const fail = (why: string) => {
      log.debug("TLS handshake failed: {error}", { error: why });
      clearTimeout(timer);
      handshaking.delete(conn);
      socket.destroy();
      closeQuietly(conn);
    };
    // Cleared as soon as the handshake ends, within milliseconds for a client.
    const timer = Number.isFinite(timeoutMs)
      ? setTimeout(() => fail(`no handshake within ${timeoutMs} ms`), timeoutMs)
      : undefined;
    const refused = (err: Error) => fail(errorText(err));
    socket.once("error", refused);
    socket.once("secure", () => {
      clearTimeout(timer);
      socket.off("error", refused);
      // What tls.Server checks (onServerSocketSecure): the chain verified
      // against the client CA. Without the check, fail closed.
      const verifyError = (socket as {
        _handle?: { verifyError?: () => unknown };
      })._handle?.verifyError;
      const error = verifyError === undefined
        ? "cannot verify the client certificate"
        : verifyError.call((socket as { _handle?: object })._handle);
      if (error) {
        fail(`client certificate refused: ${errorText(error)}`);
        return;
      }
      if (!handshaking.delete(conn)) return; // closed meanwhile
      const done = serveConnection(
        socketStream(socket, conn),
        bound,
        server,
        stats,
      ).finally(() => connections.delete(done));
      connections.add(done);
    });
  });
  return Promise.resolve({
    url: bound,
    stats,
    close() {
      stop.abort();
      closeQuietly(listener);
      for (const conn of handshaking) closeQuietly(conn);
      handshaking.clear();
    },
    renewCertificate(next: TlsCertificate): Promise<boolean> {
      // TLS runs above the listening socket here: nothing to bind again.
      context = contextOf(next);
      return Promise.resolve(true);
    },
    finished: accepting.then(async () => {
      while (connections.size > 0) await Promise.all(connections);
    }),
  });
}

function closeQuietly(closable: { close(): void }): void {
  try {
    closable.close();
  } catch {
    // Already closed.
  }
}

/** A `node:tls` socket as a {@linkcode LineStream}. */
function socketStream(socket: tls.TLSSocket, conn: Deno.TcpConn): LineStream {
  const remote = conn.remoteAddr;
  const chunks: Uint8Array[] = [];
  let ended = false;
  let failure: Error | undefined;
  let waiting: PromiseWithResolvers<void> | undefined;
  const wake = () => {
    waiting?.resolve();
    waiting = undefined;
  };
  socket.on("data", (chunk: Uint8Array) => {
    chunks.push(chunk);
    // One chunk at a time: the socket stays paused until it is read.
    socket.pause();
    wake();
  });
  socket.on("end", () => {
    ended = true;
    wake();
  });
  socket.on("error", (err: Error) => {
    failure ??= err;
    wake();
  });
  socket.on("close", () => {
    ended = true;
    closeQuietly(conn);
    wake();
  });
  return {
    remote: `${remote.hostname}:${remote.port}`,
    async read(buffer: Uint8Array): Promise<number | null> {
      while (chunks.length === 0) {
        if (failure !== undefined) throw failure;
        if (ended) return null;
        waiting = Promise.withResolvers();
        socket.resume();
        await waiting.promise;
      }
      const chunk = chunks[0]!;
      const n = Math.min(chunk.byteLength, buffer.byteLength);
      buffer.set(chunk.subarray(0, n));
      if (n === chunk.byteLength) chunks.shift();
      else chunks[0] = chunk.subarray(n);
      return n;
    },
    write(bytes: Uint8Array): Promise<void> {
      return new Promise((resolve, reject) => {
        if (socket.destroyed || !socket.writable) {
          reject(failure ?? new Error("the connection is closed"));
          return;
        }
        socket.write(bytes, (err) => err ? reject(err) : resolve());
      });
    },
    close() {
      if (socket.destroyed) {
        closeQuietly(conn);
        return;
      }
      // close_notify, but never a long wait on a peer.
      const timer = setTimeout(() => {
        socket.destroy();
        closeQuietly(conn);
      }, 1000);
      socket.once("close", () => clearTimeout(timer));
      socket.end(() => socket.destroy());
    },
  };
}
