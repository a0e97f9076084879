/**
 * The web console's live feed (`GET /console/events`): one JSON snapshot of
 * the server's numbers per second, as Server-Sent Events, to every open
 * console. One timer per server, running only while a console is open: with
 * nobody watching the feed costs nothing.
 *
 * @module
 */

import { getLogger } from "npm:@logtape/logtape@^2.4.2";
import type { ServerStats } from "../server/metrics.ts";
import type { ListenerStats } from "../server/transport.ts";
import type { HealthReport } from "../server/port.ts";

const encoder = new TextEncoder();
const log = getLogger(["mist", "console"]);

/** How often a snapshot is sent, in milliseconds. */
export const FEED_INTERVAL_MS = 1000;

/** Where the snapshots are read from: the server. */
export interface FeedSource {
  /** The server's counters now. */
  stats(): ServerStats;
  /** The server's health now. */
  health(check?: "live" | "ready"): Promise<HealthReport>;
}

/** The counters of a listener the page shows. */
type ListenerCounter =
  | "connections"
  | "accepted"
  | "received"
  | "delivered"
  | "dropped"
  | "bytesReceived"
  | "bytesSent";

/** One snapshot, as the page receives it (counters only; the page computes rates). */
export interface ConsoleSnapshot {
  /** When it was taken, in milliseconds since the epoch. */
  time: number;
  node: string;
  version: string;
  /** Per listener: its bound URL and counters. */
  listeners: ({ url: string } & Pick<ListenerStats, ListenerCounter>)[];
  subscriptions: number;
  queuedBytes: number;
  authFailures: number;
  /** Error replies sent since start, by code; codes never sent are left out. */
  errors: Record<string, number>;
  process: ServerStats["process"];
  /** The cluster link; absent when the server is alone. */
  cluster?: {
    state: string;
    peers: number;
    sent: number;
    received: number;
    dropped: number;
  };
  /** The `ready` health check. */
  health: HealthReport;
}

/**
 * Builds a snapshot from the server's counters and health: plain numbers, no
 * token (the statistics hold none).
 *
 * @param stats the counters
 * @param health the `ready` check
 * @param time when, in milliseconds since the epoch
 * @returns the snapshot
 */
export function snapshot(
  stats: ServerStats,
  health: HealthReport,
  time: number = Date.now(),
): ConsoleSnapshot {
  const errors: Record<string, number> = {};
  for (const [code, count] of Object.entries(stats.errors)) {
    if (count > 0) errors[code] = count;
  }
  const result: ConsoleSnapshot = {
    time,
    node: stats.node,
    version: stats.version,
    listeners: stats.listeners.map((l) => ({
      url: l.url,
      connections: l.connections,
      accepted: l.accepted,
      received: l.received,
      delivered: l.delivered,
      dropped: l.dropped,
      bytesReceived: l.bytesReceived,
      bytesSent: l.bytesSent,
    })),
    subscriptions: stats.subscriptions,
    queuedBytes: stats.queuedBytes,
    authFailures: stats.authFailures,
    errors,
    process: stats.process,
    health,
  };
  const cluster = stats.cluster;
  if (cluster !== undefined) {
    result.cluster = {
      state: cluster.state,
      peers: cluster.peers,
      sent: cluster.sent,
      received: cluster.received,
      dropped: cluster.dropped,
    };
  }
  return result;
}

/** One open console: its event stream. */
export interface FeedStream {
  /** The response body: `event: viewer`, then one `data:` snapshot per second. */
  readonly body: ReadableStream<Uint8Array>;
  /** Ends the stream (idempotent); the last one closed stops the timer. */
  close(): void;
}

/** The feed of one server: every open console stream, and the one timer. */
export class ConsoleFeed {
  readonly #source: FeedSource;
  readonly #intervalMs: number;
  readonly #streams = new Set<ReadableStreamDefaultController<Uint8Array>>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #ticking = false;

  /**
   * @param source the server
   * @param intervalMs how often to send a snapshot
   */
  constructor(source: FeedSource, intervalMs: number = FEED_INTERVAL_MS) {
    this.#source = source;
    this.#intervalMs = intervalMs;
  }

  /** Console streams open now. */
  get watchers(): number {
    return this.#streams.size;
  }

  /** Whether the timer runs (exactly while a stream is open). */
  get running(): boolean {
    return this.#timer !== undefined;
  }

  /**
   * Opens a stream. Its first event says who watches (`open`, `admin`,
   * `metrics`), then a snapshot comes at once and one per interval.
   *
   * @param viewer the principal's kind, for the page to show what it may do
   * @param closed called once when the stream ends, whoever ends it
   * @returns the stream
   */
  open(viewer: string, closed?: () => void): FeedStream {
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    const close = () => {
      if (!this.#streams.delete(controller)) return;
      closed?.();
      try {
        controller.close();
      } catch {
        // Cancelled by the client already.
      }
      if (this.#streams.size === 0) this.#stop();
    };
    const body = new ReadableStream<Uint8Array>({
      start: (c) => {
        controller = c;
      },
      cancel: close,
    });
    controller.enqueue(encoder.encode(
      `event: viewer\ndata: ${JSON.stringify({ viewer })}\n\n`,
    ));
    this.#streams.add(controller);
    if (this.#timer === undefined) {
      this.#timer = setInterval(() => this.#send(), this.#intervalMs);
    }
    this.#send();
    return { body, close };
  }

  #stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #send(): void {
    this.#tick().catch((err) => {
      log.error("The console feed failed: {error}", { error: err });
    });
  }

  async #tick(): Promise<void> {
    // A health check slower than the interval is not run twice at once.
    if (this.#ticking) return;
    this.#ticking = true;
    try {
      const stats = this.#source.stats();
      const health = await this.#source.health("ready");
      if (this.#streams.size === 0) return;
      const bytes = encoder.encode(
        `data: ${JSON.stringify(snapshot(stats, health))}\n\n`,
      );
      for (const controller of this.#streams) {
        // A console that stopped reading misses snapshots instead of piling them up.
        if ((controller.desiredSize ?? 0) > 0) controller.enqueue(bytes);
      }
    } finally {
      this.#ticking = false;
    }
  }
}

const feeds = new WeakMap<FeedSource, ConsoleFeed>();

/**
 * The feed of a server, made the first time a console opens: one per server,
 * whichever listener serves the console.
 *
 * @param source the server
 * @returns its feed
 */
export function feedOf(source: FeedSource): ConsoleFeed {
  let feed = feeds.get(source);
  if (feed === undefined) {
    feed = new ConsoleFeed(source);
    feeds.set(source, feed);
  }
  return feed;
}
