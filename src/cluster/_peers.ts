/**
 * The other nodes of a cluster this node heard from lately, by heartbeat.
 *
 * @module
 */

import { getLogger } from "npm:@logtape/logtape@^2.4.2";
import type { HeartbeatEnvelope } from "./envelope.ts";

const log = getLogger(["mist", "cluster"]);

/** A peer is alive while its last heartbeat is younger than this many of its intervals. */
export const PEER_TIMEOUT_INTERVALS = 3;

interface Peer {
  seen: number;
  interval: number;
}

/**
 * Live peers: each heartbeat renews one; one silent for
 * {@linkcode PEER_TIMEOUT_INTERVALS} of its own intervals is forgotten.
 * Joins and departures are logged once each.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PeerTable } from "./_peers.ts";
 * const peers = new PeerTable();
 * peers.heard({ kind: "heartbeat", node: "b", interval: 1000 });
 * assert.deepEqual(peers.ids(), ["b"]);
 * ```
 */
export class PeerTable {
  readonly #peers = new Map<string, Peer>();

  /**
   * Renews (or adds) the peer a heartbeat comes from.
   *
   * @param heartbeat the peer's heartbeat
   */
  heard(heartbeat: HeartbeatEnvelope): void {
    if (!this.#peers.has(heartbeat.node)) {
      log.info("Cluster peer {peer} joined", { peer: heartbeat.node });
    }
    this.#peers.set(heartbeat.node, {
      seen: performance.now(),
      interval: heartbeat.interval,
    });
  }

  /**
   * The peers alive now.
   *
   * @returns their ids, sorted
   */
  ids(): string[] {
    this.prune();
    return [...this.#peers.keys()].sort();
  }

  /** How many peers are alive now. */
  get size(): number {
    this.prune();
    return this.#peers.size;
  }

  /** Forgets the peers whose heartbeats stopped. */
  prune(): void {
    const now = performance.now();
    for (const [node, peer] of this.#peers) {
      if (now - peer.seen > PEER_TIMEOUT_INTERVALS * peer.interval) {
        this.#peers.delete(node);
        log.info("Cluster peer {peer} left: no heartbeat for {seconds} s", {
          peer: node,
          seconds: Math.round((now - peer.seen) / 100) / 10,
        });
      }
    }
  }
}
