/**
 * The WebSocket listener (`ws://`, `wss://`), owned end to end: an accept
 * loop on `Deno.listen` / `Deno.listenTls`, the HTTP/1.1 request head read
 * with a size cap and a deadline, the routes of docs/protocol.md §8 for this
 * listener (the upgrade paths, `/ping`, the health routes), the RFC 6455
 * upgrade, then the session of `ws_session.ts` on the socket itself.
 *
 * @module
 */

import { getLogger } from "npm:@logtape/logtape@^2.4.2";
import { errorText } from "../_util/text.ts";
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
import { readHead, type Upgrade, upgradeOrRespond } from "./ws_http.ts";
import { serveSocket } from "./ws_session.ts";
import { AcceptFailures, Acceptor } from "./accept_failures.ts";

const log = getLogger(["mist", "ws"]);

const DEFAULT_PORTS: Record<string, number> = { ws: 8888, wss: 8889 };

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
  return serveSocket(conn, upgrade, scope.server, info);
}

function closeQuietly(resource: { close(): void }): void {
  try {
    resource.close();
  } catch {
    // Already closed.
  }
}
