/**
 * The one port between the listeners and the server: what a transport may ask
 * of the server it feeds. Built-in listeners and registered ones get the same.
 *
 * @module
 */

import type { Principal } from "../core/principal.ts";
import type { Limits } from "../protocol/codec.ts";
import type { Connection } from "./connection.ts";
import type { ServerStats } from "./metrics.ts";
import type { ConnectionInfo, OpenOptions, Outlet } from "./transport.ts";

/** A certificate and its private key, both PEM. */
export interface TlsCertificate {
  /** The certificate chain, PEM. */
  readonly cert: string;
  /** The private key, PEM. */
  readonly key: string;
  /**
   * The certificate authorities, PEM, that client certificates must be signed
   * by (mutual TLS): set, the `tls://` listeners refuse clients without one.
   * Only `tls://` can verify them; a server with `https://` or `wss://`
   * listeners refuses to start with it.
   */
  readonly clientCa?: string | undefined;
}

/**
 * The server's health, as `GET /health/live` and `GET /health/ready` report
 * it (PROTOCOL.md §8).
 */
export interface HealthReport {
  /** Whether what the check counts is up (`200`; else `503`). */
  ok: boolean;
  /**
   * Which check: `live` counts only the server and its listeners; `ready`
   * also the authenticator and the cluster link.
   */
  check: "live" | "ready";
  /** Each listener accepting now, by bound URL. */
  listeners: Record<string, "up">;
  /**
   * The authenticator's store, or `off` without authentication; absent from
   * a `live` report, which does not ask it.
   */
  authenticator?: "up" | "down" | "off";
  /** The link to the other nodes, or `off` without a cluster. */
  cluster: "up" | "down" | "off";
  /** The other nodes heard from lately, in a cluster. */
  peers?: number;
  /**
   * What the check counts that is not up: `server` (shutting down),
   * `listeners` (none accepting), `authenticator`, `cluster`.
   */
  down: string[];
}

/** The settings a listener serves by. */
export interface ListenerSettings {
  /** The size limits of frames. */
  readonly limits: Limits;
  /** How long a closing connection may take to write what is queued, in milliseconds. */
  readonly drainTimeoutMs: number;
  /** The certificate of the TLS listeners, when one was configured. */
  readonly tls: TlsCertificate | undefined;
  /** How often an idle event stream gets a keep-alive comment, in milliseconds. */
  readonly keepAliveMs: number;
  /**
   * The origins browsers may connect from besides the server's own
   * (docs/protocol.md §9), normalised (`scheme://host[:port]`), or `*`.
   */
  readonly allowedOrigins: readonly string[];
}

/** What the server offers its listeners. */
export interface ServerPort {
  /**
   * Opens a connection: the transport writes through `outlet` and hands every
   * frame it reads to {@linkcode Connection.receive}. With no socket at all,
   * this is also how tests and benchmarks talk to a server in memory.
   *
   * @param outlet where the connection writes
   * @param info where it comes from
   * @param options the principal of a token presented on connect, if any
   * @returns the connection
   */
  open(outlet: Outlet, info: ConnectionInfo, options?: OpenOptions): Connection;
  /**
   * Who presents this token (HTTP header or query parameter).
   *
   * @param token the token, or `undefined` when none was presented
   * @returns the principal
   * @throws {MistError} `invalid token`, `authenticator unavailable`
   */
  authenticate(token: string | undefined): Promise<Principal>;
  /**
   * The server's health now.
   *
   * @param check `live` (the process serves) or `ready` (it can serve
   *   everything: authenticator and cluster link up); default `ready`
   * @returns the report
   */
  health(check?: "live" | "ready"): Promise<HealthReport>;
  /** The server's metrics in Prometheus text format. */
  metrics(): string;
  /** The numbers `metrics()` renders, structured (the web console's feed). */
  stats(): ServerStats;
  /**
   * The settings listeners serve by. They may be replaced while the server
   * runs (`MistServer.reconfigure`): read them as a connection opens, not
   * once per listener, except the certificate, which is set at start.
   */
  readonly settings: ListenerSettings;
}
