/**
 * The HTTP listeners, `http://` and `https://`, on mist's HTTP/1.1 front
 * (http_front.ts): the HTTP API
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

import type { Principal } from "../core/principal.ts";
import {
  type CommandRequest,
  decode,
  type Message,
} from "../protocol/codec.ts";
import { MistError } from "../protocol/errors.ts";
import type { ServerPort } from "../server/port.ts";
import type { Listener } from "./listener.ts";
import { type Exchange, listenFront } from "./http_front.ts";
import { requestedSubscriptions, serveEvents } from "./sse.ts";
import {
  checkOrigin,
  commonRoute,
  failure,
  json,
  methodNotAllowed,
  metricsReader,
  originRefused,
  preflight,
  presentedToken,
  readBody,
  withCors,
} from "./http_io.ts";
import { type Accepted, upgradeRoute } from "./ws_http.ts";
import { serveConsole } from "../console/routes.ts";

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
 * @throws {Error} for `https://` without a certificate; the errors of
 *   `Deno.listen`
 */
export function listenHttp(
  url: URL,
  server: ServerPort,
): Promise<Listener> {
  return Promise.resolve(listenFront(url, server, {
    defaultPort: DEFAULT_PORTS[url.protocol.slice(0, -1)] ?? 80,
    keepAlive: true,
    route: (request, exchange) => respond(request, { server, ...exchange }),
  }));
}

/** What one request is answered with: the server, and where it came from. */
interface Scope extends Exchange {
  server: ServerPort;
}

/**
 * Every route of the listener. A `GET` route answers `HEAD` too (PROTOCOL.md
 * §8): the same status and headers; the front writes no body.
 */
async function respond(
  request: Request,
  r: Scope,
): Promise<Response | Accepted> {
  const url = new URL(request.url);
  return await upgradeRoute(request, r, r.server) ??
    await commonRoute(request.method, url.pathname, r.server) ??
    await api(request, url, r) ??
    json(404, { error: "not found" });
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
        r.secure,
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
      const reader = await metricsReader(request, url, r.server);
      if (reader instanceof Response) return reader;
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
