/**
 * Matching replies to requests, with correlation ids (docs/protocol.md §5) or, for
 * a server that never acknowledges (the original mist), with ping barriers.
 * Pure: no I/O, no timers.
 *
 * With ids, every request carries an `id` and gets exactly one reply with it,
 * except one the server could not read (`message too large`): its error comes
 * without an id, and answers the oldest request waiting, since a server answers
 * a connection's requests in order.
 *
 * Without them, a server answers requests in order and only some of them: a
 * `ping` always (its pong), others only on error or when they have a reply.
 * So each request but `ping` is sent followed by a `ping`: a reply or error
 * naming the request's command that arrives before that pong is the request's
 * answer, and the pong says the server has applied it.
 *
 * @module
 */

import type { MistError } from "../protocol/errors.ts";
import type { Message } from "../protocol/codec.ts";
import { replyError } from "../protocol/inbound.ts";

/**
 * How replies are matched: by id, by ping barriers (`legacy`), or `detect`,
 * which sends ids and switches to whichever the first reply shows.
 */
export type CorrelationMode = "detect" | "ids" | "legacy";

/** A request waiting for its answer. */
export interface PendingRequest {
  /** The request, without an id. */
  readonly request: Message;
  /** Whether it was answered, failed or timed out already. */
  readonly settled: boolean;
  /**
   * Completes the request.
   *
   * @param reply its reply, or `undefined` when it has none (ping barriers)
   */
  resolve(reply: Message | undefined): void;
  /**
   * Fails the request.
   *
   * @param error why
   */
  reject(error: MistError): void;
}

interface Entry {
  /** `undefined` for a barrier ping the correlator added. */
  readonly pending: PendingRequest | undefined;
  readonly isPing: boolean;
  answer?: Message;
}

const BARRIER = JSON.stringify({ command: "ping" });

/**
 * Matches the replies of one connection to its requests.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Correlator } from "./correlator.ts";
 * let id = 0;
 * const correlator = new Correlator("legacy", () => ++id);
 * let applied = false;
 * const pending = {
 *   request: { command: "subscribe", tags: ["a"] },
 *   settled: false,
 *   resolve() {
 *     applied = true;
 *   },
 *   reject() {},
 * };
 * assert.deepEqual(correlator.encode(pending), [
 *   '{"command":"subscribe","tags":["a"]}',
 *   '{"command":"ping"}', // the barrier
 * ]);
 * // The pong of the barrier: the server has applied the subscribe.
 * assert.equal(correlator.accept({ command: "ping", tags: [], data: "pong" }), true);
 * assert.equal(applied, true);
 * assert.equal(correlator.waiting, 0);
 * ```
 */
export class Correlator {
  #mode: CorrelationMode;
  readonly #nextId: () => number;
  readonly #byId = new Map<string | number, Entry>();
  #fifo: Entry[] = [];

  /**
   * @param mode how to match replies
   * @param nextId gives each request a fresh id (unique for the client, so a
   *   late reply can never be taken for another request's)
   */
  constructor(mode: CorrelationMode, nextId: () => number) {
    this.#mode = mode;
    this.#nextId = nextId;
  }

  /** How replies are matched now; `detect` until the first reply. */
  get mode(): CorrelationMode {
    return this.#mode;
  }

  /** Requests sent and not answered yet (barriers included). */
  get waiting(): number {
    return this.#mode === "ids" ? this.#byId.size : this.#fifo.length;
  }

  /**
   * The frames that send a request, in order; the request is then waited for.
   *
   * @param pending the request
   * @returns one frame, or two (the request and its barrier ping)
   */
  encode(pending: PendingRequest): string[] {
    const entry: Entry = {
      pending,
      isPing: pending.request.command === "ping",
    };
    if (this.#mode === "legacy") {
      this.#fifo.push(entry);
      if (entry.isPing) return [JSON.stringify(pending.request)];
      this.#fifo.push({ pending: undefined, isPing: true });
      return [JSON.stringify(pending.request), BARRIER];
    }
    const id = this.#nextId();
    this.#byId.set(id, entry);
    if (this.#mode === "detect") this.#fifo.push(entry);
    return [JSON.stringify({ ...pending.request, id })];
  }

  /**
   * Takes a message that is not a delivery nor a notice as the answer it is.
   *
   * @param message a message from the server
   * @returns whether it answered a request (a late reply to a request that
   *   timed out counts: requests stay here until answered or abandoned);
   *   `false` for a message nothing asked for
   */
  accept(message: Message): boolean {
    if (message.id !== undefined) {
      if (this.#mode === "legacy") return false;
      if (this.#mode === "detect") {
        this.#mode = "ids";
        this.#fifo = [];
      }
      const entry = this.#byId.get(message.id);
      if (entry === undefined) return false;
      this.#byId.delete(message.id);
      settle(entry.pending, message);
      return true;
    }
    if (this.#mode === "ids") return this.#acceptUnread(message);
    if (this.#fifo.length === 0) return false;
    if (this.#mode === "detect") {
      this.#mode = "legacy";
      this.#byId.clear();
    }
    return this.#acceptInOrder(message);
  }

  /**
   * An error reply without an id answers a request the server could not read
   * (`message too large`): the oldest one waiting, as replies come in order.
   */
  #acceptUnread(message: Message): boolean {
    if (message.error === undefined) return false;
    for (const [id, entry] of this.#byId) {
      this.#byId.delete(id);
      settle(entry.pending, message);
      return true;
    }
    return false;
  }

  #acceptInOrder(message: Message): boolean {
    const pong = message.command === "ping" && message.error === undefined;
    if (pong) {
      // Everything up to the first ping has been answered, or had no answer.
      while (this.#fifo.length > 0) {
        const entry = this.#fifo.shift()!;
        if (entry.isPing) {
          settle(entry.pending, entry.answer ?? message);
          break;
        }
        settle(entry.pending, entry.answer);
      }
      return true;
    }
    // A reply names its request's command ("" when the server could not read
    // it). Match on it rather than on position alone: the original mist writes
    // errors and other replies from different goroutines, so an error may
    // overtake the pong of an earlier ping.
    for (const entry of this.#fifo) {
      if (
        entry.answer === undefined &&
        (message.command === "" ||
          message.command === (entry.pending?.request.command ?? "ping"))
      ) {
        entry.answer = message;
        return true;
      }
    }
    return false;
  }

  /**
   * Gives up on every request still waiting: the connection is gone.
   *
   * @returns the requests not settled yet, in the order they were sent
   */
  abandon(): PendingRequest[] {
    const seen = new Set<PendingRequest>();
    for (const entry of [...this.#fifo, ...this.#byId.values()]) {
      if (entry.pending !== undefined && !entry.pending.settled) {
        seen.add(entry.pending);
      }
    }
    this.#fifo = [];
    this.#byId.clear();
    return [...seen];
  }
}

function settle(
  pending: PendingRequest | undefined,
  answer: Message | undefined,
): void {
  if (pending === undefined || pending.settled) return;
  if (answer?.error !== undefined) pending.reject(replyError(answer));
  else pending.resolve(answer);
}
