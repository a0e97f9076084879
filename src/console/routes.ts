/**
 * The web console's routes on the HTTP listener: `GET /console` (the page),
 * its script and style sheet, the live feed `GET /console/events`, and
 * `GET /` (without an upgrade) redirecting to the page.
 *
 * @module
 */

import { json, methodNotAllowed, metricsReader } from "../listeners/http_io.ts";
import type { ServerPort } from "../server/port.ts";
import type { ConnectionInfo } from "../server/transport.ts";
import { APP_CSS } from "./app_css.ts";
import { APP_JS } from "./app_js.ts";
import { feedOf } from "./feed.ts";
import { PAGE_HTML } from "./page.ts";

/**
 * What every console response carries: nothing cached, nothing from
 * anywhere but this origin, no inline script or style, never framed.
 */
export const CONSOLE_HEADERS: Readonly<Record<string, string>> = {
  "cache-control": "no-store",
  "content-security-policy": [
    "default-src 'self'",
    "img-src 'self' data:",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join("; "),
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
};

const FILES: Record<string, [type: string, body: string]> = {
  "/console": ["text/html; charset=utf-8", PAGE_HTML],
  "/console/app.js": ["text/javascript; charset=utf-8", APP_JS],
  "/console/app.css": ["text/css; charset=utf-8", APP_CSS],
};

/**
 * Answers a console route.
 *
 * @param request the request
 * @param url its parsed URL
 * @param server the server
 * @param info where the request comes from
 * @returns the response
 */
export async function serveConsole(
  request: Request,
  url: URL,
  server: ServerPort,
  info: ConnectionInfo,
): Promise<Response> {
  if (request.method !== "GET" && request.method !== "HEAD") {
    return methodNotAllowed("GET, HEAD");
  }
  const path = url.pathname;
  if (path === "/") {
    return new Response(null, {
      status: 303,
      headers: { location: "/console", "cache-control": "no-store" },
    });
  }
  if (path === "/console/events") {
    return await events(request, url, server, info);
  }
  const file = FILES[path];
  if (file === undefined) return json(404, { error: "not found" });
  return new Response(file[1], {
    headers: { "content-type": file[0], ...CONSOLE_HEADERS },
  });
}

/** The live feed: the admin or the metrics token, as `GET /metrics` asks. */
async function events(
  request: Request,
  url: URL,
  server: ServerPort,
  info: ConnectionInfo,
): Promise<Response> {
  const principal = await metricsReader(request, url, server);
  if (principal instanceof Response) return principal;
  const headers = {
    "content-type": "text/event-stream; charset=utf-8",
    "x-accel-buffering": "no",
    ...CONSOLE_HEADERS,
  };
  if (request.method === "HEAD") return new Response(null, { headers });
  // A connection of the server's own, so that shutting the server down ends
  // the stream (it is not counted among the listener's connections).
  const stream = feedOf(server).open(principal.kind, () => connection.close());
  const connection = server.open(
    { write() {}, close: () => stream.close() },
    info,
    {
      principal,
      internal: true,
    },
  );
  return new Response(stream.body, { headers });
}
