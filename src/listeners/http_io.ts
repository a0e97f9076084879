/**
 * What an HTTP request presents (its body, its token), the responses the
 * HTTP listeners build from mist's errors, and their CORS headers (§9).
 *
 * @module
 */

import { getLogger } from "npm:@logtape/logtape@^2.4.2";
import { limitedLog } from "../_util/rate_limit.ts";
import { errorText } from "../_util/text.ts";
import { checkMetrics, type Principal } from "../core/principal.ts";
import { errorReply } from "../protocol/codec.ts";
import { type ErrorContext, MistError } from "../protocol/errors.ts";
import type { ListenerSettings, ServerPort } from "../server/port.ts";
import {
  ORIGIN_REFUSED,
  type OriginVerdict,
  originVerdict,
  WarnOnce,
} from "./origins.ts";
import { fixedResponse } from "./http_reply.ts";
import { bodyOf } from "./http_body.ts";

const log = getLogger(["mist", "http"]);

/**
 * Reads a body up to a size. A body that cannot be read (the client hung up
 * before it ended) is the client's fault: logged at DEBUG, rate-limited.
 *
 * @param request the request
 * @param max the most bytes
 * @returns the body, or the error to answer: `message too large` past
 *   `max` bytes, `invalid message` when it could not be read
 */
export async function readBody(
  request: Request,
  max: number,
): Promise<Uint8Array | MistError> {
  const declared = Number(request.headers.get("content-length") ?? NaN);
  const wire = bodyOf(request);
  if (declared > max) {
    await request.body?.cancel().catch(() => {});
    return tooLarge(max);
  }
  // The front's requests: read off the wire. Others: their stream.
  const reader = wire === undefined ? request.body?.getReader() : undefined;
  if (wire === undefined && reader === undefined) return new Uint8Array(0);
  const read = wire !== undefined ? () => wire.read() : async () => {
    const { done, value } = await reader!.read();
    return done ? null : value;
  };
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (let chunk = await read(); chunk !== null; chunk = await read()) {
      size += chunk.byteLength;
      if (size > max) {
        reader?.cancel().catch(() => {});
        return tooLarge(max);
      }
      chunks.push(chunk);
    }
  } catch (err) {
    limitedLog(
      log,
      "debug",
      "http-body-unread",
      "A request body could not be read after {size} bytes: {error}",
      { size, error: errorText(err) },
    );
    return new MistError("invalid_message", "the body could not be read");
  }
  const body = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return body;
}

function tooLarge(max: number): MistError {
  limitedLog(
    log,
    "info",
    "http-body-too-large",
    "Refused a request body longer than {max} bytes",
    { max },
  );
  return new MistError("too_large");
}

/**
 * The token a request presents: the `X-AUTH-TOKEN` header, else the
 * `x-auth-token` query parameter (its name matched case-insensitively).
 *
 * @param request the request
 * @param url its parsed URL
 * @returns the token, or `undefined` when none is presented
 */
export function presentedToken(
  request: Pick<Request, "headers">,
  url: URL,
): string | undefined {
  const header = request.headers.get("x-auth-token");
  if (header !== null) return header;
  for (const [name, value] of url.searchParams) {
    if (name.toLowerCase() === "x-auth-token") return value;
  }
  return undefined;
}

/**
 * The token a `GET /metrics` request presents: `Authorization: Bearer T`,
 * which is what Prometheus sends, else as {@linkcode presentedToken}.
 *
 * @param request the request
 * @param url its parsed URL
 * @returns the token, or `undefined` when none is presented
 */
export function metricsToken(request: Request, url: URL): string | undefined {
  const authorization = request.headers.get("authorization");
  const bearer = authorization?.match(/^Bearer[ \t]+(\S+)[ \t]*$/i);
  return bearer?.[1] ?? presentedToken(request, url);
}

/**
 * Checks that a request may read the server's numbers (`GET /metrics`, the
 * console's feed): its {@linkcode metricsToken} is the admin or the metrics
 * token.
 *
 * @param request the request
 * @param url its parsed URL
 * @param server the server's side
 * @returns who it is when it may, else the error response to answer
 */
export async function metricsReader(
  request: Request,
  url: URL,
  server: Pick<ServerPort, "authenticate">,
): Promise<Principal | Response> {
  let principal: Principal | undefined;
  try {
    principal = await server.authenticate(metricsToken(request, url));
    checkMetrics(principal);
    return principal;
  } catch (err) {
    return failure(err, principal, { command: "" });
  }
}

/** The error response for a failed request: the §6 error reply, with its HTTP status. */
export function failure(
  err: unknown,
  principal: Principal | undefined,
  message: ErrorContext,
): Response {
  if (!(err instanceof MistError)) throw err;
  const reply = errorReply(err, err.context ?? message);
  return json(statusOf(err, principal), reply);
}

/**
 * The HTTP status of an error (docs/protocol.md §8).
 *
 * @param err the error
 * @param principal who made the request, when known
 * @returns 401 for a missing or invalid token, 403 for a refused valid one,
 *   413 for a message too large, 503 when the authenticator is down, else 400
 */
export function statusOf(err: MistError, principal?: Principal): number {
  switch (err.code) {
    case "invalid_token":
      return 401;
    case "forbidden":
      return principal === undefined || principal.kind === "anonymous"
        ? 401
        : 403;
    case "authenticator_unavailable":
      return 503;
    case "too_large":
      return 413;
    default:
      return 400;
  }
}

export function methodNotAllowed(allow: string): Response {
  return json(405, { error: "method not allowed" }, { allow });
}

export function json(
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): Response {
  return fixedResponse(JSON.stringify(body) + "\n", {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}

/** The request headers a cross-origin page may send (docs/protocol.md §9). */
export const CORS_ALLOWED_HEADERS = "Content-Type, Authorization, X-AUTH-TOKEN";

/** How long a browser may cache a preflight's answer, in seconds. */
export const CORS_MAX_AGE_SECONDS = 600;

/**
 * The answer to a request whose origin is refused (docs/protocol.md §9):
 * `403` and the §6 error reply `forbidden: origin not allowed`.
 *
 * @param command the command the route runs (`""` for a WebSocket upgrade)
 * @returns the response
 */
export function originRefused(command: string): Response {
  const err = new MistError("forbidden", ORIGIN_REFUSED);
  return json(403, errorReply(err, { command }), { vary: "Origin" });
}

/**
 * Adds what the origin policy owes a response of a browser-facing route:
 * `Vary: Origin` always (the answer depends on it) and, for a listed
 * cross-origin request, `Access-Control-Allow-Origin` naming its origin.
 *
 * @param response a response built by mist (its headers can change)
 * @param origin the request's `Origin` header
 * @param verdict what the policy said of it
 * @returns the same response
 */
export function withCors(
  response: Response,
  origin: string | null,
  verdict: OriginVerdict,
): Response {
  response.headers.append("vary", "Origin");
  if (verdict === "listed" && origin !== null) {
    response.headers.set("access-control-allow-origin", origin);
  }
  return response;
}

/**
 * The answer to an `OPTIONS` request (a CORS preflight, from a browser):
 * `204`, with the CORS headers for a listed origin.
 *
 * @param methods the route's methods, e.g. `POST`
 * @param origin the request's `Origin` header
 * @param verdict what the policy said of it (a refused one never gets here)
 * @returns the response
 */
export function preflight(
  methods: string,
  origin: string | null,
  verdict: OriginVerdict,
): Response {
  const headers: Record<string, string> = { allow: `${methods}, OPTIONS` };
  if (verdict === "listed") {
    headers["access-control-allow-methods"] = methods;
    headers["access-control-allow-headers"] = CORS_ALLOWED_HEADERS;
    headers["access-control-max-age"] = String(CORS_MAX_AGE_SECONDS);
  }
  return withCors(
    new Response(null, { status: 204, headers }),
    origin,
    verdict,
  );
}

/** Who refused origins were logged for lately: once a minute each at most. */
const refusedOrigins = new WarnOnce();

/**
 * What the origin policy (docs/protocol.md §9) says of a request to a route
 * browsers reach; a refusal is logged, naming the origin and the key that
 * would allow it.
 *
 * @param headers the request's headers (`Origin`, `Host`)
 * @param secure whether it came over TLS
 * @param settings the listener settings, for `allowedOrigins`
 * @param listener the listener's URL, for the log line
 * @param route what was asked, for the log line
 * @returns the verdict
 */
export function checkOrigin(
  headers: Headers,
  secure: boolean,
  settings: Pick<ListenerSettings, "allowedOrigins">,
  listener: string,
  route: string,
): OriginVerdict {
  const origin = headers.get("origin");
  const verdict = originVerdict(
    origin,
    headers.get("host"),
    secure ? "https" : "http",
    settings.allowedOrigins,
  );
  if (verdict === "refused") {
    const shown = origin!.slice(0, 200);
    if (refusedOrigins.allow(shown, Date.now())) {
      log.warn(
        "{listener}: refused a {route} from origin {origin}: to allow pages from it, add it to allowed-origins",
        { listener, route, origin: shown },
      );
    }
  }
  return verdict;
}

/**
 * The routes every HTTP-speaking listener serves, `ws://` included
 * (docs/protocol.md §8): `/ping` and the health checks, for `GET` and `HEAD`.
 *
 * @param method the request's method
 * @param path the request's path
 * @param server the server's side, for its health
 * @returns the response, or `undefined` for another path
 */
export async function commonRoute(
  method: string,
  path: string,
  server: Pick<ServerPort, "health">,
): Promise<Response | undefined> {
  const get = method === "GET" || method === "HEAD";
  switch (path) {
    case "/ping":
      if (!get) return methodNotAllowed("GET, HEAD");
      return fixedResponse("pong\n", {
        headers: { "content-type": "text/plain; charset=utf-8" },
      });
    case "/health/live":
    case "/health/ready":
    case "/health": {
      if (!get) return methodNotAllowed("GET, HEAD");
      const health = await server.health(
        path === "/health/live" ? "live" : "ready",
      );
      return json(health.ok ? 200 : 503, health, {
        "cache-control": "no-store",
      });
    }
  }
  return undefined;
}
