/**
 * Where a client connects: the server address forms users write, as URLs.
 *
 * @module
 */

import { transportSchemes } from "./transports.ts";

/**
 * The schemes of the transports the client ships with; `connect()` also
 * accepts every scheme registered since (`registerTransport`).
 */
export const CLIENT_SCHEMES: readonly string[] = Object.freeze([
  "tcp",
  "tls",
  "ws",
  "wss",
]);

/** The port of a `tcp://` address without one. */
export const DEFAULT_PORT = 1445;

/** The port of a `tls://` address without one: the TLS listener's default. */
export const DEFAULT_TLS_PORT = 1446;

/** The address `mist` connects to when none is given. */
export const DEFAULT_ADDRESS = "tcp://127.0.0.1:1445";

const SCHEME = /^([a-z][a-z0-9+.-]*):\/\//i;

/**
 * Parses a server address: a URL whose scheme has a transport (`tcp://`,
 * `tls://`, `ws://`, `wss://`, and any registered with `registerTransport`)
 * or the original's `host:port` form, which means TCP. An `http://` or
 * `https://` URL (an HTTP listener) means the WebSocket upgrade it serves:
 * `ws://` or `wss://`, unless a transport is registered for `http` or `https`
 * itself.
 *
 * A `tcp://` URL without a port gets port 1445 and a `tls://` one 1446, as the
 * listeners do; `ws://` and `wss://` follow URL rules (80 and 443). A
 * WebSocket URL without a path gets `/subscribe/websocket`, where mist's
 * `ws://` and `http://` listeners upgrade. The URL of another scheme is left
 * as written, for its transport to read.
 *
 * @param address e.g. `tcp://127.0.0.1:1445`, `127.0.0.1:1445`, `[::1]:1445`, `ws://host:8888`
 * @returns the URL to connect to
 * @throws {TypeError} when it is not an address, has no host, or has a scheme
 *   no transport is registered for
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseServerAddress } from "./address.ts";
 * assert.equal(parseServerAddress("127.0.0.1:1445").href, "tcp://127.0.0.1:1445");
 * assert.equal(
 *   parseServerAddress("ws://localhost:8888").href,
 *   "ws://localhost:8888/subscribe/websocket",
 * );
 * assert.throws(() => parseServerAddress("udp://127.0.0.1:1"), TypeError);
 * ```
 */
export function parseServerAddress(address: string | URL): URL {
  const text = typeof address === "string" ? address.trim() : address.href;
  const known = transportSchemes();
  const scheme = SCHEME.exec(text)?.[1]?.toLowerCase();
  let url: URL;
  try {
    url = new URL(
      scheme === undefined
        ? `tcp://${text}`
        : (scheme === "http" || scheme === "https") && !known.includes(scheme)
        ? text.replace(/^http(s?):/i, "ws$1:")
        : text,
    );
  } catch {
    throw new TypeError(`Invalid server address "${text}"`);
  }
  const protocol = url.protocol.slice(0, -1);
  if (!known.includes(protocol)) {
    throw new TypeError(
      `Unsupported scheme "${protocol}" in "${safeText(url)}"; use ${
        known.map((s) => `${s}://`).join(", ")
      }, http(s):// or host:port`,
    );
  }
  if (url.hostname === "") {
    throw new TypeError(`Server address "${text}" has no host`);
  }
  if (protocol === "tcp" && url.port === "") url.port = String(DEFAULT_PORT);
  if (protocol === "tls" && url.port === "") {
    url.port = String(DEFAULT_TLS_PORT);
  }
  if ((protocol === "ws" || protocol === "wss") && url.pathname === "/") {
    url.pathname = "/subscribe/websocket";
  }
  return url;
}

/**
 * A URL as it may appear in messages: without credentials or query, which may
 * hold a token (`x-auth-token`).
 *
 * @param url a server URL
 * @returns e.g. `ws://127.0.0.1:8888/subscribe/websocket`
 */
export function safeText(url: URL): string {
  const path = url.pathname === "/" || url.pathname === "" ? "" : url.pathname;
  return `${url.protocol}//${url.host}${path}`;
}
