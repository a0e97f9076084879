/**
 * How a server is set up, and its defaults: a module of its own so that the
 * configuration can show them without loading the server.
 *
 * @module
 */

import type { Authenticator } from "../auth/authenticator.ts";
import type { Backplane } from "../cluster/backplane.ts";
import { positiveInteger } from "../_util/text.ts";
import { DEFAULT_LIMITS, type Limits } from "../protocol/codec.ts";
import type { CommandHandler } from "./connection.ts";
import type { ListenerSettings, TlsCertificate } from "./port.ts";
import { normaliseOrigins } from "../listeners/origins.ts";

/** The listeners a server starts when none are given. */
export const DEFAULT_LISTENERS: readonly string[] = Object.freeze([
  "tcp://127.0.0.1:1445",
  "http://127.0.0.1:8080",
  "ws://127.0.0.1:8888",
]);

/** The default capacity of each connection's outbound queue: 8 MiB. */
export const DEFAULT_QUEUE_BYTES = 8 * 1024 * 1024;

/** How long shutdown waits for each connection to write what it is owed, by default. */
export const DEFAULT_DRAIN_TIMEOUT_MS = 5000;

/** How often an idle event stream gets a keep-alive comment, by default. */
export const DEFAULT_KEEP_ALIVE_MS = 15_000;

/** How a server is set up. Every field is optional. */
export interface ServeOptions {
  /** Listener URLs; a scheme nobody registered is logged and skipped. */
  listeners?: readonly string[];
  /** Size limits; unset fields keep the protocol's defaults. */
  limits?: Partial<Limits>;
  /** Capacity of each connection's outbound queue in bytes (default 8 MiB). */
  queueBytes?: number;
  /** The most subscriptions held over every connection (default 1,000,000). */
  maxTotalSubscriptions?: number;
  /** The most bytes of subscription tags held over every connection (default 256 MiB). */
  maxTotalSubscriptionBytes?: number;
  /** The most bytes of subscription tags one connection may hold (default 4 MiB). */
  maxSubscriptionBytes?: number;
  /** Custom commands by name. */
  commands?: Readonly<Record<string, CommandHandler>>;
  /**
   * Where tokens live; turns authentication on. The server closes it when it
   * closes. Requires `token`.
   */
  authenticator?: Authenticator;
  /** The admin token (required with an authenticator). */
  token?: string;
  /**
   * The certificate of `tls://`, `https://` and `wss://` listeners; with
   * `clientCa`, `tls://` listeners require client certificates.
   */
  tls?: TlsCertificate;
  /** How long shutdown waits for each connection to write what it is owed (default 5000 ms). */
  drainTimeoutMs?: number;
  /** How often an idle event stream gets a keep-alive comment (default 15000 ms). */
  keepAliveMs?: number;
  /**
   * Join a cluster through this Redis: `redis://[USER:PASS@]HOST:PORT[/DB]`
   * or `rediss://...`. Without it (and without `backplane`) the server is alone.
   */
  cluster?: string;
  /** The cluster's name, so that several clusters can share one Redis (default `"mist"`). */
  clusterName?: string;
  /** Join a cluster through this backplane instead (tests, other engines); wins over `cluster`. */
  backplane?: Backplane;
  /** Milliseconds between the cluster heartbeats of this node (default 2000). */
  heartbeatMs?: number;
  /**
   * A token that may read `GET /metrics` (besides the admin token) when
   * authentication is on; it grants nothing else.
   */
  metricsToken?: string;
  /**
   * This node's name in the cluster and in metrics labels, stable across
   * restarts (default: `HOST:PORT` of the first listener).
   */
  nodeName?: string;
  /**
   * The origins browsers may connect from besides the server's own, such as
   * `https://app.example.com`, or `*` for any (docs/protocol.md §9). Default:
   * none, only the server's own.
   */
  allowedOrigins?: readonly string[];
}

/**
 * The settings listeners serve by, from a server's options and the defaults.
 *
 * @param options the server's options
 * @returns the settings, frozen
 * @throws {RangeError} for a limit that is not a positive integer
 * @throws {TypeError} for a client CA (`tls.clientCa`) with an `https://` or
 *   `wss://` listener, which cannot verify client certificates, and for an
 *   allowed origin that is not `scheme://host[:port]` or `*`
 */
export function listenerSettings(options: ServeOptions): ListenerSettings {
  if (options.tls?.clientCa !== undefined) {
    const http = (options.listeners ?? []).find((url) =>
      /^(https|wss):/i.test(url)
    );
    if (http !== undefined) {
      throw new TypeError(
        `tls-client-ca (client certificates) is supported only by tls:// listeners, not by ${http}: remove it or listen on tls:// only`,
      );
    }
  }
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  for (const [name, value] of Object.entries(limits)) {
    positiveInteger(name, value);
  }
  return Object.freeze({
    limits: Object.freeze(limits),
    drainTimeoutMs: options.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS,
    tls: options.tls,
    keepAliveMs: options.keepAliveMs ?? DEFAULT_KEEP_ALIVE_MS,
    allowedOrigins: normaliseOrigins(options.allowedOrigins ?? []),
  });
}
