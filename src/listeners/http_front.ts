/**
 * mist's own HTTP/1.1 front, shared by `http://`, `https://`, `ws://` and
 * `wss://`: an accept loop on `Deno.listen` (through `Acceptor`), TLS on
 * `node:tls` over each connection (tls_socket.ts), one deadline (`request-timeout`) for the TLS handshake and for
 * each request head, keep-alive between them too, pipelined requests answered
 * in order, request bodies read as the route pulls them, and each answer
 * written by http_wire.ts, or a WebSocket upgrade handed to `serveSocket`.
 * What a request is answered with is the listener's {@linkcode Route}.
 *
 * @module
 */

import { getLogger } from "npm:@logtape/logtape@^2.4.2";
import { Buffer } from "node:buffer";
import { writeAll } from "../_util/io.ts";
import { errorText } from "../_util/text.ts";
import type { ServerPort, TlsCertificate } from "../server/port.ts";
import {
  type ConnectionInfo,
  type ListenerStats,
  newStats,
} from "../server/transport.ts";
import { AcceptFailures, Acceptor } from "./accept_failures.ts";
import { json } from "./http_io.ts";
import { BadRequest, hasToken, type Head, Wire } from "./http_wire.ts";
import { attachBody, type Body, framing, readBody } from "./http_body.ts";
import {
  closedBy,
  isStream,
  linger,
  writeFixed,
  writeStreamed,
} from "./http_reply.ts";
import {
  bindAddress,
  boundUrl,
  type ByteConn,
  type Listener,
} from "./listener.ts";
import { ServerTls } from "./tls_socket.ts";
import { Deadlines } from "./deadlines.ts";
import type { Accepted } from "./ws_http.ts";
import { serveSocket } from "./ws_session.ts";

const log = getLogger(["mist", "http"]);

/**
 * What the route left unread of a body the front reads and discards to keep
 * the connection; past it the connection is closed instead.
 */
const SKIP_BYTES = 64 * 1024;

/** One request, as its route sees it. */
export interface Exchange {
  /** Whether it came over TLS. */
  readonly secure: boolean;
  /** The HTTP version of its request line. */
  readonly version: "1.0" | "1.1";
  /** Where it came from. */
  readonly info: ConnectionInfo;
}

/**
 * What a listener answers each request with: a response, or an accepted
 * WebSocket upgrade.
 */
export type Route = (
  request: Request,
  exchange: Exchange,
) => Promise<Response | Accepted>;

/** How a listener of the front is set up. */
export interface FrontOptions {
  /** The port when the URL names none. */
  defaultPort: number;
  /** What each request is answered with. */
  route: Route;
  /** Whether a connection serves more than one request (false: closed after the first). */
  keepAlive: boolean;
}

/**
 * Starts a listener on the front.
 *
 * @param url e.g. `http://127.0.0.1:8080`; `https:` and `wss:` listen on TLS
 * @param server the server's side; TLS needs its `tls` certificate
 * @param options the route and defaults
 * @returns the started listener
 * @throws {Error} for TLS without a certificate; the errors of `Deno.listen`
 */
export function listenFront(
  url: URL,
  server: ServerPort,
  options: FrontOptions,
): Listener {
  const scheme = url.protocol.slice(0, -1);
  const secure = scheme === "https" || scheme === "wss";
  const certificate = server.settings.tls;
  if (secure && certificate === undefined) {
    throw new Error(
      `${scheme}:// needs a certificate: set tls-cert and tls-key`,
    );
  }
  // TLS runs on node:tls over each accepted TCP connection (tls_socket.ts),
  // so that a deadline frees a client that never finishes its handshake.
  const listener = Deno.listen({
    ...bindAddress(url, options.defaultPort),
    transport: "tcp",
  });
  const bound = boundUrl(scheme, listener.addr);
  // No ALPN: a client offering HTTP/2 gets none agreed and speaks HTTP/1.1.
  // (Offering "http/1.1" made Deno's WebSocket client report a certificate
  // it does not trust as "tls handshake eof".)
  const tls = secure ? new ServerTls(certificate!) : undefined;
  return accept(listener, bound, server, options, tls);
}

/** What serving one connection needs. */
interface Scope {
  readonly url: string;
  readonly host: string;
  readonly server: ServerPort;
  readonly stats: ListenerStats;
  readonly options: FrontOptions;
  /** Connections waiting for a request head: closed with the listener. */
  readonly idle: Set<Deno.Conn>;
  /** The `request-timeout` deadlines of its connections. */
  readonly deadlines: Deadlines;
  closed: boolean;
  /** The TLS of `https://` and `wss://`. */
  readonly tls: ServerTls | undefined;
}

function accept(
  first: Deno.TcpListener,
  url: string,
  server: ServerPort,
  options: FrontOptions,
  tls: ServerTls | undefined,
): Listener {
  const stats = newStats();
  const scope: Scope = {
    url,
    host: new URL(url).host,
    server,
    stats,
    options,
    idle: new Set(),
    deadlines: new Deadlines(),
    closed: false,
    tls,
  };
  // One shared callback, nothing kept per connection.
  const acceptor = new Acceptor(
    first,
    new AcceptFailures(() => url, stats),
    (conn) => serveConn(conn, scope),
  );
  return {
    url,
    stats,
    close() {
      scope.closed = true;
      acceptor.close();
      for (const conn of scope.idle) closeQuietly(conn);
      scope.deadlines.close();
    },
    ...(tls === undefined ? {} : {
      renewCertificate(next: TlsCertificate): Promise<boolean> {
        // Only the context of new handshakes changes: nothing to bind again.
        tls.renew(next);
        return Promise.resolve(true);
      },
    }),
    finished: acceptor.finished(),
  };
}

/** What answering one request left: the connection goes on, ends, or is upgraded. */
type Outcome = "again" | "end" | Accepted;

/**
 * Serves requests on one connection until it ends; an upgraded connection
 * is then served by {@linkcode serveSocket}, returned rather than awaited so
 * that nothing of the requests outlives the upgrade in this function's frame.
 */
async function serveConn(tcp: Deno.TcpConn, scope: Scope): Promise<void> {
  const remote = tcp.remoteAddr;
  const info: ConnectionInfo = {
    listener: scope.url,
    remote: `${remote.hostname}:${remote.port}`,
    stats: scope.stats,
  };
  try {
    tcp.setNoDelay(true);
    // Finds peers that vanished (no FIN, no RST) after the system's keepalive time.
    tcp.setKeepAlive(true);
  } catch {
    // Closed already: the first read says so.
  }
  const timeoutMs = scope.server.settings.requestTimeoutMs;
  // The deadline closes the TCP connection: that ends a TLS handshake too.
  const wait = () => {
    scope.idle.add(tcp);
    scope.deadlines.arm(tcp, timeoutMs);
  };
  const busy = () => {
    scope.deadlines.clear(tcp);
    scope.idle.delete(tcp);
  };
  // A request's body and its answer get a deadline of their own: a client
  // that announces a body and sends it a byte a minute is closed too.
  const answering = () => scope.deadlines.arm(tcp, timeoutMs);
  let outcome: Outcome = "end";
  let conn: ByteConn = tcp;
  let wire: Wire | undefined;
  try {
    // One deadline for the TLS handshake and the first request head.
    wait();
    if (scope.tls !== undefined) conn = await scope.tls.start(tcp, Infinity);
    wire = new Wire(conn, scope.stats);
    do {
      if (outcome === "again") wait();
      let head: Head | undefined;
      try {
        head = await wire.head();
      } catch (err) {
        if (!(err instanceof BadRequest)) throw err;
        busy();
        await refuse(conn, err);
        break;
      }
      busy();
      if (head === undefined) break;
      outcome = await answer(conn, wire, head, scope, info, {
        wait,
        busy,
        answering,
      });
    } while (outcome === "again" && !scope.closed);
  } catch (err) {
    log.debug("{listener}: connection from {remote} failed: {error}", {
      listener: scope.url,
      remote: info.remote,
      error: errorText(err),
    });
    outcome = "end";
  } finally {
    busy();
  }
  if (typeof outcome === "string") return closeQuietly(conn);
  return serveSocket(
    conn,
    { principal: outcome.principal, lines: outcome.lines, rest: wire!.rest() },
    scope.server,
    info,
  );
}

const CONTINUE = Buffer.from("HTTP/1.1 100 Continue\r\n\r\n", "latin1");

/** Answers one request; says what the connection does next. */
async function answer(
  conn: ByteConn,
  wire: Wire,
  head: Head,
  scope: Scope,
  info: ConnectionInfo,
  deadline: { wait(): void; busy(): void; answering(): void },
): Promise<Outcome> {
  const { method, headers, version } = head;
  let request: Request;
  let body: Body;
  let expects = false;
  try {
    const how = framing(headers);
    const expect = headers.get("expect");
    if (expect !== null) {
      if (expect.toLowerCase() !== "100-continue") {
        throw new BadRequest(417, "only Expect: 100-continue is served");
      }
      expects = version === "1.1";
    }
    body = readBody(
      wire,
      how,
      () => expects ? writeAll(conn, CONTINUE) : Promise.resolve(),
    );
    const withBody = method !== "GET" && method !== "HEAD" &&
      !body.ended;
    // The route reads the body off the wire (bodyOf), not from a stream.
    request = new Request(requestUrl(head, scope), { method, headers });
    if (withBody) attachBody(request, body);
  } catch (err) {
    // The platform refuses some requests outright (TRACE, CONNECT).
    if (err instanceof TypeError) {
      await refuse(conn, new BadRequest(400, "bad request"));
      return "end";
    }
    if (!(err instanceof BadRequest)) throw err;
    await refuse(conn, err);
    return "end";
  }
  const secure = scope.tls !== undefined;
  let response: Response | Accepted;
  // Until the route has answered: an event stream or an upgrade then lasts
  // as long as it is wanted.
  deadline.answering();
  try {
    response = await scope.options.route(request, { secure, version, info });
  } catch (err) {
    log.error("{listener}: request failed: {error}", {
      listener: scope.url,
      error: err,
    });
    response = json(500, { error: "internal error" });
  }
  deadline.busy();
  if (!(response instanceof Response)) {
    await writeAll(conn, response.head);
    return response;
  }
  if (isStream(response)) {
    if (method !== "HEAD") {
      await writeStreamed(conn, response, version === "1.1", closedBy(conn));
      return "end";
    }
    // Its head only: the stream is not read (it would never end).
    response.body!.cancel().catch(() => {});
    response = new Response(null, response);
  }
  let keepAlive = scope.options.keepAlive && !scope.closed &&
    (version === "1.1"
      ? !hasToken(headers.get("connection"), "close")
      : hasToken(headers.get("connection"), "keep-alive"));
  // A body the client was told to hold back (no 100 Continue) may come or
  // not, and a long one is not worth reading: the connection cannot be read
  // past either.
  const unread = !body.ended &&
    ((expects && !body.started) || body.left > SKIP_BYTES);
  if (unread) keepAlive = false;
  await writeFixed(conn, response, {
    head: method === "HEAD",
    keepAlive,
    sayKeepAlive: version === "1.0",
  });
  if (unread && !(expects && !body.started)) {
    // Closing with the client's bytes unread would reset the connection,
    // and the client could lose the answer: what it sends next is read and
    // dropped, bounded, until it closes or the deadline does.
    deadline.wait();
    await linger(conn);
  }
  if (!keepAlive) return "end";
  if (body.ended) return "again";
  // What the route left of the body is read past, if it is short, under the
  // same deadline as a request head.
  deadline.wait();
  const skipped = await body.skip(SKIP_BYTES);
  deadline.busy();
  return skipped ? "again" : "end";
}

/** The request's URL: its target on the `Host` it names, else the listener's. */
function requestUrl(head: Head, scope: Scope): URL {
  const scheme = scope.url.startsWith("https:") || scope.url.startsWith("wss:")
    ? "https"
    : "http";
  const named = head.headers.get("host") ?? "";
  // Only a host (and port): no user, no path the URL parser would read.
  const host = /^[A-Za-z0-9._~!$&'()*+,;=:[\]-]+$/.test(named) &&
      !named.includes("@")
    ? named
    : scope.host;
  try {
    return new URL(`${scheme}://${host}${head.target}`);
  } catch {
    try {
      return new URL(`${scheme}://${scope.host}${head.target}`);
    } catch {
      throw new BadRequest(400, "bad request target");
    }
  }
}

/** Answers a request that cannot be served, and ends the connection. */
async function refuse(conn: ByteConn, err: BadRequest): Promise<void> {
  await writeFixed(conn, json(err.status, { error: err.message }), {
    head: false,
    keepAlive: false,
    sayKeepAlive: false,
  }).catch(() => {});
}

function closeQuietly(resource: { close(): void }): void {
  try {
    resource.close();
  } catch {
    // Already closed.
  }
}
