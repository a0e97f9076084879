/**
 * The WebSocket upgrade of every HTTP-speaking listener (`ws://`, `http://`
 * and their TLS twins): the upgrade paths of docs/protocol.md §8, the RFC 6455
 * upgrade checks and the `101` answer. The upgraded connection is served by
 * ws_session.ts.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import type { Principal } from "../core/principal.ts";
import type { ServerPort } from "../server/port.ts";
import type { Exchange } from "./http_front.ts";
import {
  checkOrigin,
  failure,
  json,
  methodNotAllowed,
  originRefused,
  presentedToken,
} from "./http_io.ts";
import { ACCEPT_GUID } from "./ws_encode.ts";
import { LINES_PROTOCOL, offersLines } from "./ws_frames.ts";

/** An accepted upgrade: what the WebSocket connection starts with. */
export interface Upgrade {
  readonly principal: Principal | undefined;
  /** Whether the connection speaks line mode (docs/protocol.md §1). */
  readonly lines: boolean;
  /** Bytes already read past the request head. */
  readonly rest: Uint8Array;
}

/** An upgrade the route accepted: its `101` answer, to be written as it is. */
export interface Accepted extends Omit<Upgrade, "rest"> {
  /** The `101 Switching Protocols` head. */
  readonly head: Uint8Array;
}

/**
 * The WebSocket upgrade paths of every listener (docs/protocol.md §8):
 * `/subscribe/websocket`, and `/` with an upgrade.
 *
 * @param request the request
 * @param exchange where it came from
 * @param server the server's side
 * @returns the accepted upgrade, the response refusing it, or `undefined`
 *   for another path
 */
export async function upgradeRoute(
  request: Request,
  exchange: Exchange,
  server: ServerPort,
): Promise<Response | Accepted | undefined> {
  const { method, headers } = request;
  const url = new URL(request.url);
  const wantsUpgrade = headers.get("upgrade")?.toLowerCase() === "websocket";
  const path = url.pathname;
  if (path !== "/subscribe/websocket" && (path !== "/" || !wantsUpgrade)) {
    return undefined;
  }
  if (method !== "GET" && method !== "HEAD") {
    return methodNotAllowed("GET, HEAD");
  }
  // The origin policy (§9) before anything else a browser could learn from.
  if (
    checkOrigin(
      headers,
      exchange.secure,
      server.settings,
      exchange.info.listener,
      "WebSocket upgrade",
    ) === "refused"
  ) {
    return originRefused("");
  }
  if (!wantsUpgrade || method === "HEAD") {
    return json(426, { error: "expected a WebSocket upgrade" }, {
      upgrade: "websocket",
    });
  }
  const refused = refusal(headers, exchange.version);
  if (refused !== undefined) return refused;
  let principal: Principal | undefined;
  try {
    const token = presentedToken({ headers }, url);
    if (token !== undefined) principal = await server.authenticate(token);
  } catch (err) {
    return failure(err, undefined, { command: "" });
  }
  const lines = offersLines(headers.get("sec-websocket-protocol"));
  const accept = await acceptKey(headers.get("sec-websocket-key")!);
  const head = Buffer.from(
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n" +
      `Connection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n` +
      (lines ? `Sec-WebSocket-Protocol: ${LINES_PROTOCOL}\r\n` : "") +
      "\r\n",
    "latin1",
  );
  return { principal, lines, head };
}

/** The `Sec-WebSocket-Accept` of a key (RFC 6455 §4.2.2). */
async function acceptKey(key: string): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-1",
    Buffer.from(key + ACCEPT_GUID, "latin1"),
  );
  return Buffer.from(digest).toString("base64");
}

/** Why an upgrade request is refused (RFC 6455 §4.2.1), or nothing. */
function refusal(headers: Headers, version: string): Response | undefined {
  const bad = (status: number, why: string, extra = {}) =>
    json(status, { error: `bad WebSocket upgrade: ${why}` }, extra);
  if (version !== "1.1") return bad(400, "HTTP/1.1 is required");
  const connection = headers.get("connection") ?? "";
  if (
    !connection.split(",").some((t) => t.trim().toLowerCase() === "upgrade")
  ) {
    return bad(400, "the Connection header must include upgrade");
  }
  if (headers.get("sec-websocket-version") !== "13") {
    return bad(426, "Sec-WebSocket-Version must be 13", {
      "sec-websocket-version": "13",
    });
  }
  const key = headers.get("sec-websocket-key") ?? "";
  if (!/^[A-Za-z0-9+/]{21}[AQgw]==$/.test(key)) {
    return bad(400, "Sec-WebSocket-Key must be 16 bytes in base64");
  }
  return undefined;
}
