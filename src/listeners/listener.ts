/**
 * The listener boundary: what a transport gives the server, and the registry
 * of transports by URI scheme.
 *
 * @module
 */

import type { Principal } from "../core/principal.ts";
import type { Limits, Request } from "../protocol/codec.ts";
import type {
  ListenerStats,
  Outlet,
  Session,
  SessionInfo,
} from "../server/connection.ts";

/** A certificate and its private key, both PEM. */
export interface TlsCertificate {
  /** The certificate chain, PEM. */
  readonly cert: string;
  /** The private key, PEM. */
  readonly key: string;
}

/** The server's health, as `GET /health` reports it. */
export interface HealthReport {
  /** Whether everything below is up. */
  ok: boolean;
  /** Each listener by bound URL. */
  listeners: Record<string, "up">;
  /** The authenticator's store, or `off` without authentication. */
  authenticator: "up" | "down" | "off";
  /** The link to the other nodes, or `off` without a cluster. */
  cluster: "up" | "down" | "off";
  /** The other nodes heard from lately, in a cluster. */
  peers?: number;
}

/** A started listener. */
export interface Listener {
  /** The bound address, e.g. `tcp://127.0.0.1:40123` (the real port when 0 was asked). */
  readonly url: string;
  /** The counters of its sessions. */
  readonly stats: ListenerStats;
  /** Stops accepting connections; the open ones are left to the server. */
  close(): void;
  /** Resolves when the listener has stopped and every connection of it has ended. */
  readonly finished: Promise<void>;
}

/** What the server hands a listener factory. */
export interface ListenerContext {
  /**
   * Opens a session for a new connection.
   *
   * @param outlet where the session writes
   * @param info where the connection comes from
   * @param presented the principal of the token presented on connect, if any
   */
  open(outlet: Outlet, info: SessionInfo, presented?: Principal): Session;
  /**
   * Who presents this token (HTTP header or query parameter).
   *
   * @param token the token, or `undefined` when none was presented
   * @returns the principal
   * @throws {MistError} `invalid token`, `authenticator unavailable`
   */
  authenticate(token: string | undefined): Promise<Principal>;
  /**
   * Publishes a message that arrived outside a session (`POST /publish`).
   *
   * @param principal who publishes
   * @param request the validated publish request
   * @param stats the listener's counters
   * @throws {MistError} `missing tags`, `forbidden`
   */
  publish(principal: Principal, request: Request, stats: ListenerStats): void;
  /** The server's health now. */
  health(): Promise<HealthReport>;
  /** The server's metrics in Prometheus text format. */
  metrics(): string;
  /** The size limits of frames. */
  readonly limits: Limits;
  /** How long a closing connection may take to write what is queued, in milliseconds. */
  readonly drainTimeoutMs: number;
  /** The certificate of the TLS listeners, when one was configured. */
  readonly tls: TlsCertificate | undefined;
  /** How often an idle event stream gets a keep-alive comment, in milliseconds. */
  readonly keepAliveMs: number;
}

/**
 * Starts a listener for a URL of its scheme.
 *
 * @param url the listener's URL, e.g. `tcp://127.0.0.1:1445`
 * @param context the server's side
 * @returns the started listener
 * @throws when it cannot listen (address in use, bad address)
 */
export type ListenerFactory = (
  url: URL,
  context: ListenerContext,
) => Promise<Listener>;

const factories = new Map<string, ListenerFactory>();

/**
 * Registers a listener factory under a URI scheme, replacing any before it.
 *
 * @param scheme the scheme without `:` or `//`, e.g. `"tcp"`
 * @param factory what starts a listener of that scheme
 */
export function registerListener(
  scheme: string,
  factory: ListenerFactory,
): void {
  factories.set(scheme.toLowerCase(), factory);
}

/**
 * The listener factory of a scheme.
 *
 * @param scheme the scheme without `:`
 * @returns its factory, or `undefined` when none is registered
 */
export function listenerFactory(scheme: string): ListenerFactory | undefined {
  return factories.get(scheme.toLowerCase());
}

/** Fresh zeroed listener counters. */
export function newStats(): ListenerStats {
  return { connections: 0, accepted: 0, received: 0, delivered: 0, dropped: 0 };
}

/**
 * The host and port to bind for a listener URL.
 *
 * @param url the listener URL
 * @param defaultPort the port when the URL has none
 * @returns the hostname (IPv6 without brackets) and the port
 * @throws {TypeError} when the URL has no host
 */
export function bindAddress(
  url: URL,
  defaultPort: number,
): { hostname: string; port: number } {
  if (url.hostname === "") throw new TypeError(`${url.href} has no host`);
  const hostname = url.hostname.replace(/^\[(.*)\]$/, "$1");
  const port = url.port === "" ? defaultPort : Number(url.port);
  return { hostname, port };
}

/**
 * The URL of a bound address.
 *
 * @param scheme the listener's scheme
 * @param addr the bound address
 * @returns e.g. `tcp://127.0.0.1:40123` or `tcp://[::1]:40123`
 */
export function boundUrl(scheme: string, addr: Deno.NetAddr): string {
  const host = addr.hostname.includes(":")
    ? `[${addr.hostname}]`
    : addr.hostname;
  return `${scheme}://${host}:${addr.port}`;
}

/**
 * Writes a whole buffer to a connection, however many writes that takes.
 *
 * @param conn the connection
 * @param bytes what to write
 */
export async function writeAll(
  conn: Deno.Conn,
  bytes: Uint8Array,
): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) {
    offset += await conn.write(bytes.subarray(offset));
  }
}
