/**
 * The `tls://` listener that verifies client certificates (mutual TLS), on
 * `node:tls`: `Deno.listenTls` cannot ask for them. Each socket is served by
 * the same loop as every other `tcp://` and `tls://` connection.
 *
 * @module
 */

import type { AddressInfo, Socket } from "node:net";
import * as tls from "node:tls";
import { getLogger } from "npm:@logtape/logtape@^2.4.2";
import { errorText } from "../_util/text.ts";
import { newStats } from "../server/transport.ts";
import type { ServerPort, TlsCertificate } from "../server/port.ts";
import { boundUrl, type Listener } from "./listener.ts";
import { AcceptFailures } from "./accept_failures.ts";
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
export async function listenTlsClientAuth(
  address: { hostname: string; port: number },
  server: ServerPort,
  certificate: TlsCertificate & { clientCa: string },
): Promise<Listener> {
  const { hostname, port } = address;
  const stats = newStats();
  const connections = new Set<Promise<void>>();
  /** Sockets still in their handshake: closed with the listener. */
  const handshaking = new Set<Socket>();
  let bound = "";
  const node = tlsServer(certificate, server.settings.tlsHandshakeTimeoutMs);
  const failures = new AcceptFailures(() => bound, stats);
  node.on("connection", (socket: Socket) => {
    failures.succeeded();
    // Finds peers that vanished (no FIN, no RST) after the system's keepalive time.
    socket.setKeepAlive(true);
    handshaking.add(socket);
    socket.once("close", () => handshaking.delete(socket));
  });
  node.on("secureConnection", (socket: tls.TLSSocket) => {
    // The socket that was handshaking is the one this TLS socket wraps.
    const raw = (socket as { _parent?: Socket })._parent ?? socket;
    handshaking.delete(raw);
    const done = serveConnection(socketStream(socket), bound, server, stats)
      .finally(() => connections.delete(done));
    connections.add(done);
  });
  node.on("tlsClientError", (err: Error, socket: Socket) => {
    log.debug("TLS handshake failed: {error}", { error: errorText(err) });
    handshaking.delete(socket);
    socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    node.once("error", reject);
    node.listen(port, hostname, () => {
      node.off("error", reject);
      resolve();
    });
  });
  // node:net reports a failed accept (EMFILE) as an error and goes on
  // listening: logged once per episode, which the next connection ends.
  node.on("error", (err: Error) => void failures.failed(err));
  const closed = new Promise<void>((resolve) => node.once("close", resolve));
  const addr = node.address() as AddressInfo;
  bound = boundUrl("tls", {
    transport: "tcp",
    hostname: addr.address,
    port: addr.port,
  });
  return {
    url: bound,
    stats,
    close() {
      node.close();
      for (const socket of handshaking) socket.destroy();
      handshaking.clear();
    },
    finished: closed.then(async () => {
      while (connections.size > 0) await Promise.all(connections);
    }),
  };
}

function tlsServer(
  certificate: TlsCertificate & { clientCa: string },
  handshakeTimeoutMs: number,
): tls.Server {
  return new tls.Server({
    // node:tls takes 0 for its default of 120 s: "no limit" is the longest timer.
    handshakeTimeout: Number.isFinite(handshakeTimeoutMs)
      ? handshakeTimeoutMs
      : 2 ** 31 - 1,
    cert: certificate.cert,
    key: certificate.key,
    ca: certificate.clientCa,
    requestCert: true,
    rejectUnauthorized: true,
    allowHalfOpen: true,
  });
}

/** A `node:tls` socket as a {@linkcode LineStream}. */
function socketStream(socket: tls.TLSSocket): LineStream {
  socket.setNoDelay(true);
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
    wake();
  });
  return {
    remote: `${socket.remoteAddress}:${socket.remotePort}`,
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
      if (socket.destroyed) return;
      // close_notify, but never a long wait on a peer.
      const timer = setTimeout(() => socket.destroy(), 1000);
      socket.once("close", () => clearTimeout(timer));
      socket.end(() => socket.destroy());
    },
  };
}
