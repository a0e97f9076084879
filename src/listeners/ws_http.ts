/**
 * The HTTP/1.1 side of the `ws://` listener (ws_listener.ts): the request
 * head read with a size cap, the routes this listener serves
 * (docs/protocol.md §8: the upgrade paths, `/ping`, the health routes) and
 * the RFC 6455 upgrade checks and `101` answer.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { writeAll } from "../_util/io.ts";
import type { Principal } from "../core/principal.ts";
import type { ServerPort } from "../server/port.ts";
import {
  checkOrigin,
  commonRoute,
  failure,
  json,
  methodNotAllowed,
  originRefused,
  presentedToken,
} from "./http_io.ts";
import { LINES_PROTOCOL, offersLines } from "./ws_frames.ts";

/** The longest request head read, in bytes; longer ones get `431`. */
export const MAX_HEAD_BYTES = 8 * 1024;
const ACCEPT_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const REASONS: Record<number, string> = {
  200: "OK",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  426: "Upgrade Required",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  503: "Service Unavailable",
};

/** A request head. */
export interface Head {
  readonly method: string;
  readonly url: URL;
  readonly version: string;
  readonly headers: Headers;
  /** The bytes read past the head (the client's first frames). */
  readonly rest: Uint8Array;
  /** The bytes read in all. */
  readonly bytes: number;
}

/** An accepted upgrade: what the WebSocket connection starts with. */
export interface Upgrade {
  readonly principal: Principal | undefined;
  /** Whether the connection speaks line mode (docs/protocol.md §1). */
  readonly lines: boolean;
  /** Bytes already read past the request head. */
  readonly rest: Uint8Array;
}

const CRLFCRLF = Buffer.from("\r\n\r\n");
const NOTHING = new Uint8Array(0);

/**
 * Reads a request head; answers `431` (and gives `undefined`) for one over
 * {@linkcode MAX_HEAD_BYTES}, `400` for one that cannot be read.
 *
 * @param conn the connection
 * @returns the head, or `undefined` when the connection is done
 */
export async function readHead(conn: Deno.Conn): Promise<Head | undefined> {
  // Most heads fit in 1 KiB; the buffer grows to the cap only for others.
  // Pooled: no backing store of its own left to the collector per connection.
  let buffer = Buffer.allocUnsafe(1024);
  let filled = 0;
  while (true) {
    if (filled === buffer.length) {
      if (filled === MAX_HEAD_BYTES) {
        await respond(conn, json(431, { error: "request head too large" }));
        return undefined;
      }
      const larger = Buffer.alloc(Math.min(2 * filled, MAX_HEAD_BYTES));
      larger.set(buffer);
      buffer = larger;
    }
    const n = await conn.read(buffer.subarray(filled));
    if (n === null) return undefined;
    const from = Math.max(0, filled - 3);
    filled += n;
    const end = buffer.subarray(0, filled).indexOf(CRLFCRLF, from);
    if (end < 0) continue;
    const head = parseHead(buffer.toString("latin1", 0, end));
    if (head === undefined) {
      await respond(conn, json(400, { error: "bad request" }));
      return undefined;
    }
    return {
      ...head,
      // A copy: a view would keep the head's buffer for the connection's life.
      rest: end + 4 === filled
        ? NOTHING
        : new Uint8Array(buffer.subarray(end + 4, filled)),
      bytes: filled,
    };
  }
}

const REQUEST_LINE = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+) (\S+) HTTP\/(1\.[01])$/;
const HEADER_LINE = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*(.*?)[ \t]*$/;

function parseHead(
  text: string,
): Pick<Head, "method" | "url" | "version" | "headers"> | undefined {
  const lines = text.split("\r\n");
  const request = REQUEST_LINE.exec(lines[0]!);
  if (request === null) return undefined;
  const [, method, target, version] = request;
  if (!target!.startsWith("/")) return undefined;
  const headers = new Headers();
  try {
    for (const line of lines.slice(1)) {
      const header = HEADER_LINE.exec(line);
      if (header === null) return undefined;
      headers.append(header[1]!, header[2]!);
    }
    return {
      method: method!,
      url: new URL(target!, "http://localhost"),
      version: version!,
      headers,
    };
  } catch {
    return undefined; // a header value or a target the platform refuses
  }
}

/**
 * Answers a request: upgrades it, or writes a response and closes.
 *
 * @param conn the connection
 * @param head its request head
 * @param server the server's side
 * @param listener the listener's URL, for logs
 * @returns the upgrade, or `undefined` when a response ended the connection
 */
export async function upgradeOrRespond(
  conn: Deno.Conn,
  head: Head,
  server: ServerPort,
  listener: string,
): Promise<Upgrade | undefined> {
  const { method, url, headers } = head;
  const wantsUpgrade = headers.get("upgrade")?.toLowerCase() === "websocket";
  const get = method === "GET" || method === "HEAD";
  const path = url.pathname;
  if (path === "/subscribe/websocket" || (path === "/" && wantsUpgrade)) {
    if (!get) return await respond(conn, methodNotAllowed("GET, HEAD"));
    // The origin policy (§9) before anything else a browser could learn from.
    const secure = "handshake" in conn;
    const settings = server.settings;
    if (
      checkOrigin(headers, secure, settings, listener, "WebSocket upgrade") ===
        "refused"
    ) {
      return await respond(conn, originRefused(""));
    }
    if (!wantsUpgrade || method === "HEAD") {
      return await respond(
        conn,
        json(426, { error: "expected a WebSocket upgrade" }, {
          upgrade: "websocket",
        }),
      );
    }
    const refused = refusal(head);
    if (refused !== undefined) return await respond(conn, refused);
    let principal: Principal | undefined;
    try {
      const token = presentedToken({ headers }, url);
      if (token !== undefined) principal = await server.authenticate(token);
    } catch (err) {
      return await respond(conn, failure(err, undefined, { command: "" }));
    }
    const lines = offersLines(headers.get("sec-websocket-protocol"));
    const accept = await acceptKey(headers.get("sec-websocket-key")!);
    await writeAll(
      conn,
      Buffer.from(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n" +
          `Connection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n` +
          (lines ? `Sec-WebSocket-Protocol: ${LINES_PROTOCOL}\r\n` : "") +
          "\r\n",
        "latin1",
      ),
    );
    return { principal, lines, rest: head.rest };
  }
  const response = await commonRoute(method, path, server) ??
    json(404, { error: "not found" });
  return await respond(conn, response, method === "HEAD");
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
function refusal(head: Head): Response | undefined {
  const bad = (status: number, why: string, extra = {}) =>
    json(status, { error: `bad WebSocket upgrade: ${why}` }, extra);
  const { headers } = head;
  if (head.version !== "1.1") return bad(400, "HTTP/1.1 is required");
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

/** Writes a response whole, then closes the connection. */
async function respond(
  conn: Deno.Conn,
  response: Response,
  head = false,
): Promise<undefined> {
  const body = new Uint8Array(await response.arrayBuffer());
  let text = `HTTP/1.1 ${response.status} ${
    REASONS[response.status] ?? ""
  }\r\n`;
  for (const [name, value] of response.headers) text += `${name}: ${value}\r\n`;
  text += `content-length: ${body.length}\r\nconnection: close\r\n\r\n`;
  const bytes = Buffer.from(text, "latin1");
  try {
    await writeAll(conn, head ? bytes : Buffer.concat([bytes, body]));
  } finally {
    try {
      conn.close();
    } catch {
      // Closed by the deadline already.
    }
  }
  return undefined;
}
