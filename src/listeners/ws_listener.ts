/**
 * The WebSocket listener (`ws://`, `wss://`) on mist's HTTP/1.1 front
 * (http_front.ts): the routes of docs/protocol.md §8 for this listener (the
 * upgrade paths, `/ping`, the health routes), one request per connection,
 * then the session of `ws_session.ts` on the socket itself.
 *
 * @module
 */

import type { ServerPort } from "../server/port.ts";
import { listenFront } from "./http_front.ts";
import { commonRoute, json } from "./http_io.ts";
import type { Listener } from "./listener.ts";
import { upgradeRoute } from "./ws_http.ts";

const DEFAULT_PORTS: Record<string, number> = { ws: 8888, wss: 8889 };

/**
 * Starts a `ws://` or `wss://` listener.
 *
 * @param url e.g. `ws://127.0.0.1:8888` (port 0 picks a free port)
 * @param server the server's side; `wss://` needs its `tls` certificate
 * @returns the started listener
 * @throws {Error} for `wss://` without a certificate; the errors of
 *   `Deno.listen`
 */
export function listenWs(url: URL, server: ServerPort): Promise<Listener> {
  return Promise.resolve(listenFront(url, server, {
    defaultPort: DEFAULT_PORTS[url.protocol.slice(0, -1)] ?? 80,
    keepAlive: false,
    async route(request, exchange) {
      return await upgradeRoute(request, exchange, server) ??
        await commonRoute(
          request.method,
          new URL(request.url).pathname,
          server,
        ) ??
        json(404, { error: "not found" });
    },
  }));
}
