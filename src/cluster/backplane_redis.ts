/**
 * The Redis backplane: Redis pub/sub (also Valkey, KeyDB, Dragonfly) through
 * node-redis, one channel per cluster name.
 *
 * Two connections: one publishes, one only subscribes (a subscribed RESP2
 * connection can do nothing else). This module owns reconnection instead of
 * node-redis, so that backoff is capped and jittered, every timer is cleared
 * on close, and each change of the link is reported once.
 *
 * @module
 */

import { getLogger } from "npm:@logtape/logtape@^2.4.2";
import { backoffDelay } from "../_util/backoff.ts";
import { abortable, settlesWithin } from "../_util/deadline.ts";
import { errorText, positiveInteger } from "../_util/text.ts";
import type { Backplane, BackplaneHandlers, LinkState } from "./backplane.ts";

const log = getLogger(["mist", "cluster", "redis"]);

/** The cluster name when none is given: the channel is `mist:mist`. */
export const DEFAULT_CLUSTER_NAME = "mist";

/** How a {@linkcode RedisBackplane} is set up. */
export interface RedisBackplaneOptions {
  /** The cluster's name: clusters of different names can share one Redis (default `"mist"`). */
  name?: string | undefined;
  /** The first delay before linking again, in milliseconds (default 100). */
  retryMinMs?: number;
  /** The longest delay between two attempts to link, in milliseconds (default 5000). */
  retryMaxMs?: number;
  /** How long one attempt to link may take, in milliseconds (default 5000). */
  connectTimeoutMs?: number;
  /**
   * Most bytes of envelopes published and not yet confirmed by Redis; past
   * it, publishes are refused (default 16 MiB).
   */
  maxInFlightBytes?: number;
}

/** The part of a node-redis client this module uses. */
interface RedisConnection {
  connect(): Promise<unknown>;
  publish(channel: string, message: string): Promise<unknown>;
  subscribe(
    channel: string,
    listener: (message: string) => void,
  ): Promise<void>;
  destroy(): void;
  on(event: string, listener: (arg: unknown) => void): unknown;
}

/** The two connections of one attempt to link, and how they end together. */
interface ConnectionPair {
  readonly pub: RedisConnection;
  readonly sub: RedisConnection;
  /** Resolves with the reason when either connection ends. */
  readonly lost: Promise<string>;
  readonly end: (reason: string) => void;
}

/** Envelopes are flushed to Redis once this many bytes of them are waiting. */
const BATCH_BYTES = 64 * 1024;

/**
 * A backplane over a Redis channel, `mist:<name>`.
 *
 * Links in the background, relinks by itself with capped, jittered
 * exponential backoff, and refuses publishes while unlinked. Envelopes
 * published in one turn of the event loop travel in one Redis `PUBLISH`,
 * joined by newlines.
 *
 * @example
 * Not run by `deno test --doc`: it needs a Redis server
 * (tests/cluster/backplane_redis_test.ts starts one).
 *
 * ```ts ignore
 * import { RedisBackplane } from "./backplane_redis.ts";
 * import { serve } from "../server/server.ts";
 * const backplane = new RedisBackplane("redis://127.0.0.1:6379", { name: "chat" });
 * await using server = await serve({ listeners: ["tcp://127.0.0.1:0"], backplane });
 * ```
 */
export class RedisBackplane implements Backplane {
  /** The Redis channel of this cluster. */
  readonly channel: string;
  readonly #url: string;
  readonly #description: string;
  readonly #retryMinMs: number;
  readonly #retryMaxMs: number;
  readonly #connectTimeoutMs: number;
  readonly #maxInFlightBytes: number;
  #handlers: BackplaneHandlers | undefined;
  #state: LinkState = "down";
  #pair: ConnectionPair | undefined;
  #running: Promise<void> | undefined;
  #closed = false;
  /** Resolved by `close()`: cuts the wait before the next attempt short. */
  readonly #closing = Promise.withResolvers<void>();
  #batch: string[] = [];
  #batchBytes = 0;
  #flushScheduled = false;
  #inFlightBytes = 0;

  /**
   * Builds the backplane without linking; {@linkcode RedisBackplane.start} links.
   *
   * @param url `redis://[USER:PASS@]HOST:PORT[/DB]` or `rediss://...` (TLS)
   * @param options the set-up
   * @throws {TypeError} for a URL that is not one of those (the message
   *   never repeats the URL, which may hold a password), or an empty name
   * @throws {RangeError} for a delay or size that is not a positive integer
   */
  constructor(url: string, options: RedisBackplaneOptions = {}) {
    this.#url = url;
    this.#description = redactRedisUrl(url);
    const name = options.name ?? DEFAULT_CLUSTER_NAME;
    if (name === "") throw new TypeError("Cluster name must not be empty");
    this.channel = `mist:${name}`;
    this.#retryMinMs = positiveInteger("retryMinMs", options.retryMinMs ?? 100);
    this.#retryMaxMs = positiveInteger(
      "retryMaxMs",
      options.retryMaxMs ?? 5000,
    );
    this.#connectTimeoutMs = positiveInteger(
      "connectTimeoutMs",
      options.connectTimeoutMs ?? 5000,
    );
    this.#maxInFlightBytes = positiveInteger(
      "maxInFlightBytes",
      options.maxInFlightBytes ?? 16 * 1024 * 1024,
    );
  }

  /** The link's state now. */
  get state(): LinkState {
    return this.#state;
  }

  /** The Redis server and channel, without credentials. */
  get description(): string {
    return `${this.#description} channel ${this.channel}`;
  }

  /**
   * Starts linking in the background.
   *
   * @param handlers where arrivals, state changes and losses are reported
   * @throws {Error} when started twice
   */
  start(handlers: BackplaneHandlers): void {
    if (this.#handlers !== undefined) {
      throw new Error("Backplane already started");
    }
    this.#handlers = handlers;
    if (!this.#closed) this.#running = this.#run();
  }

  /**
   * Queues an envelope for the next `PUBLISH` (sent at the end of this turn of
   * the event loop, or at once when 64 KiB are waiting).
   *
   * @param payload an encoded envelope
   * @returns `false` when unlinked or too many bytes are in flight
   */
  publish(payload: string): boolean {
    if (this.#state !== "up") return false;
    const bytes = payload.length + 1; // UTF-16 units: near enough for a bound
    if (
      this.#inFlightBytes + this.#batchBytes + bytes > this.#maxInFlightBytes
    ) {
      return false;
    }
    this.#batch.push(payload);
    this.#batchBytes += bytes;
    if (this.#batchBytes >= BATCH_BYTES) {
      this.#flush();
    } else if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      queueMicrotask(() => this.#flush());
    }
    return true;
  }

  /** Unlinks, stops retrying and closes both connections. Idempotent. */
  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#closing.resolve();
      this.#pair?.end("closed");
    }
    await this.#running;
  }

  #flush(): void {
    this.#flushScheduled = false;
    const count = this.#batch.length;
    if (count === 0) return;
    const text = this.#batch.join("\n");
    const bytes = this.#batchBytes;
    this.#batch = [];
    this.#batchBytes = 0;
    const pair = this.#pair;
    if (pair === undefined) {
      this.#handlers?.lost(count);
      return;
    }
    this.#inFlightBytes += bytes;
    pair.pub.publish(this.channel, text).then(
      () => {
        this.#inFlightBytes -= bytes;
      },
      (err) => {
        this.#inFlightBytes -= bytes;
        log.debug("{count} envelopes lost in flight: {error}", {
          count,
          error: errorText(err),
        });
        this.#handlers?.lost(count);
      },
    );
  }

  async #run(): Promise<void> {
    let attempt = 0;
    let reported = false;
    while (!this.#closed) {
      let why: string;
      try {
        const pair = await this.#connect();
        attempt = 0;
        this.#set("up");
        reported = true;
        why = await pair.lost;
        this.#teardown(pair);
        if (this.#closed) break;
        this.#set("down", why);
      } catch (err) {
        if (this.#closed) break;
        why = errorText(err);
        if (!reported) {
          // The first outcome is reported even though the state stays "down".
          reported = true;
          this.#handlers?.state("down", why);
        }
      }
      const delay = backoff(attempt++, this.#retryMinMs, this.#retryMaxMs);
      log.debug(
        "Linking to {redis} failed ({reason}); attempt {attempt} in {delay} ms",
        { redis: this.#description, reason: why, attempt, delay },
      );
      // Not sleep(delay, signal): its AbortSignal.any() keeps Deno 2.9 alive
      // until the delay is over even when close() cut it short.
      await settlesWithin(this.#closing.promise, delay);
    }
    this.#set("down", "closed");
  }

  /** Opens both connections and subscribes, or fails and cleans up. */
  async #connect(): Promise<ConnectionPair> {
    const options = {
      url: this.#url,
      RESP: 2,
      disableOfflineQueue: true,
      disableClientInfo: true,
      maintNotifications: "disabled",
      socket: {
        connectTimeout: this.#connectTimeoutMs,
        reconnectStrategy: false,
      },
    } as const;
    // Loaded on first use: a server that is not in a cluster never loads it.
    const { createClient } = await import("npm:@redis/client@^6.3.1");
    if (this.#closed) throw new Error("closed");
    const pub = createClient(options) as unknown as RedisConnection;
    const sub = createClient(options) as unknown as RedisConnection;
    const lost = Promise.withResolvers<string>();
    let ended = false;
    const pair: ConnectionPair = {
      pub,
      sub,
      lost: lost.promise,
      end: (why) => {
        if (ended) return;
        ended = true;
        pub.destroy();
        sub.destroy();
        lost.resolve(why);
      },
    };
    for (const client of [pub, sub]) {
      // node-redis emits "error" for every failure; without a listener it throws.
      client.on("error", () => {});
      client.on("terminated", (cause) => pair.end(errorText(cause)));
      client.on("end", () => pair.end("connection closed"));
    }
    this.#pair = pair;
    // Either connection ending, or the deadline, stops the attempt.
    const gaveUp = new AbortController();
    lost.promise.then((why) => gaveUp.abort(new Error(why)));
    const timeout = AbortSignal.timeout(this.#connectTimeoutMs);
    const linking = (async () => {
      await Promise.all([pub.connect(), sub.connect()]);
      await sub.subscribe(this.channel, (message) => this.#deliver(message));
    })();
    try {
      // Nested rather than AbortSignal.any(), which would keep the process
      // alive until the timeout fires even after a connection ended first.
      await abortable(abortable(linking, gaveUp.signal), timeout);
    } catch (err) {
      const why = timeout.aborted && err === timeout.reason
        ? new Error("timed out")
        : err;
      pair.end(errorText(why));
      this.#teardown(pair);
      throw why;
    }
    return pair;
  }

  #teardown(pair: ConnectionPair): void {
    pair.end("closed");
    if (this.#pair === pair) this.#pair = undefined;
  }

  #deliver(message: string): void {
    const handlers = this.#handlers;
    if (handlers === undefined) return;
    let start = 0;
    while (true) {
      const end = message.indexOf("\n", start);
      if (end === -1) {
        handlers.receive(start === 0 ? message : message.slice(start));
        return;
      }
      handlers.receive(message.slice(start, end));
      start = end + 1;
    }
  }

  #set(state: LinkState, why?: string): void {
    if (state === this.#state) return;
    this.#state = state;
    if (state === "down") this.#flush();
    if (!this.#closed) this.#handlers?.state(state, why);
  }
}

/**
 * Checks a Redis URL and returns it without its credentials, for logs.
 *
 * @param url `redis://[USER:PASS@]HOST:PORT[/DB]` or `rediss://...`
 * @returns e.g. `redis://127.0.0.1:6379/0`
 * @throws {TypeError} when the URL is not of that form; the message never
 *   repeats the URL, which may hold a password
 */
export function redactRedisUrl(url: string): string {
  const form = "redis://[USER:PASS@]HOST:PORT[/DB] or rediss://...";
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TypeError(`Invalid cluster URL: expected ${form}`);
  }
  if (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:") {
    throw new TypeError(
      `Invalid cluster URL scheme "${parsed.protocol}": expected ${form}`,
    );
  }
  if (parsed.hostname === "") {
    throw new TypeError(`Invalid cluster URL: no host; expected ${form}`);
  }
  const db = /^\/?(\d*)$/.exec(parsed.pathname);
  if (db === null || parsed.search !== "" || parsed.hash !== "") {
    throw new TypeError(
      `Invalid cluster URL: the path must be a database number; expected ${form}`,
    );
  }
  return `${parsed.protocol}//${parsed.host}/${db[1] || "0"}`;
}

/**
 * The delay before attempt `attempt` (0-based) to link: exponential from
 * `min`, capped at `max`, with jitter (between half and all of it), so that
 * nodes that lost Redis together do not come back in lockstep.
 *
 * @param attempt how many attempts failed in a row, less one
 * @param min the first delay in milliseconds
 * @param max the cap in milliseconds
 * @returns the delay in milliseconds
 */
export function backoff(attempt: number, min: number, max: number): number {
  return Math.round(
    backoffDelay(attempt, { initialMs: min, maxMs: max, jitter: 0.5 }),
  );
}
