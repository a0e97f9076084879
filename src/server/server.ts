/**
 * The server: one broker, one command table, access control, and the
 * listeners that feed them.
 *
 * @module
 */

import { getLogger } from "npm:@logtape/logtape@^2.4.2";
import { settlesWithin } from "../_util/deadline.ts";
import { positiveInteger } from "../_util/text.ts";
import type { Cluster } from "../cluster/cluster.ts";
import { Broker } from "../core/broker.ts";
import { ADMIN, type Principal } from "../core/principal.ts";
import "../listeners/builtin.ts";
import {
  checkCertificate,
  type Listener,
  renewCertificates,
  startListeners,
} from "../listeners/listener.ts";
import {
  type CommandRequest,
  type Limits,
  validate,
} from "../protocol/codec.ts";
import { MistError } from "../protocol/errors.ts";
import { Access } from "./access.ts";
import { SubscriptionBudget } from "./budget.ts";
import { commandTable } from "./commands.ts";
import { Connection, type ConnectionHost } from "./connection.ts";
import {
  DEFAULT_AUTH_TIMEOUT_MS,
  DEFAULT_LISTENERS,
  DEFAULT_QUEUE_BYTES,
  listenerSettings,
  type ServeOptions,
  timeout,
} from "./options.ts";
import { Sweep } from "./sweep.ts";
import { Membership } from "./join.ts";
import { checkHealth } from "./health.ts";
import { defaultNodeName } from "./node_name.ts";
import { LagMonitor } from "./lag.ts";
import {
  collectStats,
  newErrorCounts,
  renderMetrics,
  type ServerStats,
} from "./metrics.ts";
import type {
  HealthReport,
  ListenerSettings,
  ServerPort,
  TlsCertificate,
} from "./port.ts";
import {
  connectionCounts,
  type ConnectionInfo,
  newStats,
  type OpenOptions,
  type Outlet,
} from "./transport.ts";

const log = getLogger(["mist", "server"]);

export { checkCertificate, DEFAULT_LISTENERS, DEFAULT_QUEUE_BYTES };
export type { ServeOptions, ServerStats };

/** How long closed connections get to end before shutdown goes on without them. */
const CLOSE_GRACE_MS = 2000;

/**
 * A running mist server. Start one with {@linkcode serve}.
 */
export class MistServer implements AsyncDisposable, ServerPort {
  #settings: ListenerSettings;
  readonly #broker = new Broker<Connection>();
  readonly #access: Access;
  readonly #commands: ServeOptions["commands"];
  readonly #budget: SubscriptionBudget<Connection>;
  /** What each new connection is opened with; one keeps the host it got. */
  #host: ConnectionHost;
  readonly #listeners: Listener[] = [];
  readonly #connections = new Set<Connection>();
  readonly #errors = newErrorCounts();
  readonly #lag = new LagMonitor();
  readonly #sweep: Sweep;
  readonly #nodeName: string | undefined;
  readonly #membership: Membership;
  /** Publishes what the server itself publishes ({@linkcode MistServer.publish}). */
  readonly #self: Connection;
  /** Publishes what other nodes of the cluster published, here only. */
  readonly #peers: Connection;
  #closing: Promise<void> | undefined;
  #neverStarted = false;
  readonly #finished = Promise.withResolvers<void>();

  /**
   * Builds a server without starting it; {@linkcode serve} does both.
   *
   * @param options the set-up
   * @throws {RangeError} for a limit that is not a positive integer
   * @throws {TypeError} for a custom command that would replace a protocol
   *   command, an authenticator without a token, or an invalid cluster URL
   *   or name
   */
  constructor(options: ServeOptions = {}) {
    this.#settings = listenerSettings(options);
    this.#access = new Access(options.authenticator, {
      admin: options.token,
      metrics: options.metricsToken,
    });
    if (options.nodeName === "") {
      throw new TypeError("The node name must not be empty");
    }
    this.#nodeName = options.nodeName;
    this.#commands = options.commands;
    this.#budget = new SubscriptionBudget({
      maxTotalSubscriptions: options.maxTotalSubscriptions,
      maxTotalSubscriptionBytes: options.maxTotalSubscriptionBytes,
      maxSubscriptionBytes: options.maxSubscriptionBytes,
    });
    this.#sweep = new Sweep({
      authTimeoutMs: options.authenticator === undefined ? Infinity : timeout(
        "authTimeoutMs",
        options.authTimeoutMs ?? DEFAULT_AUTH_TIMEOUT_MS,
      ),
      idleTimeoutMs: timeout("idleTimeoutMs", options.idleTimeoutMs ?? 0),
    });
    this.#host = this.#newHost(
      positiveInteger("queueBytes", options.queueBytes ?? DEFAULT_QUEUE_BYTES),
    );

    const own = { listener: "server", remote: "server", stats: newStats() };
    this.#self = this.open(NO_OUTLET, own, {
      principal: ADMIN,
      internal: true,
    });
    const peers = { listener: "cluster", remote: "cluster", stats: newStats() };
    this.#peers = this.open(NO_OUTLET, peers, {
      principal: ADMIN,
      internal: true,
      local: true,
    });
    this.#membership = new Membership(options, this.#access);
  }

  /** The settings listeners serve by; a new connection reads them as it opens. */
  get settings(): ListenerSettings {
    return this.#settings;
  }

  /** The size limits new connections get. */
  get limits(): Limits {
    return this.#settings.limits;
  }

  /** Capacity of each new connection's outbound queue in bytes. */
  get queueBytes(): number {
    return this.#host.queueBytes;
  }

  /**
   * Changes settings while the server runs (the program's `SIGHUP`): the
   * connections opened from now on get them, those open keep theirs. What is
   * not given stays as it is; nothing changes when a value is refused.
   *
   * @param changes the new values
   * @throws {RangeError} for a limit or queue size that is not a positive integer
   */
  reconfigure(changes: Reconfiguration): void {
    // Each setting is named as its option: what is not given stays.
    const { tls, ...now } = this.#settings;
    const settings = listenerSettings({
      ...now,
      ...changes,
      limits: { ...now.limits, ...changes.limits },
      ...(tls === undefined ? {} : { tls }),
    });
    const queueBytes = positiveInteger(
      "queueBytes",
      changes.queueBytes ?? this.queueBytes,
    );
    this.#settings = settings;
    this.#host = this.#newHost(queueBytes);
  }

  /**
   * Serves a new certificate and key (the program's `SIGHUP`): each TLS
   * listener's next handshakes use it; open connections keep the certificate
   * they were served.
   *
   * @param tls the new certificate chain and key, PEM (the client CA stays)
   * @returns the listeners that serve it, and those that serve the old one
   *   until a restart (a plug-in listener that cannot take it, or failed to)
   * @throws {Error} when the pair does not parse or does not match: nothing
   *   changes
   */
  async renewCertificate(
    tls: Pick<TlsCertificate, "cert" | "key">,
  ): Promise<{ renewed: string[]; kept: string[] }> {
    const serving = this.#settings.tls;
    if (serving === undefined) throw new Error("the server serves no TLS");
    const next = { ...serving, cert: tls.cert, key: tls.key };
    checkCertificate(next);
    const { renewed, kept } = await renewCertificates(this.#listeners, next);
    // What a later reload compares with: the old pair while none serves it.
    if (renewed.length > 0) this.#settings = { ...this.#settings, tls: next };
    return { renewed, kept };
  }

  /** A connection host with the settings now: its limits and command table. */
  #newHost(queueBytes: number): ConnectionHost {
    const limits = this.#settings.limits;
    return {
      broker: this.#broker,
      access: this.#access,
      budget: this.#budget,
      limits,
      queueBytes,
      errors: this.#errors,
      commands: commandTable({
        access: this.#access,
        broker: this.#broker,
        budget: this.#budget,
        limits,
        route: (from, tags, request) => this.#route(from, tags, request),
        connections: () => connectionCounts(this.#listeners),
      }, this.#commands),
      release: (connection) => {
        this.#connections.delete(connection);
        this.#sweep.forget(connection);
      },
    };
  }

  /**
   * The cluster this server is a node of, or `undefined` when it is alone
   * (or has not started listening yet): where grants changes are published
   * and received.
   */
  get cluster(): Cluster | undefined {
    return this.#membership.cluster;
  }

  /**
   * This node's name in the cluster and in metrics labels: `nodeName`, else
   * `"HOST:PORT"` of the first listener, stable across restarts. It must be
   * unique in the cluster (see `ClusterOptions.node`).
   */
  get node(): string {
    return this.#nodeName ?? defaultNodeName(this.addresses[0]);
  }

  /** The bound URLs of the listeners, in the order they started. */
  get addresses(): string[] {
    return this.#listeners.map((listener) => listener.url);
  }

  /** Resolves once the server has closed. */
  get finished(): Promise<void> {
    return this.#finished.promise;
  }

  /**
   * Starts the listeners. A scheme nobody registered is logged and skipped.
   *
   * @param urls listener URLs
   * @throws {Error} when a listener cannot start (the ones already started are
   *   closed) or none could be started
   */
  async listen(urls: readonly string[]): Promise<void> {
    try {
      await startListeners(urls, this, (listener) => {
        this.#listeners.push(listener);
      });
    } catch (err) {
      // A server that never started did not "close": the caller says why.
      this.#neverStarted = true;
      await this.close();
      throw err;
    }
    if (this.#closing !== undefined) return;
    this.#lag.start();
    this.#sweep.start();
    // Named after its listeners, the node joins once they are bound; it
    // links in the background, serving local traffic meanwhile. What other
    // nodes publish is held to this node's limits, delivered here only.
    this.#membership.join(this.node, (tags, data) => this.#ingress(tags, data));
  }

  /**
   * Opens a connection on this server: how every listener connects its
   * clients, and how a test or a benchmark talks to the server in memory,
   * with no socket.
   *
   * @param outlet where the connection writes
   * @param info where it comes from
   * @param options the principal of a token presented on connect, if any
   * @returns the connection; hand it each frame with {@linkcode Connection.receive}
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { MistServer } from "./server.ts";
   * import { newStats } from "./transport.ts";
   * const server = new MistServer();
   * const written: string[] = [];
   * const outlet = {
   *   write: (frames: readonly { text: string }[]) => {
   *     for (const frame of frames) written.push(frame.text);
   *   },
   *   close() {},
   * };
   * const info = { listener: "memory", remote: "test", stats: newStats() };
   * const connection = server.open(outlet, info);
   * connection.receive('{"command":"ping"}');
   * await connection.drain(1000);
   * assert.deepEqual(written, ['{"command":"ping","tags":[],"data":"pong"}']);
   * await server.close();
   * ```
   */
  open(
    outlet: Outlet,
    info: ConnectionInfo,
    options?: OpenOptions,
  ): Connection {
    const connection = new Connection(this.#host, outlet, info, options);
    this.#connections.add(connection);
    if (!options?.internal) this.#sweep.track(connection);
    if (this.#closing !== undefined) connection.close();
    return connection;
  }

  /**
   * Who a connection is that presents this token.
   *
   * @param token the token, or `undefined` when none was presented
   * @returns its principal
   * @throws {MistError} `invalid token`, `authenticator unavailable`
   */
  authenticate(token: string | undefined): Promise<Principal> {
    return this.#access.principal(token);
  }

  /**
   * The server's metrics (`GET /metrics`).
   *
   * @returns Prometheus text exposition format
   */
  metrics(): string {
    return renderMetrics(this.stats());
  }

  #route(
    from: Connection,
    tags: readonly string[],
    request: CommandRequest,
  ): void {
    // A canonical publish line is its own delivery frame; its data is read
    // only for the cluster.
    this.#broker.publish(from, tags, request.frame ?? request.data ?? "");
    // Never waits: the backplane takes the envelope or counts it as dropped.
    if (!from.local) this.cluster?.publishMessage(tags, request.data ?? "");
  }

  #ingress(tags: readonly string[], data: string): void {
    try {
      this.#peers.run(
        validate({ command: "publish", tags, data }, this.limits),
      );
    } catch (err) {
      if (!(err instanceof MistError)) throw err;
      log.warn("Refused a message from another node: {error}", {
        error: err.message,
      });
    }
  }

  /**
   * Publishes a message from the server itself: every connection with a
   * matching subscription receives it, on every node of a cluster.
   *
   * @param tags the message's tags
   * @param data the payload
   * @throws {MistError} for tags or data outside the limits
   */
  publish(tags: readonly string[], data: string): void {
    this.#self.run(validate({ command: "publish", tags, data }, this.limits));
  }

  /**
   * The server's counters now.
   *
   * @returns a snapshot
   */
  stats(): ServerStats {
    return collectStats({
      node: this.node,
      listeners: this.#listeners,
      connections: this.#connections,
      broker: this.#broker,
      authFailures: this.#access.refused,
      errors: this.#errors,
      lag: this.#lag,
      cluster: this.cluster,
    });
  }

  /**
   * The server's health (`GET /health/live`, `GET /health/ready`).
   *
   * @param check `live`: the server serves and its listeners accept;
   *   `ready` (the default): besides, the authenticator and the cluster link
   *   are up
   * @returns the state of each listener, of the authenticator and of the
   *   cluster link, with the number of live peers and what is down
   */
  health(check: "live" | "ready" = "ready"): Promise<HealthReport> {
    return checkHealth({
      closing: this.#closing !== undefined,
      listeners: this.#listeners,
      authenticator: this.#access.authenticator,
      cluster: this.cluster,
    }, check);
  }

  /**
   * Shuts down: stops accepting, lets every connection write what it is owed
   * (up to the drain timeout), leaves the cluster, closes them, waits for the
   * listeners to end and closes the authenticator. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      // From here on a new connection is closed as soon as it opens. The
      // listeners stop only after the drain, and then end their idle
      // keep-alive connections; streams and WebSockets end as their
      // connections are closed, once written what they are owed.
      this.#lag.stop();
      this.#sweep.stop();
      const connections = [...this.#connections];
      const drainMs = this.settings.drainTimeoutMs;
      await Promise.all([
        ...connections.map((connection) => connection.drain(drainMs)),
        this.#membership.close(),
      ]);
      for (const listener of this.#listeners) listener.close();
      for (const connection of connections) connection.close();
      // A WebSocket peer that never answers the close handshake, or an event
      // stream whose client stopped reading, would hold its listener open.
      const ended = await settlesWithin(
        Promise.all(this.#listeners.map((listener) => listener.finished)),
        CLOSE_GRACE_MS,
      );
      if (!ended) {
        log.warn(
          "Some connections did not close within {ms} ms of being told to; leaving them",
          { ms: CLOSE_GRACE_MS },
        );
      }
      await this.#access.authenticator?.close();
      if (!this.#neverStarted) log.info("Server closed");
      this.#finished.resolve();
    })();
    return this.#closing;
  }

  /** Closes the server (`await using server = await serve()`). */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * Starts a mist server.
 *
 * @param options the set-up; `listeners` defaults to {@linkcode DEFAULT_LISTENERS}
 * @returns the running server
 * @throws {Error} when a listener cannot start or none could
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { serve } from "./server.ts";
 * await using server = await serve({ listeners: ["tcp://127.0.0.1:0"] });
 * assert.match(server.addresses[0]!, /^tcp:\/\/127\.0\.0\.1:\d+$/);
 * ```
 */
export async function serve(options: ServeOptions = {}): Promise<MistServer> {
  const server = new MistServer(options);
  await server.listen(options.listeners ?? DEFAULT_LISTENERS);
  return server;
}

/**
 * What {@linkcode MistServer.reconfigure} can change while the server runs.
 * The listeners themselves, the certificate, the authenticator and the
 * cluster are set once, at start.
 */
export type Reconfiguration = Pick<
  ServeOptions,
  "limits" | "queueBytes" | "drainTimeoutMs" | "keepAliveMs" | "allowedOrigins"
>;

/** Where the server's own connections write: nowhere. */
const NO_OUTLET: Outlet = { write() {}, close() {} };
