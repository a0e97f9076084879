/**
 * The `tls://` listener: `node:tls` (`tls_socket.ts`) over `Deno.listen`, so
 * that a handshake deadline frees its connection, accepted connections keep
 * alive, and client certificates (mutual TLS) can be asked for; none of which
 * `Deno.listenTls` allows. Each connection is served by the same loop as
 * every `tcp://` connection.
 *
 * @module
 */

import { getLogger } from "npm:@logtape/logtape@^2.4.2";
import { errorText } from "../_util/text.ts";
import { newStats } from "../server/transport.ts";
import type { ServerPort, TlsCertificate } from "../server/port.ts";
import { boundUrl, type Listener } from "./listener.ts";
import { AcceptFailures, Acceptor } from "./accept_failures.ts";
import { serveConnection } from "./line_stream.ts";
import { ServerTls, type TlsStream } from "./tls_socket.ts";

const log = getLogger(["mist", "tcp"]);

/**
 * Starts a `tls://` listener on `node:tls`. With `certificate.clientCa`, a
 * client without a certificate that CA signed fails its handshake.
 *
 * @param address where to listen
 * @param server the server's side
 * @param certificate the server's certificate, and the client CA if any
 * @returns the started listener
 * @throws {Error} the errors of listening (address in use)
 */
export function listenTlsNode(
  address: { hostname: string; port: number },
  server: ServerPort,
  certificate: TlsCertificate,
): Promise<Listener> {
  // Accepted by Deno.listen, not node:net, whose accept loop stops for good,
  // without an error, once it runs out of descriptors (EMFILE).
  const listener = Deno.listen({ ...address, transport: "tcp" });
  const bound = boundUrl("tls", listener.addr);
  const stats = newStats();
  const tls = new ServerTls(certificate);
  /** Connections still in their handshake: closed with the listener. */
  const handshaking = new Set<Deno.TcpConn>();
  const timeoutMs = server.settings.tlsHandshakeTimeoutMs;
  const acceptor = new Acceptor(
    listener,
    new AcceptFailures(() => bound, stats),
    async (conn) => {
      handshaking.add(conn);
      let stream: TlsStream;
      try {
        stream = await tls.start(conn, timeoutMs);
      } catch (err) {
        log.debug("TLS handshake failed: {error}", { error: errorText(err) });
        return;
      } finally {
        handshaking.delete(conn);
      }
      await serveConnection(
        {
          remote: stream.remote,
          read: (buffer) => stream.read(buffer),
          write: async (bytes) => {
            await stream.write(bytes);
          },
          close: () => stream.close(),
        },
        bound,
        server,
        stats,
      );
    },
  );
  return Promise.resolve({
    url: bound,
    stats,
    close() {
      acceptor.close();
      for (const conn of handshaking) closeQuietly(conn);
    },
    renewCertificate(next: TlsCertificate): Promise<boolean> {
      // TLS runs above the listening socket here: nothing to bind again.
      tls.renew(next);
      return Promise.resolve(true);
    },
    finished: acceptor.finished(),
  });
}

function closeQuietly(closable: { close(): void }): void {
  try {
    closable.close();
  } catch {
    // Already closed.
  }
}
