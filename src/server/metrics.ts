/**
 * The server's counters in Prometheus text format (`GET /metrics`).
 *
 * @module
 */

import type { ClusterStats } from "../cluster/cluster_options.ts";
import { ERROR_TEXT, type ErrorCode } from "../protocol/errors.ts";
import denoJson from "../../deno.json" with { type: "json" };
import type { LagMonitor } from "./lag.ts";
import type { ListenerStats } from "./transport.ts";

/** This build's version, from `deno.json`. */
export const VERSION: string = denoJson.version;

/** The codes the server's error replies carry (the client's own are left out). */
const SERVER_ERROR_CODES: readonly ErrorCode[] = (() => {
  const codes = Object.keys(ERROR_TEXT) as ErrorCode[];
  return codes.slice(0, codes.indexOf("internal") + 1);
})();

/**
 * Zeroed error counters, one field per code, so that counting an error
 * reply allocates nothing.
 *
 * @returns a counter per error code
 */
export function newErrorCounts(): Record<ErrorCode, number> {
  const counts = {} as Record<ErrorCode, number>;
  for (const code of Object.keys(ERROR_TEXT) as ErrorCode[]) counts[code] = 0;
  return counts;
}

/** Where {@linkcode collectStats} reads a server's counters. */
export interface StatsSources {
  node: string;
  listeners: readonly { url: string; stats: ListenerStats }[];
  connections: Iterable<{ peakQueuedBytes: number; queuedBytes: number }>;
  broker: { subscriptionCount: number; indexSize: number };
  authFailures: number;
  errors: Readonly<Record<ErrorCode, number>>;
  lag: LagMonitor;
  cluster: { stats(): ClusterStats } | undefined;
}

/**
 * A server's counters now.
 *
 * @param from where they are read
 * @returns a snapshot
 */
export function collectStats(from: StatsSources): ServerStats {
  let peakQueuedBytes = 0, queuedBytes = 0;
  for (const connection of from.connections) {
    peakQueuedBytes = Math.max(peakQueuedBytes, connection.peakQueuedBytes);
    queuedBytes += connection.queuedBytes;
  }
  const stats: ServerStats = {
    node: from.node,
    version: VERSION,
    listeners: from.listeners.map((l) => ({ url: l.url, ...l.stats })),
    subscriptions: from.broker.subscriptionCount,
    indexNodes: from.broker.indexSize,
    peakQueuedBytes,
    queuedBytes,
    authFailures: from.authFailures,
    errors: { ...from.errors },
    process: processStats(from.lag),
  };
  if (from.cluster !== undefined) stats.cluster = from.cluster.stats();
  return stats;
}

/**
 * The process's memory now and the event-loop lag last measured.
 *
 * @param lag what measures the lag
 * @returns the `process` part of {@linkcode ServerStats}
 */
function processStats(lag: LagMonitor): ServerStats["process"] {
  const memory = Deno.memoryUsage();
  return {
    residentBytes: memory.rss,
    heapUsedBytes: memory.heapUsed,
    heapTotalBytes: memory.heapTotal,
    eventLoopLagSeconds: lag.seconds,
    eventLoopLagMaxSeconds: lag.maxSeconds,
  };
}

/** A snapshot of a server's counters. */
export interface ServerStats {
  /** This node's name, stable across restarts (`ServeOptions.nodeName`). */
  node: string;
  /** This build's version. */
  version: string;
  /** Per listener, by bound URL. */
  listeners: ({ url: string } & ListenerStats)[];
  /** Subscriptions held over every connection. */
  subscriptions: number;
  /** Nodes of the subscription index (0 exactly when it is empty). */
  indexNodes: number;
  /** The most bytes any connection's outbound queue has held. */
  peakQueuedBytes: number;
  /** Bytes queued or being written now, over every connection. */
  queuedBytes: number;
  /** Presented tokens refused as invalid since start. */
  authFailures: number;
  /** Error replies sent since start, by code. */
  errors: Readonly<Record<ErrorCode, number>>;
  /** The process: memory in bytes (from `Deno.memoryUsage()`) and event-loop lag. */
  process: {
    residentBytes: number;
    heapUsedBytes: number;
    heapTotalBytes: number;
    eventLoopLagSeconds: number;
    eventLoopLagMaxSeconds: number;
  };
  /** The cluster link and its counters; absent when the server is alone. */
  cluster?: ClusterStats;
}

interface Family {
  name: string;
  type: "counter" | "gauge" | "histogram";
  help: string;
  /** Each sample: its name's suffix (`_bucket`...), its labels, its value. */
  samples: [labels: string, value: number, suffix?: string][];
}

/**
 * Renders server statistics as Prometheus text exposition format 0.0.4.
 * Tokens never appear: the statistics hold none.
 *
 * @param stats a snapshot of the server's counters
 * @returns the metrics text
 */
export function renderMetrics(stats: ServerStats): string {
  const perListener = (pick: (l: ServerStats["listeners"][number]) => number) =>
    stats.listeners.map((l): [string, number] => [
      `{listener="${escapeLabel(l.url)}"}`,
      pick(l),
    ]);
  const families: Family[] = [
    {
      name: "mist_connections",
      type: "gauge",
      help: "Connections open now.",
      samples: perListener((l) => l.connections),
    },
    {
      name: "mist_connections_accepted_total",
      type: "counter",
      help: "Connections accepted since start.",
      samples: perListener((l) => l.accepted),
    },
    {
      name: "mist_messages_received_total",
      type: "counter",
      help: "Messages published by clients of the listener.",
      samples: perListener((l) => l.received),
    },
    {
      name: "mist_messages_delivered_total",
      type: "counter",
      help: "Messages queued for delivery to clients of the listener.",
      samples: perListener((l) => l.delivered),
    },
    {
      name: "mist_messages_dropped_total",
      type: "counter",
      help: "Messages dropped because a client read too slowly.",
      samples: perListener((l) => l.dropped),
    },
    {
      name: "mist_bytes_received_total",
      type: "counter",
      help: "Bytes read from clients of the listener.",
      samples: perListener((l) => l.bytesReceived),
    },
    {
      name: "mist_bytes_sent_total",
      type: "counter",
      help: "Bytes written to clients of the listener.",
      samples: perListener((l) => l.bytesSent),
    },
    {
      name: "mist_flush_seconds",
      type: "histogram",
      help:
        "Seconds one write of queued frames to a client's transport takes, for one write in 16 per connection.",
      samples: stats.listeners.flatMap((l) => {
        const listener = `listener="${escapeLabel(l.url)}"`;
        const h = l.flushSeconds;
        const counts = h.cumulative();
        const samples: Family["samples"] = h.bounds.map((bound, i) => [
          `{${listener},le="${bound}"}`,
          counts[i]!,
          "_bucket",
        ]);
        samples.push(
          [`{${listener},le="+Inf"}`, counts[h.bounds.length]!, "_bucket"],
          [`{${listener}}`, h.sum, "_sum"],
          [`{${listener}}`, h.count, "_count"],
        );
        return samples;
      }),
    },
    {
      name: "mist_subscriptions",
      type: "gauge",
      help: "Subscriptions held over every connection.",
      samples: [["", stats.subscriptions]],
    },
    {
      name: "mist_queue_bytes",
      type: "gauge",
      help: "Bytes queued or being written now, over every connection.",
      samples: [["", stats.queuedBytes]],
    },
    {
      name: "mist_queue_peak_bytes",
      type: "gauge",
      help: "The most bytes any open connection's outbound queue has held.",
      samples: [["", stats.peakQueuedBytes]],
    },
    {
      name: "mist_auth_failures_total",
      type: "counter",
      help: "Presented tokens refused as invalid.",
      samples: [["", stats.authFailures]],
    },
    {
      name: "mist_errors_total",
      type: "counter",
      help: "Error replies sent to clients, by error code.",
      samples: SERVER_ERROR_CODES.map((code) => [
        `{code="${code}"}`,
        stats.errors[code],
      ]),
    },
    {
      name: "mist_build_info",
      type: "gauge",
      help: "1, labelled with this build's version and this node's name.",
      samples: [[
        `{version="${escapeLabel(stats.version)}",node="${
          escapeLabel(stats.node)
        }"}`,
        1,
      ]],
    },
    {
      name: "mist_event_loop_lag_seconds",
      type: "gauge",
      help: "How late the last timer of a one-second interval fired.",
      samples: [["", stats.process.eventLoopLagSeconds]],
    },
    {
      name: "mist_event_loop_lag_max_seconds",
      type: "gauge",
      help: "The largest event-loop lag measured since start.",
      samples: [["", stats.process.eventLoopLagMaxSeconds]],
    },
    {
      name: "process_resident_memory_bytes",
      type: "gauge",
      help: "Resident memory size in bytes.",
      samples: [["", stats.process.residentBytes]],
    },
    {
      name: "mist_heap_used_bytes",
      type: "gauge",
      help: "JavaScript heap in use, in bytes.",
      samples: [["", stats.process.heapUsedBytes]],
    },
    {
      name: "mist_heap_total_bytes",
      type: "gauge",
      help: "JavaScript heap allocated, in bytes.",
      samples: [["", stats.process.heapTotalBytes]],
    },
  ];
  const cluster = stats.cluster;
  if (cluster !== undefined) {
    const node = `{node="${escapeLabel(stats.node)}"}`;
    families.push(
      {
        name: "mist_cluster_up",
        type: "gauge",
        help: "1 when this node is linked to the others, else 0.",
        samples: [[node, cluster.state === "up" ? 1 : 0]],
      },
      {
        name: "mist_cluster_peers",
        type: "gauge",
        help: "Other nodes whose heartbeat was seen lately.",
        samples: [[node, cluster.peers]],
      },
      {
        name: "mist_cluster_sent_total",
        type: "counter",
        help: "Envelopes handed to the backplane.",
        samples: [[node, cluster.sent]],
      },
      {
        name: "mist_cluster_received_total",
        type: "counter",
        help: "Envelopes received from other nodes.",
        samples: [[node, cluster.received]],
      },
      {
        name: "mist_cluster_dropped_total",
        type: "counter",
        help:
          "Envelopes that could not be sent (link down, or too much in flight).",
        samples: [[node, cluster.dropped]],
      },
      {
        name: "mist_cluster_malformed_total",
        type: "counter",
        help: "Invalid envelopes received and ignored.",
        samples: [[node, cluster.malformed]],
      },
    );
  }
  let text = "";
  for (const family of families) {
    text += `# HELP ${family.name} ${family.help}\n`;
    text += `# TYPE ${family.name} ${family.type}\n`;
    for (const [labels, value, suffix = ""] of family.samples) {
      text += `${family.name}${suffix}${labels} ${value}\n`;
    }
  }
  return text;
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(
    /\n/g,
    "\\n",
  );
}
