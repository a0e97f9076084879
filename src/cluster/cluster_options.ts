/**
 * How a cluster node is set up, what it counts, and the handlers it calls:
 * the types of `cluster.ts`, in a module of their own.
 *
 * @module
 */

import { PEER_TIMEOUT_INTERVALS } from "./_peers.ts";
import type { Backplane, LinkState } from "./backplane.ts";

/** How often a node says it is alive, by default: every 2 s. */
export const DEFAULT_HEARTBEAT_MS = 2000;

export { PEER_TIMEOUT_INTERVALS };

/** How many tokens' grants a node keeps to resend while its link is down, by default. */
export const DEFAULT_MAX_PENDING_GRANTS = 10_000;

/** How a {@linkcode Cluster} is set up. */
export interface ClusterOptions {
  /** What carries the envelopes. */
  backplane: Backplane;
  /**
   * This node's id, unique in the cluster: envelopes carrying it are taken
   * for this node's own echoes and ignored. A server passes its node name
   * (`ServeOptions.nodeName`), stable across restarts; default: 16 random
   * hex digits. When another node uses the same id, each drops the other's
   * messages; the node logs an error once it notices (it hears more
   * heartbeats with its id than it sent).
   */
  node?: string;
  /** Milliseconds between heartbeats (default {@linkcode DEFAULT_HEARTBEAT_MS}). */
  heartbeatMs?: number;
  /**
   * Most tokens whose latest grants are kept, while the link is down, to be
   * sent once it is back (default {@linkcode DEFAULT_MAX_PENDING_GRANTS}).
   */
  maxPendingGrants?: number;
}

/** A snapshot of a node's cluster link and counters. */
export interface ClusterStats {
  /** This node's id. */
  node: string;
  /** Whether this node is linked to the others now. */
  state: LinkState;
  /** Other nodes whose heartbeat was seen lately. */
  peers: number;
  /** Message and grants envelopes handed to the backplane. */
  sent: number;
  /** Message and grants envelopes received from other nodes. */
  received: number;
  /**
   * Envelopes that could not be sent: refused while the link was down or
   * too much was in flight, or lost in flight when the link broke.
   */
  dropped: number;
  /** Envelopes received that were not valid, and ignored. */
  malformed: number;
  /** Tokens whose grants wait for the link to come back. */
  pendingGrants: number;
}

/** Receives the messages published on other nodes. */
export type ClusterMessageHandler = (
  tags: readonly string[],
  data: string,
) => void;

/**
 * Receives a token's grants changed on another node.
 *
 * @param digest the token's SHA-256 hex digest (see `tokenDigest`)
 * @param tags every tag the token grants now, or `null` when it was unregistered
 */
export type ClusterGrantsHandler = (
  digest: string,
  tags: readonly string[] | null,
) => void;
