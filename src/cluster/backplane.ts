/**
 * The backplane boundary: what carries envelopes between the nodes of a
 * cluster, and the registry of implementations by URL scheme (`redis:`,
 * `rediss:`; see `builtin.ts`). A backplane moves encoded envelopes (one-line
 * strings); what they mean is the `Cluster`'s business, shared by every
 * backplane.
 *
 * @module
 */

import { Registry } from "../_util/registry.ts";

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
 * Contract, checked for every implementation by `src/testing/backplane_suite.ts`:
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

/** How {@linkcode openBackplane} sets up a backplane, whatever its scheme. */
export interface BackplaneOptions {
  /**
   * The cluster's name: clusters of different names can share one transport
   * without seeing each other (default: the implementation's, `"mist"` for Redis).
   */
  name?: string | undefined;
}

/**
 * Builds a backplane for a URL of its scheme, without linking yet (the cluster
 * calls {@linkcode Backplane.start}).
 *
 * @param url e.g. `redis://127.0.0.1:6379/0`
 * @param options the cluster's name
 * @returns the backplane
 * @throws {TypeError} for a URL it cannot use, with a message that never
 *   repeats the URL (it may hold a password)
 */
export type BackplaneFactory = (
  url: URL,
  options: BackplaneOptions,
) => Backplane;

const backplanes = new Registry<BackplaneFactory>("backplane");

/**
 * Registers a backplane factory under a URL scheme, replacing any before it.
 *
 * @param scheme the scheme without `:`, e.g. `"redis"` (matched case-insensitively)
 * @param factory what builds a backplane of that scheme
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemoryBus } from "./backplane_memory.ts";
 * import { openBackplane, registerBackplane } from "./backplane.ts";
 * const bus = new MemoryBus();
 * registerBackplane("bus", () => bus.attach());
 * assert.equal(openBackplane("bus://").description, "memory-bus#1");
 * ```
 */
export function registerBackplane(
  scheme: string,
  factory: BackplaneFactory,
): void {
  backplanes.register(scheme, factory);
}

/**
 * Builds the backplane a URL names, through the factory registered for its
 * scheme (import `builtin.ts` for `redis:` and `rediss:`). It does not link
 * yet: a cluster starts it.
 *
 * @param url e.g. `redis://:PASSWORD@cache.internal:6379/0`
 * @param options the cluster's name
 * @returns the backplane
 * @throws {TypeError} for a string that is not a URL, a scheme nobody
 *   registered, or a URL its factory refuses; no message repeats the URL
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { openBackplane } from "./backplane.ts";
 * assert.throws(() => openBackplane("ftp://u:secret@host"), {
 *   name: "TypeError",
 *   message: /^Invalid cluster URL scheme "ftp:"/,
 * });
 * ```
 */
export function openBackplane(
  url: string,
  options: BackplaneOptions = {},
): Backplane {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // Not echoed: the URL may hold a password.
    throw new TypeError(`Invalid cluster URL: not a URL; ${knownSchemes()}`);
  }
  const factory = backplanes.get(parsed.protocol);
  if (factory === undefined) {
    throw new TypeError(
      `Invalid cluster URL scheme "${parsed.protocol}": ${knownSchemes()}`,
    );
  }
  return factory(parsed, options);
}

function knownSchemes(): string {
  const schemes = backplanes.schemes();
  return schemes.length === 0
    ? "no backplane is registered"
    : `expected one of ${schemes.map((s) => `${s}://`).join(", ")}`;
}
