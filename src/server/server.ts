/**
 * The server: one broker, one command table, access control, and the
 * listeners that feed them.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { Access } from "./access.ts";
import type { Authenticator } from "../auth/authenticator.ts";
import { checkGranted, type Principal } from "../core/principal.ts";
import { Broker } from "../core/broker.ts";
import type { Backplane } from "../cluster/backplane.ts";
import { Cluster, type ClusterStats } from "../cluster/cluster.ts";
import { RedisBackplane } from "../cluster/backplane_redis.ts";
import { type CommandHandler, commandTable } from "./commands.ts";
import { listenHttp, listenWebSocket } from "../listeners/http.ts";
import {
  type HealthReport,
  type Listener,
  type ListenerContext,
  listenerFactory,
  registerListener,
  type TlsCertificate,
} from "../listeners/listener.ts";
import { listenTcp, listenTls } from "../listeners/tcp.ts";
import { renderMetrics } from "./metrics.ts";
import {
  DEFAULT_LIMITS,
  type Limits,
  type Request,
  requireTags,
} from "../protocol/codec.ts";
import {
  type ListenerStats,
  type Outlet,
  Session,
  type SessionHost,
  type SessionInfo,
} from "./connection.ts";

registerListener("tcp", listenTcp);
registerListener("tls", listenTls);
registerListener("http", listenHttp);
registerListener("https", listenHttp);
registerListener("ws", listenWebSocket);
registerListener("wss", listenWebSocket);

const log = getLogger(["mist", "server"]);

/** The listeners a server starts when none are given. */
export const DEFAULT_LISTENERS: readonly string[] = Object.freeze([
  "tcp://127.0.0.1:1445",
  "http://127.0.0.1:8080",
  "ws://127.0.0.1:8888",
]);

/** The default capacity of each connection's outbound queue: 8 MiB. */
export const DEFAULT_QUEUE_BYTES = 8 * 1024 * 1024;

/** How long closed connections get to end before shutdown goes on without them. */
const CLOSE_GRACE_MS = 2000;

/** How long `/health` waits for the authenticator, in milliseconds. */
const HEALTH_TIMEOUT_MS = 2000;

/** How a server is set up. Every field is optional. */
export interface ServeOptions {
  /** Listener URLs; a scheme nobody registered is logged and skipped. */
  listeners?: readonly string[];
  /** Size limits; unset fields keep the protocol's defaults. */
  limits?: Partial<Limits>;
  /** Capacity of each connection's outbound queue in bytes (default 8 MiB). */
  queueBytes?: number;
  /** Custom commands by name. */
  commands?: Readonly<Record<string, CommandHandler>>;
  /**
   * Where tokens live; turns authentication on. The server closes it when it
   * closes. Requires `token`.
   */
  authenticator?: Authenticator;
  /** The admin token (required with an authenticator). */
  token?: string;
  /** The certificate of `tls://`, `https://` and `wss://` listeners. */
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
}

/** A snapshot of a server's counters. */
export interface ServerStats {
  /** Per listener, by bound URL. */
  listeners: ({ url: string } & ListenerStats)[];
  /** Subscriptions held over every connection. */
  subscriptions: number;
  /** Nodes of the subscription index (0 exactly when it is empty). */
  indexNodes: number;
  /** The most bytes any connection's outbound queue has held. */
  peakQueuedBytes: number;
  /** The cluster link and its counters; absent when the server is alone. */
  cluster?: ClusterStats;
}

/**
 * A running mist server. Start one with {@linkcode serve}.
 */
export class MistServer implements AsyncDisposable {
  /** The size limits in force. */
  readonly limits: Limits;
  /** Capacity of each connection's outbound queue in bytes. */
  readonly queueBytes: number;
  readonly #broker = new Broker<Session>();
  readonly #access: Access;
  readonly #host: SessionHost;
  readonly #context: ListenerContext;
  readonly #drainTimeoutMs: number;
  readonly #listeners: Listener[] = [];
  readonly #sessions = new Set<Session>();
  readonly #cluster: Cluster | undefined;
  #closing: Promise<void> | undefined;
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
    const limits = { ...DEFAULT_LIMITS, ...options.limits };
    for (const [name, value] of Object.entries(limits)) {
      positiveInteger(name, value);
    }
    this.limits = Object.freeze(limits);
    this.queueBytes = positiveInteger(
      "queueBytes",
      options.queueBytes ?? DEFAULT_QUEUE_BYTES,
    );
    this.#drainTimeoutMs = options.drainTimeoutMs ?? 5000;
    this.#access = new Access(options.authenticator, options.token);
    this.#host = {
      broker: this.#broker,
      limits: this.limits,
      queueBytes: this.queueBytes,
      commands: commandTable(this.#access, options.commands),
      access: this.#access,
      route: (from, tags, data) => this.#route(from, tags, data),
      release: (session) => this.#sessions.delete(session),
    };
    this.#context = {
      open: (outlet, info, presented) => this.#open(outlet, info, presented),
      authenticate: (token) => this.#access.principal(token),
      publish: (principal, request, stats) =>
        this.#publishRequest(principal, request, stats),
      health: () => this.health(),
      metrics: () => renderMetrics(this.stats()),
      limits: this.limits,
      drainTimeoutMs: this.#drainTimeoutMs,
      tls: options.tls,
      keepAliveMs: options.keepAliveMs ?? 15_000,
    };

    const backplane = options.backplane ??
      (options.cluster === undefined ? undefined : new RedisBackplane(
        options.cluster,
        options.clusterName === undefined ? {} : { name: options.clusterName },
      ));
    if (backplane !== undefined) {
      this.#cluster = new Cluster(
        options.heartbeatMs === undefined
          ? { backplane }
          : { backplane, heartbeatMs: options.heartbeatMs },
      );
      const cluster = this.#cluster;
      // Other nodes' messages go to local subscribers only, serialised once here.
      cluster.onMessage((tags, data) =>
        this.#broker.publish(undefined, tags, data)
      );
      // Grant changes made here reach every node; theirs apply here.
      this.#access.onGrantsChanged((digest, tags) => {
        cluster.publishGrants(digest, tags);
      });
      cluster.onGrants((digest, tags) =>
        this.#access.applyGrants(digest, tags)
      );
    }
  }

  /**
   * The cluster this server is a node of, or `undefined` when it is alone:
   * where grants changes are published and received.
   */
  get cluster(): Cluster | undefined {
    return this.#cluster;
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
    for (const text of urls) {
      let url: URL;
      try {
        url = new URL(text);
      } catch {
        await this.close();
        throw new Error(`Invalid listener URL "${text}"`);
      }
      const scheme = url.protocol.slice(0, -1);
      const factory = listenerFactory(scheme);
      if (factory === undefined) {
        log.warn("Skipping listener {url}: scheme {scheme} is not supported", {
          url: text,
          scheme,
        });
        continue;
      }
      try {
        const listener = await factory(url, this.#context);
        this.#listeners.push(listener);
        log.info("{scheme} listener on {url}", {
          scheme: scheme.toUpperCase(),
          url: listener.url,
        });
      } catch (err) {
        await this.close();
        throw new Error(`Cannot listen on ${text}: ${describe(err)}`, {
          cause: err,
        });
      }
    }
    if (this.#listeners.length === 0) {
      await this.close();
      throw new Error(
        `No listener started (asked for: ${urls.join(", ") || "none"})`,
      );
    }
    // Links in the background: the server serves local traffic meanwhile.
    this.#cluster?.start();
  }

  #open(outlet: Outlet, info: SessionInfo, presented?: Principal): Session {
    const session = new Session(this.#host, outlet, info, presented);
    this.#sessions.add(session);
    if (this.#closing !== undefined) session.close();
    return session;
  }

  #route(
    from: Session | undefined,
    tags: readonly string[],
    data: string,
  ): void {
    this.#broker.publish(from, tags, data);
    // Never waits: the backplane takes the envelope or counts it as dropped.
    this.#cluster?.publishMessage(tags, data);
  }

  #publishRequest(
    principal: Principal,
    request: Request,
    stats: ListenerStats,
  ): void {
    const tags = requireTags(request);
    checkGranted(principal, tags);
    stats.received++;
    this.#route(undefined, tags, request.data ?? "");
  }

  /**
   * Publishes a message from the server itself: every connection with a
   * matching subscription receives it, on every node of a cluster.
   *
   * @param tags the message's tags
   * @param data the payload
   */
  publish(tags: readonly string[], data: string): void {
    this.#route(undefined, tags, data);
  }

  /**
   * The server's counters now.
   *
   * @returns a snapshot
   */
  stats(): ServerStats {
    let peakQueuedBytes = 0;
    for (const session of this.#sessions) {
      peakQueuedBytes = Math.max(peakQueuedBytes, session.peakQueuedBytes);
    }
    const stats: ServerStats = {
      listeners: this.#listeners.map((l) => ({ url: l.url, ...l.stats })),
      subscriptions: this.#broker.subscriptionCount,
      indexNodes: this.#broker.indexSize,
      peakQueuedBytes,
    };
    if (this.#cluster !== undefined) stats.cluster = this.#cluster.stats();
    return stats;
  }

  /**
   * Whether every part of the server is up (`GET /health`).
   *
   * @returns the state of each listener, of the authenticator and of the
   *   cluster link, with the number of live peers
   */
  async health(): Promise<HealthReport> {
    const closing = this.#closing !== undefined;
    const listeners: Record<string, "up"> = {};
    if (!closing) {
      for (const listener of this.#listeners) listeners[listener.url] = "up";
    }
    const authenticator = this.#access.authenticator === undefined
      ? "off"
      : await healthy(this.#access.authenticator)
      ? "up"
      : "down";
    const cluster = this.#cluster === undefined ? "off" : this.#cluster.state;
    return {
      ok: !closing && authenticator !== "down" && cluster !== "down",
      listeners,
      authenticator,
      cluster,
      ...(this.#cluster === undefined
        ? {}
        : { peers: this.#cluster.peers().length }),
    };
  }

  /**
   * Shuts down: stops accepting, lets every connection write what it is owed
   * (up to the drain timeout), leaves the cluster, closes them, waits for the
   * listeners to end and closes the authenticator. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      for (const listener of this.#listeners) listener.close();
      const sessions = [...this.#sessions];
      await Promise.all([
        ...sessions.map((session) => session.drain(this.#drainTimeoutMs)),
        this.#cluster?.close(),
      ]);
      for (const session of sessions) session.close();
      // A WebSocket peer that never answers the close handshake, or an event
      // stream whose client stopped reading, would hold Deno.serve open.
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
      log.info("Server closed");
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
 * ```ts ignore
 * import { serve } from "./server.ts";
 * await using server = await serve({ listeners: ["tcp://127.0.0.1:0"] });
 * server.addresses; // ["tcp://127.0.0.1:40123"]
 * ```
 */
export async function serve(options: ServeOptions = {}): Promise<MistServer> {
  const server = new MistServer(options);
  await server.listen(options.listeners ?? DEFAULT_LISTENERS);
  return server;
}

/** Whether a promise settles within a time; it is left to settle later if not. */
async function settlesWithin(
  promise: Promise<unknown>,
  ms: number,
): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true, () => true), late]);
  } finally {
    clearTimeout(timer);
  }
}

async function healthy(authenticator: Authenticator): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), HEALTH_TIMEOUT_MS);
  });
  try {
    return await Promise.race([
      authenticator.healthy().catch(() => false),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new RangeError(`${name} must be a positive integer, got ${value}`);
  }
  return value;
}

function describe(err: unknown): string {
  if (err instanceof Deno.errors.AddrInUse) return "address already in use";
  if (err instanceof Deno.errors.PermissionDenied) return "permission denied";
  if (err instanceof Error) return err.message;
  return String(err);
}
