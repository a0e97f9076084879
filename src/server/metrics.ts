/**
 * The server's counters in Prometheus text format (`GET /metrics`).
 *
 * @module
 */

import type { ClusterStats } from "../cluster/cluster.ts";
import type { ListenerStats } from "./transport.ts";

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

interface Family {
  name: string;
  type: "counter" | "gauge";
  help: string;
  samples: [labels: string, value: number][];
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
      name: "mist_subscriptions",
      type: "gauge",
      help: "Subscriptions held over every connection.",
      samples: [["", stats.subscriptions]],
    },
  ];
  const cluster = stats.cluster;
  if (cluster !== undefined) {
    const node = `{node="${escapeLabel(cluster.node)}"}`;
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
    for (const [labels, value] of family.samples) {
      text += `${family.name}${labels} ${value}\n`;
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
