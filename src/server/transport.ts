/**
 * What a transport hands the server for each connection: where its frames are
 * written ({@linkcode Outlet}), where it comes from, and its listener's counters.
 *
 * @module
 */

import type { Principal } from "../core/principal.ts";
import type { Frame } from "../protocol/codec.ts";
import { Histogram } from "./histogram.ts";

/** The transport side of a connection: where its frames are written. */
export interface Outlet {
  /**
   * Writes frames, in order. The connection calls it again only once the
   * returned promise (if any) settles; a rejection closes the connection.
   */
  write(frames: readonly Frame[]): void | Promise<void>;
  /** Closes the transport. Called once, when the connection closes. */
  close(): void;
}

/** Counters of one listener, shared by its connections. */
export interface ListenerStats {
  /** Connections open now. */
  connections: number;
  /** Connections accepted since start. */
  accepted: number;
  /** Messages published by this listener's clients. */
  received: number;
  /** Messages queued for this listener's clients. */
  delivered: number;
  /** Messages dropped because a client's queue was full. */
  dropped: number;
  /** Bytes read from this listener's clients. */
  bytesReceived: number;
  /** Bytes written to this listener's clients. */
  bytesSent: number;
  /**
   * Seconds one write to a client's transport takes, for one write in 16 of
   * each connection (its first included).
   */
  flushSeconds: Histogram;
  /** Whether accepting connections is failing now (descriptors exhausted): retried after a pause. */
  acceptFailing: boolean;
  /** Accept errors since start. */
  acceptErrors: number;
}

/**
 * Fresh zeroed listener counters.
 *
 * @returns counters for one listener, shared by its connections
 */
export function newStats(): ListenerStats {
  return {
    connections: 0,
    accepted: 0,
    received: 0,
    delivered: 0,
    dropped: 0,
    bytesReceived: 0,
    bytesSent: 0,
    flushSeconds: new Histogram(),
    acceptFailing: false,
    acceptErrors: 0,
  };
}

/**
 * Connections accepted and open now, over several listeners.
 *
 * @param listeners the listeners, each with its counters
 * @returns the sums
 */
export function connectionCounts(
  listeners: Iterable<{ readonly stats: ListenerStats }>,
): { accepted: number; open: number } {
  let accepted = 0, open = 0;
  for (const { stats } of listeners) {
    accepted += stats.accepted;
    open += stats.connections;
  }
  return { accepted, open };
}

/** Where a connection comes from. */
export interface ConnectionInfo {
  /** The address of the listener that accepted it, e.g. `tcp://127.0.0.1:1445`. */
  readonly listener: string;
  /** The client's address. */
  readonly remote: string;
  /** The listener's counters. */
  readonly stats: ListenerStats;
}

/** How a connection is opened. Every field is optional. */
export interface OpenOptions {
  /**
   * The principal of a token the transport presented when it connected (HTTP
   * header or query parameter); without one the connection starts anonymous
   * (or open, while authentication is off).
   */
  principal?: Principal;
  /**
   * A connection for one request (`POST /publish`) or one of the server's
   * own (cluster ingress): not counted among the listener's connections.
   */
  internal?: boolean;
  /**
   * Whether what it publishes stays on this node: true for messages that came
   * from another node of the cluster.
   */
  local?: boolean;
}
