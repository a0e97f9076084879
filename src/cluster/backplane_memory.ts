/**
 * An in-process backplane: N nodes in one process, for tests. The bus can be
 * made to fail as a whole, or one node can be cut off from it.
 *
 * @module
 */

import type { Backplane, BackplaneHandlers, LinkState } from "./backplane.ts";

/** How the bus drives a link, kept out of the link's public surface. */
interface LinkControl {
  /** Recomputes the link's state and reports a change. */
  update(): void;
  /** Delivers a payload on a later microtask, if the link is still up then. */
  enqueue(payload: string): void;
}

const controls = new WeakMap<MemoryLink, LinkControl>();

/**
 * A bus that links every {@linkcode MemoryLink} attached to it, like a Redis
 * channel links its subscribers: a payload reaches every linked node, the
 * publisher's included, asynchronously and in publish order.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemoryBus } from "./backplane_memory.ts";
 * const bus = new MemoryBus();
 * const a = bus.attach(), b = bus.attach();
 * const received: string[] = [];
 * b.start({ receive: (p) => received.push(p), state() {}, lost() {} });
 * a.start({ receive() {}, state() {}, lost() {} });
 * // serve({ backplane: a, ... }) and serve({ backplane: b, ... }) form a cluster.
 * assert.equal(a.publish("hello"), true);
 * bus.fail(); // every link goes down: publishes are refused
 * assert.equal(a.publish("lost"), false);
 * bus.restore(); // and back up
 * await a.close();
 * await b.close();
 * ```
 */
export class MemoryBus {
  readonly #links = new Set<MemoryLink>();
  #failed = false;

  /** Whether the bus has been made to fail. */
  get failed(): boolean {
    return this.#failed;
  }

  /**
   * A new backplane on this bus, for one node.
   *
   * @returns the node's link; start it through a cluster
   */
  attach(): MemoryLink {
    const link = new MemoryLink(this, this.#links.size + 1);
    this.#links.add(link);
    return link;
  }

  /** Takes every link down: publishes are refused until {@linkcode MemoryBus.restore}. */
  fail(): void {
    this.#failed = true;
    for (const link of this.#links) controls.get(link)!.update();
  }

  /** Brings every link that is not cut back up. */
  restore(): void {
    this.#failed = false;
    for (const link of this.#links) controls.get(link)!.update();
  }

  /**
   * Delivers a payload to every linked node, as if some node had published
   * it (links publish through it; tests inject malformed envelopes with it).
   *
   * @param payload any text
   */
  inject(payload: string): void {
    for (const link of this.#links) controls.get(link)!.enqueue(payload);
  }
}

/** One node's backplane on a {@linkcode MemoryBus}. */
export class MemoryLink implements Backplane {
  readonly #bus: MemoryBus;
  readonly #number: number;
  #handlers: BackplaneHandlers | undefined;
  #state: LinkState = "down";
  #cut = false;
  #closed = false;

  /**
   * Use {@linkcode MemoryBus.attach}.
   *
   * @param bus the bus
   * @param number the link's number on the bus, for its description
   */
  constructor(bus: MemoryBus, number: number) {
    this.#bus = bus;
    this.#number = number;
    controls.set(this, {
      update: () => this.#update(),
      enqueue: (payload) => this.#enqueue(payload),
    });
  }

  /** The link's state now. */
  get state(): LinkState {
    return this.#state;
  }

  /** `memory-bus#N`. */
  get description(): string {
    return `memory-bus#${this.#number}`;
  }

  /**
   * Links to the bus (at once, unless the bus failed or the link is cut).
   *
   * @param handlers where arrivals and state changes are reported
   * @throws {Error} when started twice
   */
  start(handlers: BackplaneHandlers): void {
    if (this.#handlers !== undefined) {
      throw new Error("Backplane already started");
    }
    this.#handlers = handlers;
    this.#update();
  }

  /** Cuts this node off the bus (a partition) until {@linkcode MemoryLink.restore}. */
  cut(): void {
    this.#cut = true;
    this.#update();
  }

  /** Ends a {@linkcode MemoryLink.cut}. */
  restore(): void {
    this.#cut = false;
    this.#update();
  }

  /**
   * Sends a payload to every linked node, this one included.
   *
   * @param payload an encoded envelope
   * @returns `false` when the link is down
   */
  publish(payload: string): boolean {
    if (this.#state !== "up") return false;
    this.#bus.inject(payload);
    return true;
  }

  /** Leaves the bus: nothing is delivered to or sent from it anymore. Idempotent. */
  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#update();
    }
    return Promise.resolve();
  }

  #update(): void {
    const state: LinkState = this.#handlers !== undefined && !this.#closed &&
        !this.#cut && !this.#bus.failed
      ? "up"
      : "down";
    if (state === this.#state) return;
    this.#state = state;
    if (!this.#closed) {
      this.#handlers?.state(
        state,
        state === "down" ? (this.#cut ? "cut off" : "bus failed") : undefined,
      );
    }
  }

  #enqueue(payload: string): void {
    if (this.#state !== "up") return;
    queueMicrotask(() => {
      if (this.#state === "up") this.#handlers?.receive(payload);
    });
  }
}
