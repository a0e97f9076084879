/**
 * The HTTP listeners on `Deno.serve`, `http://` and `https://`: the HTTP API
 * of docs/protocol.md §8 (`/ping`, the WebSocket upgrade, `POST /publish`,
 * Server-Sent Events at `/subscribe`, `/health/live`, `/health/ready`,
 * `/metrics`), and the web console (`/console`, `src/console/`). The `ws://`
 * listener is ws_listener.ts.
 *
 * Every `GET` route answers `HEAD` too. The WebSocket upgrades, `POST /publish`
 * and `GET /subscribe` follow the origin policy of §9 (`origins.ts`).
 *
 * @module
 */

import { getLogger } from "npm:@logtape/logtape@^2.4.2";
import { sleep } from "../_util/deadline.ts";
import { checkMetrics, type Principal } from "../core/principal.ts";
import {
  type CommandRequest,
  decode,
  type Message,
} from "../protocol/codec.ts";
import { MistError } from "../protocol/errors.ts";
import { type ConnectionInfo, newStats } from "../server/transport.ts";
import type { ServerPort, TlsCertificate } from "../server/port.ts";
import {
  bindAddress,
  boundUrl,
  canRebind,
  type Listener,
  rebindable,
} from "./listener.ts";
import { AcceptFailures } from "./accept_failures.ts";
import { requestedSubscriptions, serveEvents } from "./sse.ts";
import {
  checkOrigin,
  commonRoute,
  failure,
  json,
  methodNotAllowed,
  metricsToken,
  originRefused,
  preflight,
  presentedToken,
  readBody,
  withCors,
} from "./http_io.ts";
import { acceptWebSocket } from "./websocket.ts";
import { serveConsole } from "../console/routes.ts";

const log = getLogger(["mist", "http"]);

const DEFAULT_PORTS: Record<string, number> = {
  http: 8080,
  https: 8443,
};

/**
 * Starts an `http://` or `https://` listener with the whole HTTP API.
 *
 * @param url e.g. `http://127.0.0.1:8080`
 * @param server the server's side
 * @returns the started listener
 * @throws {Error} for `https://` without a certificate; the errors of `Deno.serve`
 */
export function listenHttp(
  url: URL,
  server: ServerPort,
): Promise<Listener> {
  return Promise.resolve(startHttp(url, server));
}

function startHttp(url: URL, server: ServerPort): Listener {
  const scheme = url.protocol.slice(0, -1);
  const secure = scheme === "https";
  /** The certificate new connections get; a new one replaces it. */
  let tls = server.settings.tls;
  if (secure && tls === undefined) {
    throw new Error(
      `${scheme}:// needs a certificate: set tls-cert and tls-key`,
    );
  }
  const stats = newStats();
  let bound = "";
  const failures = new AcceptFailures(() => bound, stats);
  const stop = new AbortController();
  /** Every Deno.serve started: the one accepting, and those still serving. */
  const instances = new Set<Deno.HttpServer>();
  /** The one accepting. */
  let current: Deno.HttpServer;
  const handler = (request: Request, info: Deno.ServeHandlerInfo) => {
    const remote = info.remoteAddr as Deno.NetAddr;
    return respond(request, {
      server,
      info: {
        listener: bound,
        remote: `${remote.hostname}:${remote.port}`,
        stats,
      },
    });
  };
  type Address = { hostname: string; port: number; reusePort?: true };
  const start = (address: Address) => {
    const http = Deno.serve({
      ...address,
      ...(secure ? { cert: tls!.cert, key: tls!.key } : {}),
      onListen() {},
      onError(err) {
        log.error("{listener}: request failed: {error}", {
          listener: bound,
          error: err,
        });
        return json(500, { error: "internal error" });
      },
    }, handler);
    instances.add(http);
    current = http;
    // Deno.serve's accept loop ends for good on the first accept error
    // (EMFILE) and rejects `finished`; its open connections go on. Another
    // Deno.serve takes over the port once one can be opened.
    http.finished.then(() => instances.delete(http), (err) => {
      instances.delete(http);
      const port = (http.addr as Deno.NetAddr).port;
      if (!stop.signal.aborted && http === current) {
        void restart({ ...address, port }, err);
      }
    });
    return http;
  };
  const restart = async (address: Address, err: unknown) => {
    let pauseMs = failures.failed(err);
    while (!stop.signal.aborted) {
      await sleep(pauseMs, stop.signal);
      if (stop.signal.aborted) return;
      try {
        start(address);
        failures.succeeded();
        return;
      } catch (err) {
        pauseMs = failures.failed(err);
      }
    }
  };
  const address = bindAddress(url, DEFAULT_PORTS[scheme] ?? 80);
  const first = start(secure ? rebindable(address) : address);
  const addr = first.addr as Deno.NetAddr;
  bound = boundUrl(scheme, addr);
  const finished = Promise.withResolvers<void>();
  const renewable = canRebind();
  return {
    url: bound,
    stats,
    ...(!secure ? {} : {
      async renewCertificate(next: TlsCertificate): Promise<boolean> {
        if (!renewable || stop.signal.aborted) return false;
        // Bound beside the old one (SO_REUSEPORT), which then stops
        // accepting and lets its open connections and streams finish.
        const replaced = current;
        const before = tls;
        tls = next;
        try {
          start({ ...address, port: addr.port, reusePort: true });
        } catch (err) {
          tls = before;
          throw err;
        }
        replaced.shutdown().catch(() => {});
        // Deno.serve closes its listening socket on the next turn.
        await sleep(0);
        return true;
      },
    }),
    close() {
      if (stop.signal.aborted) return;
      stop.abort();
      // Resolves once open streams end: the server closes their connections.
      Promise.all(
        [...instances].map((http) => http.shutdown().catch(() => {})),
      ).then(() => finished.resolve());
    },
    finished: finished.promise,
  };
}

/** What one request is answered with: the server, and where it came from. */
interface Scope {
  server: ServerPort;
  info: ConnectionInfo;
}

async function respond(request: Request, r: Scope): Promise<Response> {
  const url = new URL(request.url);
  const path = url.pathname;
  const upgrade = request.headers.get("upgrade")?.toLowerCase() === "websocket";
  // Every GET route answers HEAD too (PROTOCOL.md §8): the same status and
  // headers, no body.
  const head = request.method === "HEAD";
  const get = head || request.method === "GET";
  if (path === "/subscribe/websocket" || (path === "/" && upgrade)) {
    if (!get) return methodNotAllowed("GET, HEAD");
    if (
      checkOrigin(
        request.headers,
        url.protocol === "https:",
        r.server.settings,
        r.info.listener,
        "WebSocket upgrade",
      ) === "refused"
    ) {
      return originRefused("");
    }
    if (!upgrade || head) {
      return json(426, { error: "expected a WebSocket upgrade" });
    }
    let principal: Principal | undefined;
    try {
      const token = presentedToken(request, url);
      if (token !== undefined) principal = await r.server.authenticate(token);
    } catch (err) {
      return failure(err, undefined, { command: "" });
    }
    try {
      return acceptWebSocket(
        request,
        r.server,
        r.info,
        principal === undefined ? {} : { principal },
      );
    } catch (err) {
      // Deno refuses a malformed upgrade (no Sec-WebSocket-Key, ...).
      if (!(err instanceof TypeError)) throw err;
      return json(400, { error: `bad WebSocket upgrade: ${err.message}` });
    }
  }
  const routed = await commonRoute(request.method, path, r.server) ??
    await api(request, url, r);
  if (routed === undefined) return json(404, { error: "not found" });
  return head ? withoutBody(routed) : routed;
}

/** The routes of `http://` and `https://` beyond the common ones; `undefined` for others. */
async function api(
  request: Request,
  url: URL,
  r: Scope,
): Promise<Response | undefined> {
  const get = request.method === "GET" || request.method === "HEAD";
  switch (url.pathname) {
    case "/": // without an upgrade (those are answered above): to the console
    case "/console":
    case "/console/app.js":
    case "/console/app.css":
    case "/console/events":
      return await serveConsole(request, url, r.server, r.info);
    case "/publish":
    case "/subscribe": {
      // What browsers reach: the origin policy first (§9), before any token
      // is looked at or anything is published or subscribed.
      const publishing = url.pathname === "/publish";
      const methods = publishing ? "POST" : "GET, HEAD";
      const verdict = checkOrigin(
        request.headers,
        url.protocol === "https:",
        r.server.settings,
        r.info.listener,
        `${request.method} ${url.pathname}`,
      );
      if (verdict === "refused") {
        return originRefused(publishing ? "publish" : "subscribe");
      }
      const origin = request.headers.get("origin");
      if (request.method === "OPTIONS") {
        return preflight(methods, origin, verdict);
      }
      if (publishing ? request.method !== "POST" : !get) {
        return methodNotAllowed(`${methods}, OPTIONS`);
      }
      const response = publishing
        ? await publish(request, url, r)
        : await subscribe(request, url, r);
      return withCors(response, origin, verdict);
    }
    case "/metrics": {
      if (!get) return methodNotAllowed("GET, HEAD");
      let principal: Principal | undefined;
      try {
        principal = await r.server.authenticate(metricsToken(request, url));
        checkMetrics(principal);
      } catch (err) {
        return failure(err, principal, { command: "" });
      }
      return new Response(r.server.metrics(), {
        headers: {
          "content-type": "text/plain; version=0.0.4; charset=utf-8",
          "cache-control": "no-store",
        },
      });
    }
  }
  return undefined;
}

/** `GET` and `HEAD /subscribe`: an event stream, or what it would answer. */
async function subscribe(
  request: Request,
  url: URL,
  r: Scope,
): Promise<Response> {
  let principal: Principal | undefined;
  try {
    principal = await r.server.authenticate(presentedToken(request, url));
    const subscriptions = requestedSubscriptions(
      url,
      r.server.settings.limits,
    );
    if (request.method === "HEAD") {
      // What GET would answer: the same subscribe commands run on a
      // connection that ends at once, so nothing stays subscribed.
      const probe = r.server.open(NO_OUTLET, r.info, {
        principal,
        internal: true,
      });
      try {
        for (const tags of subscriptions) {
          probe.run({ command: "subscribe", tags });
        }
      } finally {
        probe.close();
      }
      return new Response(null, { headers: EVENT_STREAM_HEADERS });
    }
    return serveEvents(subscriptions, r.server, r.info, principal);
  } catch (err) {
    return failure(err, principal, { command: "subscribe" });
  }
}

/** The headers of an event stream, for `GET` and `HEAD /subscribe`. */
const EVENT_STREAM_HEADERS = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache",
  "x-accel-buffering": "no",
};

function withoutBody(response: Response): Response {
  response.body?.cancel().catch(() => {});
  return new Response(null, {
    status: response.status,
    headers: response.headers,
  });
}

async function publish(
  request: Request,
  url: URL,
  r: Scope,
): Promise<Response> {
  let principal: Principal;
  try {
    principal = await r.server.authenticate(presentedToken(request, url));
  } catch (err) {
    return failure(err, undefined, { command: "publish" });
  }
  const limits = r.server.settings.limits;
  const body = await readBody(request, limits.maxMessageBytes);
  if (body instanceof MistError) {
    return failure(body, principal, { command: "publish" });
  }
  r.info.stats.bytesReceived += body.byteLength;
  let decoded: CommandRequest = { command: "publish" };
  // A connection for this one request: the publish command runs as it would
  // on any other transport.
  const connection = r.server.open(NO_OUTLET, r.info, {
    principal,
    internal: true,
  });
  try {
    decoded = decode(body, limits, "publish");
    if (decoded.command !== "publish") {
      throw new MistError("invalid_message", 'POST /publish takes a "publish"');
    }
    await connection.run(decoded);
  } catch (err) {
    return failure(err, principal, decoded);
  } finally {
    connection.close();
  }
  const ack: Message = { command: "publish", tags: decoded.tags ?? [] };
  ack.data = "ok";
  if (decoded.id !== undefined) ack.id = decoded.id;
  return json(202, ack);
}

/** Where a one-request connection writes: nowhere (its reply is the response). */
const NO_OUTLET = { write() {}, close() {} };
