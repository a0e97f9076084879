/**
 * The origin policy of docs/protocol.md §9, as pure functions: which browser
 * pages may open a WebSocket, read an event stream or `POST /publish`. Every
 * HTTP-based listener asks {@linkcode originVerdict} before it upgrades,
 * subscribes or publishes.
 *
 * @module
 */

/**
 * What the policy says of a request:
 *
 * - `none`: it has no `Origin` header (the CLI, servers, curl): served;
 * - `same`: its origin is the server's own (host and port equal the `Host`'s):
 *   served, no CORS headers needed;
 * - `listed`: a cross-origin request from an allowed origin: served, with CORS
 *   headers;
 * - `refused`: any other origin: `403` before anything is done.
 */
export type OriginVerdict = "none" | "same" | "listed" | "refused";

/** The error text of a refused origin (after `forbidden: `). */
export const ORIGIN_REFUSED = "origin not allowed";

const DEFAULT_PORTS: Record<string, string> = {
  "http:": "80",
  "https:": "443",
};

/**
 * An `allowed-origins` entry in its canonical form: `scheme://host[:port]`,
 * lower-case, the default port of `http` and `https` dropped; `*` stays `*`.
 *
 * @param text an entry, e.g. `HTTPS://App.example.com:443/`
 * @returns the origin, e.g. `https://app.example.com`
 * @throws {TypeError} when it is not an origin: no scheme or host, or a user,
 *   path, query or fragment
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { normaliseOrigin } from "./origins.ts";
 * assert.equal(normaliseOrigin("HTTP://LocalHost:80"), "http://localhost");
 * assert.equal(normaliseOrigin("http://[::1]:3000"), "http://[::1]:3000");
 * ```
 */
export function normaliseOrigin(text: string): string {
  const entry = text.trim();
  if (entry === "*") return "*";
  const origin = parseOrigin(entry);
  if (origin === undefined) {
    throw new TypeError(
      `Invalid origin "${entry}": expected scheme://host[:port], such as https://app.example.com, or *`,
    );
  }
  return origin;
}

/**
 * Every entry of `allowed-origins` in canonical form, duplicates dropped.
 *
 * @param entries the configured entries
 * @returns the origins, frozen
 * @throws {TypeError} naming the first entry that is not an origin
 */
export function normaliseOrigins(
  entries: readonly string[],
): readonly string[] {
  return Object.freeze([...new Set(entries.map(normaliseOrigin))]);
}

/**
 * What the origin policy says of one request (docs/protocol.md §9).
 *
 * @param origin the request's `Origin` header, or `null` without one
 * @param host the request's `Host` header, or `null` without one
 * @param scheme how the request reached this listener: `https` over TLS
 * @param allowed the normalised `allowed-origins` ({@linkcode normaliseOrigins})
 * @returns `none`, `same`, `listed` or `refused`
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { originVerdict } from "./origins.ts";
 * assert.equal(originVerdict(null, "localhost:8080", "http", []), "none");
 * assert.equal(
 *   originVerdict("http://localhost:8080", "localhost:8080", "http", []),
 *   "same",
 * );
 * assert.equal(
 *   originVerdict("https://evil.example", "localhost:8080", "http", []),
 *   "refused",
 * );
 * ```
 */
export function originVerdict(
  origin: string | null,
  host: string | null,
  scheme: "http" | "https",
  allowed: readonly string[],
): OriginVerdict {
  if (origin === null) return "none";
  const parsed = parseOrigin(origin.trim());
  if (parsed !== undefined && host !== null && sameHost(parsed, host, scheme)) {
    return "same";
  }
  if (allowed.includes("*")) return "listed";
  return parsed !== undefined && allowed.includes(parsed)
    ? "listed"
    : "refused";
}

/** `scheme://host[:port]`, canonical, or `undefined` for anything else. */
function parseOrigin(text: string): string | undefined {
  const url = URL.parse(text.toLowerCase());
  if (
    url === null || url.host === "" || url.username !== "" ||
    url.password !== "" || url.search !== "" || url.hash !== "" ||
    !(url.pathname === "" || url.pathname === "/")
  ) {
    return undefined;
  }
  return `${url.protocol}//${url.host}`;
}

/**
 * Whether an origin's host and port are the `Host`'s. A `Host` without a port
 * is the default port of the scheme the client used, which is this listener's
 * or, behind a proxy that ends TLS, the page's own: both are accepted.
 */
function sameHost(origin: string, host: string, scheme: string): boolean {
  const ours = URL.parse(`${scheme}://${host.trim().toLowerCase()}`);
  if (ours === null || ours.pathname !== "/" || ours.username !== "") {
    return false;
  }
  const theirs = new URL(origin);
  const theirPort = theirs.port || DEFAULT_PORTS[theirs.protocol];
  // Only a web page's origin can be the server's own.
  if (
    DEFAULT_PORTS[theirs.protocol] === undefined ||
    ours.hostname !== theirs.hostname
  ) {
    return false;
  }
  if (/:\d+$/.test(host.trim())) {
    return (ours.port || DEFAULT_PORTS[`${scheme}:`]) === theirPort;
  }
  return theirs.port === "" || theirPort === DEFAULT_PORTS[`${scheme}:`];
}

/**
 * Lets through at most one warning per key (an origin) per interval, so that
 * a page retrying in a loop cannot flood the log. It remembers at most
 * `capacity` keys; past that, new keys are silent until old ones expire.
 */
export class WarnOnce {
  readonly #last = new Map<string, number>();
  readonly #intervalMs: number;
  readonly #capacity: number;

  /**
   * @param intervalMs how long a key stays silent after a warning
   * @param capacity how many keys it remembers
   */
  constructor(intervalMs = 60_000, capacity = 256) {
    this.#intervalMs = intervalMs;
    this.#capacity = capacity;
  }

  /**
   * Whether to warn about this key now; when it says so, the key goes silent
   * for the interval.
   *
   * @param key e.g. the refused origin
   * @param now the time in milliseconds (`Date.now()`)
   * @returns true to warn
   */
  allow(key: string, now: number): boolean {
    const last = this.#last.get(key);
    if (last !== undefined && now - last < this.#intervalMs) return false;
    if (last === undefined && this.#last.size >= this.#capacity) {
      for (const [old, at] of this.#last) {
        if (now - at >= this.#intervalMs) this.#last.delete(old);
      }
      if (this.#last.size >= this.#capacity) return false;
    }
    this.#last.set(key, now);
    return true;
  }
}
