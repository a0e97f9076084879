/**
 * TLS over an accepted `Deno.TcpConn`, on `node:tls`: the server side of every
 * `tls://` connection.
 *
 * Not `Deno.listenTls`: closing a `Deno.TlsConn` whose handshake has not
 * finished leaves its socket open until the peer sends or leaves (Deno's
 * rustls stream hands the pending handshake to a task that nothing aborts),
 * so a deadline could stop serving a silent client but not free its
 * descriptor; nor can a `Deno.TlsConn` keep alive or ask for a client
 * certificate. Here the TCP connection stays mist's: closing it frees it, at
 * any stage, and a new certificate only swaps the context new handshakes use.
 *
 * @module
 */

import { Duplex } from "node:stream";
import * as tls from "node:tls";
import { errorText } from "../_util/text.ts";
import type { TlsCertificate } from "../server/port.ts";

/** A TLS connection once its handshake is done: what a listener reads and writes. */
export interface TlsStream {
  /** Reads into `buffer`: how many bytes, or `null` once the peer finished sending. */
  read(buffer: Uint8Array): Promise<number | null>;
  /** Writes all of `bytes`: their length, once the TCP connection took them. */
  write(bytes: Uint8Array): Promise<number>;
  /** Ends the sending side after a close_notify; reads go on. */
  closeWrite(): Promise<void>;
  /** Closes after a close_notify that waits at most a second. */
  close(): void;
  /** The peer, `HOST:PORT`. */
  readonly remote: string;
  /** The peer's address. */
  readonly remoteAddr: Deno.NetAddr;
}

/**
 * The server's side of TLS: its certificate (and client CA, for mutual TLS)
 * as a secure context, and the handshakes made with it.
 *
 * @example
 * ```ts ignore
 * const tls = new ServerTls(certificate);
 * const stream = await tls.start(conn, 10_000); // conn: a Deno.TcpConn
 * tls.renew(next); // new handshakes use the new certificate
 * ```
 */
export class ServerTls {
  #context: tls.SecureContext;
  #clientCa: string | undefined;

  /**
   * @param certificate the certificate, its key, and an optional client CA
   */
  constructor(certificate: TlsCertificate) {
    this.#clientCa = certificate.clientCa;
    this.#context = this.#contextOf(certificate);
  }

  #contextOf(pair: TlsCertificate): tls.SecureContext {
    return tls.createSecureContext({
      cert: pair.cert,
      key: pair.key,
      ...(this.#clientCa === undefined ? {} : { ca: this.#clientCa }),
    });
  }

  /**
   * Uses a new certificate for the handshakes to come; open connections go
   * on. A certificate without a client CA keeps the current one.
   *
   * @param next the new certificate and key
   */
  renew(next: TlsCertificate): void {
    this.#clientCa = next.clientCa ?? this.#clientCa;
    this.#context = this.#contextOf(next);
  }

  /**
   * Runs the server's handshake on an accepted connection, which gets TCP
   * keepalive and no delay.
   *
   * @param conn the accepted TCP connection: closing it (the listener does
   *   when it closes) ends the handshake too
   * @param timeoutMs how long the client has to finish it (Infinity: no limit)
   * @returns the TLS connection
   * @throws {Error} when the handshake failed or took longer than `timeoutMs`;
   *   `conn` is then closed
   */
  start(conn: Deno.TcpConn, timeoutMs: number): Promise<TlsStream> {
    try {
      conn.setNoDelay(true);
      // Finds peers that vanished (no FIN, no RST) after the system's keepalive time.
      conn.setKeepAlive(true);
    } catch {
      // Closed already: the handshake fails below.
    }
    const verify = this.#clientCa !== undefined;
    const socket = new tls.TLSSocket(
      Duplex.fromWeb({ readable: conn.readable, writable: conn.writable }, {
        allowHalfOpen: true,
      }).on("error", () => {}), // the TLS socket over it reports them
      {
        isServer: true,
        secureContext: this.#context,
        // With a client CA, the handshake fails without a certificate it signed.
        requestCert: verify,
        rejectUnauthorized: verify,
      },
    );
    const { promise, resolve, reject } = Promise.withResolvers<TlsStream>();
    const fail = (why: string) => {
      clearTimeout(timer);
      socket.destroy();
      closeQuietly(conn);
      reject(new Error(why));
    };
    // Cleared as soon as the handshake ends, within milliseconds for a client.
    const timer = Number.isFinite(timeoutMs)
      ? setTimeout(() => fail(`no handshake within ${timeoutMs} ms`), timeoutMs)
      : undefined;
    const refused = (err: Error) => fail(errorText(err));
    socket.once("error", refused);
    const closed = () => fail("closed during the handshake");
    socket.once("close", closed);
    socket.once("secure", () => {
      clearTimeout(timer);
      socket.off("error", refused);
      socket.off("close", closed);
      if (verify) {
        // What tls.Server checks (onServerSocketSecure): the chain verified
        // against the client CA. Without the check, fail closed.
        const handle = (socket as {
          _handle?: { verifyError?: () => unknown };
        })._handle;
        const error = handle?.verifyError === undefined
          ? "cannot verify the client certificate"
          : handle.verifyError();
        if (error) {
          return fail(`client certificate refused: ${errorText(error)}`);
        }
      }
      resolve(socketStream(socket, conn));
    });
    return promise;
  }
}

function closeQuietly(closable: { close(): void }): void {
  try {
    closable.close();
  } catch {
    // Already closed.
  }
}

/** A `node:tls` socket as a {@linkcode TlsStream}. */
function socketStream(socket: tls.TLSSocket, conn: Deno.TcpConn): TlsStream {
  const remoteAddr = conn.remoteAddr;
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
    remote: `${remoteAddr.hostname}:${remoteAddr.port}`,
    remoteAddr,
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
    write(bytes: Uint8Array): Promise<number> {
      return new Promise((resolve, reject) => {
        if (socket.destroyed || !socket.writable) {
          reject(failure ?? new Error("the connection is closed"));
          return;
        }
        socket.write(bytes, (err) => err ? reject(err) : resolve(bytes.length));
      });
    },
    closeWrite(): Promise<void> {
      socket.end();
      return Promise.resolve();
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
