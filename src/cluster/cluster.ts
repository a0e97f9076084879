/**
 * The cluster logic every backplane shares: this node's id, envelopes out and
 * in, dropping this node's own echoes, heartbeats and live peers, counters and
 * the link state.
 *
 * @module
 */

import { getLogger } from "npm:@logtape/logtape@^2.4.2";
import { errorText, positiveInteger } from "../_util/text.ts";
import { PeerTable } from "./_peers.ts";
import type { Backplane, LinkState } from "./backplane.ts";
import {
  type ClusterGrantsHandler,
  type ClusterMessageHandler,
  type ClusterOptions,
  type ClusterStats,
  DEFAULT_HEARTBEAT_MS,
  DEFAULT_MAX_PENDING_GRANTS,
} from "./cluster_options.ts";
import { decodeEnvelope, encodeEnvelope, type Envelope } from "./envelope.ts";

const log = getLogger(["mist", "cluster"]);

/**
 * One node of a cluster: sends this node's envelopes through a backplane and
 * hands other nodes' envelopes to handlers; its own come back through the
 * backplane and are ignored.
 *
 * Sending never blocks nor waits for the backplane: an envelope the backplane
 * refuses is counted as dropped, except a token's grants, whose latest value
 * is kept (for a bounded number of tokens) and sent when the link is back.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Cluster } from "./cluster.ts";
 * import { MemoryBus } from "./backplane_memory.ts";
 * import { eventually } from "../testing/eventually.ts";
 * const bus = new MemoryBus();
 * const a = new Cluster({ backplane: bus.attach() });
 * const b = new Cluster({ backplane: bus.attach() });
 * const received: unknown[] = [];
 * b.onMessage((tags, data) => received.push([tags, data]));
 * a.start();
 * b.start();
 * a.publishMessage(["news"], "hello"); // b receives it; a ignores its own
 * await eventually(() => received.length > 0, "b to receive it");
 * assert.deepEqual(received, [[["news"], "hello"]]);
 * await a.close();
 * await b.close();
 * ```
 */
export class Cluster implements AsyncDisposable {
  /** This node's id. */
  readonly node: string;
  /** Milliseconds between heartbeats. */
  readonly heartbeatMs: number;
  readonly #backplane: Backplane;
  readonly #maxPendingGrants: number;
  readonly #peers = new PeerTable();
  readonly #pendingGrants = new Map<string, string>();
  readonly #heartbeat: string;
  #onMessage: ClusterMessageHandler = () => {};
  #onGrants: ClusterGrantsHandler = () => {};
  #onState: (state: LinkState) => void = () => {};
  #timer: ReturnType<typeof setInterval> | undefined;
  #started = false;
  #closing: Promise<void> | undefined;
  #sent = 0;
  #received = 0;
  #dropped = 0;
  #malformed = 0;
  /** Heartbeats this node sent, and those with its id it heard back. */
  #heartbeatsSent = 0;
  #heartbeatsHeard = 0;
  #twinLogged = false;

  /**
   * Builds a node without starting it.
   *
   * @param options the set-up
   * @throws {RangeError} for a heartbeat interval or a pending-grants bound
   *   that is not a positive integer
   * @throws {TypeError} for an empty node id
   */
  constructor(options: ClusterOptions) {
    this.#backplane = options.backplane;
    this.node = options.node ?? randomNodeId();
    if (this.node === "") throw new TypeError("Node id must not be empty");
    this.heartbeatMs = positiveInteger(
      "heartbeatMs",
      options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS,
    );
    this.#maxPendingGrants = positiveInteger(
      "maxPendingGrants",
      options.maxPendingGrants ?? DEFAULT_MAX_PENDING_GRANTS,
    );
    this.#heartbeat = encodeEnvelope({
      kind: "heartbeat",
      node: this.node,
      interval: this.heartbeatMs,
    });
  }

  /** Whether this node is linked to the others now. */
  get state(): LinkState {
    return this.#backplane.state;
  }

  /** Where the backplane leads, for logs (never holds a password). */
  get description(): string {
    return this.#backplane.description;
  }

  /**
   * Sets what receives the messages published on other nodes (replacing any before).
   *
   * @param handler called with each message's tags and data
   */
  onMessage(handler: ClusterMessageHandler): void {
    this.#onMessage = handler;
  }

  /**
   * Sets what receives grants changed on other nodes (replacing any before).
   *
   * @param handler called with the token's digest and its tags now (`null`: unregistered)
   */
  onGrants(handler: ClusterGrantsHandler): void {
    this.#onGrants = handler;
  }

  /**
   * Sets what is told when the link goes up or down (replacing any before).
   *
   * @param handler called with the new state
   */
  onState(handler: (state: LinkState) => void): void {
    this.#onState = handler;
  }

  /**
   * Starts linking in the background and sending heartbeats; returns at once.
   * Idempotent.
   */
  start(): void {
    if (this.#started || this.#closing !== undefined) return;
    this.#started = true;
    log.info("Cluster node {node} joining through {backplane}", {
      node: this.node,
      backplane: this.#backplane.description,
    });
    this.#timer = setInterval(() => this.#tick(), this.heartbeatMs);
    this.#backplane.start({
      receive: (payload) => this.#receive(payload),
      state: (state, reason) => this.#changed(state, reason),
      lost: (count) => {
        this.#dropped += count;
      },
    });
  }

  /**
   * Sends a message published on this node to the other nodes.
   *
   * @param tags the message's tags as published
   * @param data the payload
   * @returns whether the backplane took it; when not, it is counted as dropped
   */
  publishMessage(tags: readonly string[], data: string): boolean {
    return this.#send({ kind: "message", node: this.node, tags, data });
  }

  /**
   * Tells the other nodes that a token's grants changed, so that they apply
   * revocations to their own connections. While the link is down the latest
   * grants of each token are kept (up to `maxPendingGrants` tokens) and sent
   * once it is back.
   *
   * @param digest the token's SHA-256 hex digest (`tokenDigest`):
   *   the token itself never reaches the cluster
   * @param tags every tag the token grants after the change, or `null` when it was unregistered
   * @returns whether the backplane took it now
   * @throws {TypeError} when `digest` is not a SHA-256 hex digest
   */
  publishGrants(digest: string, tags: readonly string[] | null): boolean {
    if (!/^[0-9a-f]{64}$/.test(digest)) {
      throw new TypeError("publishGrants() takes a token's SHA-256 hex digest");
    }
    const payload = encodeEnvelope({
      kind: "grants",
      node: this.node,
      token: digest,
      tags: tags === null ? null : [...tags],
    });
    this.#pendingGrants.delete(digest);
    if (this.#closing === undefined && this.#backplane.publish(payload)) {
      this.#sent++;
      return true;
    }
    if (this.#closing !== undefined) {
      this.#dropped++;
    } else if (this.#pendingGrants.size >= this.#maxPendingGrants) {
      this.#dropped++;
      log.error(
        "Cluster link down and {count} tokens' grants already wait: a grants change is dropped, other nodes keep the old grants of that token",
        { count: this.#pendingGrants.size },
      );
    } else {
      this.#pendingGrants.set(digest, payload);
    }
    return false;
  }

  /**
   * The ids of the other nodes whose heartbeat was seen lately.
   *
   * @returns their ids, sorted
   */
  peers(): string[] {
    return this.#peers.ids();
  }

  /**
   * This node's cluster counters now.
   *
   * @returns a snapshot
   */
  stats(): ClusterStats {
    return {
      node: this.node,
      state: this.#backplane.state,
      peers: this.#peers.size,
      sent: this.#sent,
      received: this.#received,
      dropped: this.#dropped,
      malformed: this.#malformed,
      pendingGrants: this.#pendingGrants.size,
    };
  }

  /** Stops heartbeats and closes the backplane. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      clearInterval(this.#timer);
      this.#timer = undefined;
      await this.#backplane.close();
      if (this.#started) {
        log.info("Cluster node {node} left", { node: this.node });
      }
    })();
    return this.#closing;
  }

  /** Closes the node (`await using`). */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #send(envelope: Envelope): boolean {
    if (
      this.#closing === undefined &&
      this.#backplane.publish(encodeEnvelope(envelope))
    ) {
      this.#sent++;
      return true;
    }
    this.#dropped++;
    return false;
  }

  #receive(payload: string): void {
    let envelope: Envelope;
    try {
      envelope = decodeEnvelope(payload);
    } catch (err) {
      this.#malformed++;
      const level = this.#malformed === 1 ? "warn" : "debug";
      log[level](
        "Ignoring a malformed cluster envelope ({count} so far): {reason}",
        {
          count: this.#malformed,
          reason: errorText(err),
        },
      );
      return;
    }
    if (envelope.node === this.node) {
      // Delivered locally already; but hearing more heartbeats with this id
      // than were sent means another node has it too.
      if (
        envelope.kind === "heartbeat" &&
        ++this.#heartbeatsHeard > this.#heartbeatsSent && !this.#twinLogged
      ) {
        this.#twinLogged = true;
        log.error(
          "Another cluster node uses this node's id {node}: each ignores the other's messages; give every node its own node name",
          { node: this.node },
        );
      }
      return;
    }
    try {
      switch (envelope.kind) {
        case "message":
          this.#received++;
          this.#onMessage(envelope.tags, envelope.data);
          return;
        case "grants":
          this.#received++;
          this.#onGrants(envelope.token, envelope.tags);
          return;
        case "heartbeat":
          this.#peers.heard(envelope);
          return;
      }
    } catch (err) {
      // A handler's failure must never reach the backplane's reader.
      log.error("Handling a {kind} envelope from node {peer} failed: {error}", {
        kind: envelope.kind,
        peer: envelope.node,
        error: err,
      });
    }
  }

  #tick(): void {
    if (this.#backplane.state === "up") this.#beat();
    this.#peers.prune();
  }

  #beat(): void {
    // Counted first: a backplane may echo it before publish returns.
    this.#heartbeatsSent++;
    if (!this.#backplane.publish(this.#heartbeat)) this.#heartbeatsSent--;
  }

  #changed(state: LinkState, reason: string | undefined): void {
    if (this.#closing !== undefined) return;
    if (state === "up") {
      log.info("Cluster link up through {backplane}", {
        backplane: this.#backplane.description,
      });
      this.#beat();
      this.#resendGrants();
    } else {
      log.warn(
        "Cluster link down through {backplane}: {reason}; serving local connections only, retrying",
        {
          backplane: this.#backplane.description,
          reason: reason ?? "unknown reason",
        },
      );
    }
    this.#onState(state);
  }

  #resendGrants(): void {
    for (const [digest, payload] of this.#pendingGrants) {
      if (!this.#backplane.publish(payload)) return;
      this.#pendingGrants.delete(digest);
      this.#sent++;
    }
  }
}

function randomNodeId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
