/**
 * The backplane boundary: what carries envelopes between the nodes of a
 * cluster. A backplane moves encoded envelopes (one-line strings); what they
 * mean is the `Cluster`'s business, shared by every backplane.
 *
 * @module
 */

/** Whether a node is linked to the other nodes now. */
export type LinkState = "up" | "down";

/** What a backplane reports to the cluster that started it. */
export interface BackplaneHandlers {
  /**
   * One encoded envelope arrived, from any node, this one included. Called
   * synchronously as the transport reads, in the order they were published;
   * it must not block.
   */
  receive(payload: string): void;
  /**
   * The link went up or down. Called once per change.
   *
   * @param state the new state
   * @param reason why it went down (for logs), when known
   */
  state(state: LinkState, reason?: string): void;
  /**
   * Payloads that {@linkcode Backplane.publish} had accepted could not be
   * sent after all (the link broke while they were in flight).
   *
   * @param count how many were lost
   */
  lost(count: number): void;
}

/**
 * Carries encoded envelopes to every node of a cluster, the publishing node
 * included (the cluster drops its own by node id).
 *
 * Contract, checked for every implementation by `_backplane_suite.ts`:
 * - `publish` never blocks and never queues without bound: while the link is
 *   down, or when too much is already in flight, it refuses the payload and
 *   returns `false` at once.
 * - Payloads published by one backplane arrive at every backplane in the order
 *   they were published.
 * - After `start`, the backplane links by itself and relinks after a failure,
 *   reporting each change of state once.
 */
export interface Backplane {
  /** The link's state now. */
  readonly state: LinkState;
  /** Where the backplane leads, for logs; never holds a password. */
  readonly description: string;
  /**
   * Starts linking in the background; returns at once.
   *
   * @param handlers where arrivals, state changes and losses are reported
   * @throws {Error} when started twice
   */
  start(handlers: BackplaneHandlers): void;
  /**
   * Sends one encoded envelope to every node.
   *
   * @param payload an encoded envelope (no newline in it)
   * @returns `true` when accepted, `false` when refused (link down, or too much in flight)
   */
  publish(payload: string): boolean;
  /** Unlinks and releases every resource (sockets, timers). Idempotent. */
  close(): Promise<void>;
}
