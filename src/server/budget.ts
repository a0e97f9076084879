/**
 * The subscription budget of a server: how many subscriptions it holds, and
 * how many bytes of tags, over every connection and per connection, so that
 * what clients subscribe to cannot take more memory than configured.
 *
 * The command table charges a subscription when the broker takes it and
 * refunds it when the broker lets it go (unsubscribe, revocation); a closed
 * connection releases all it held.
 *
 * @module
 */

import { positiveInteger } from "../_util/text.ts";
import { MistError } from "../protocol/errors.ts";

/** The budget's limits. */
export interface BudgetLimits {
  /** The most subscriptions held over every connection. */
  readonly maxTotalSubscriptions: number;
  /** The most bytes of subscription tags held over every connection. */
  readonly maxTotalSubscriptionBytes: number;
  /** The most bytes of subscription tags one connection may hold. */
  readonly maxSubscriptionBytes: number;
}

/** The default budget: a million subscriptions, 256 MiB of tags, 4 MiB per connection. */
export const DEFAULT_BUDGET: BudgetLimits = Object.freeze({
  maxTotalSubscriptions: 1_000_000,
  maxTotalSubscriptionBytes: 256 * 1024 * 1024,
  maxSubscriptionBytes: 4 * 1024 * 1024,
});

const encoder = new TextEncoder();

/**
 * What a subscription costs: the UTF-8 bytes of its tags, each counted once
 * (`max-tag-length` measures tags the same way).
 *
 * @param tags the subscription's tag set, sorted and de-duplicated
 * @returns its size in bytes
 */
export function subscriptionBytes(tags: readonly string[]): number {
  let bytes = 0;
  for (const tag of tags) {
    // A tag of one-byte characters only costs no encoding.
    bytes += isAscii(tag) ? tag.length : encoder.encode(tag).byteLength;
  }
  return bytes;
}

function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) > 0x7f) return false;
  }
  return true;
}

interface Held {
  count: number;
  bytes: number;
}

/**
 * Counts the subscriptions held, in total and per holder, against limits.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SubscriptionBudget } from "./budget.ts";
 * const budget = new SubscriptionBudget({
 *   maxTotalSubscriptions: 10,
 *   maxTotalSubscriptionBytes: 100,
 *   maxSubscriptionBytes: 8,
 * });
 * const alice = {};
 * budget.charge(alice, 5);
 * assert.throws(() => budget.charge(alice, 5), /subscriptions too large/);
 * budget.refund(alice, 5);
 * budget.charge(alice, 8);
 * budget.release(alice);
 * assert.deepEqual([budget.count, budget.bytes], [0, 0]);
 * ```
 */
export class SubscriptionBudget<H extends object = object> {
  /** The limits in force. */
  readonly limits: BudgetLimits;
  readonly #held = new Map<H, Held>();
  #count = 0;
  #bytes = 0;

  /**
   * @param limits the limits; unset ones keep {@linkcode DEFAULT_BUDGET}'s
   * @throws {RangeError} for a limit that is not a positive integer
   */
  constructor(
    limits: { [K in keyof BudgetLimits]?: number | undefined } = {},
  ) {
    const all = { ...DEFAULT_BUDGET };
    for (const [name, value] of Object.entries(limits)) {
      if (value !== undefined) {
        all[name as keyof BudgetLimits] = positiveInteger(name, value);
      }
    }
    this.limits = Object.freeze(all);
  }

  /** Subscriptions held, over every holder. */
  get count(): number {
    return this.#count;
  }

  /** Bytes of subscription tags held, over every holder. */
  get bytes(): number {
    return this.#bytes;
  }

  /**
   * What a holder holds.
   *
   * @param holder a connection
   * @returns its subscriptions and their bytes
   */
  held(holder: H): { count: number; bytes: number } {
    const held = this.#held.get(holder);
    return { count: held?.count ?? 0, bytes: held?.bytes ?? 0 };
  }

  /**
   * Counts a new subscription, if it fits.
   *
   * @param holder who subscribes
   * @param bytes its {@linkcode subscriptionBytes}
   * @throws {MistError} `subscriptions too large` past the holder's bytes,
   *   `too many subscriptions: server budget reached` past the server's
   *   count or bytes; nothing is counted then
   */
  charge(holder: H, bytes: number): void {
    const held = this.#held.get(holder);
    const mine = held?.bytes ?? 0;
    if (mine + bytes > this.limits.maxSubscriptionBytes) {
      throw new MistError(
        "subscriptions_too_large",
        `${mine} + ${bytes} bytes of tags > ${this.limits.maxSubscriptionBytes} per connection`,
      );
    }
    if (
      this.#count + 1 > this.limits.maxTotalSubscriptions ||
      this.#bytes + bytes > this.limits.maxTotalSubscriptionBytes
    ) {
      throw new MistError("subscription_budget");
    }
    if (held === undefined) {
      this.#held.set(holder, { count: 1, bytes });
    } else {
      held.count++;
      held.bytes += bytes;
    }
    this.#count++;
    this.#bytes += bytes;
  }

  /**
   * Gives back what one subscription cost.
   *
   * @param holder who held it
   * @param bytes its {@linkcode subscriptionBytes}
   */
  refund(holder: H, bytes: number): void {
    const held = this.#held.get(holder);
    if (held === undefined) return;
    held.count--;
    held.bytes -= bytes;
    this.#count--;
    this.#bytes -= bytes;
    if (held.count === 0) this.#held.delete(holder);
  }

  /**
   * Gives back everything a holder held (it closed).
   *
   * @param holder who leaves
   */
  release(holder: H): void {
    const held = this.#held.get(holder);
    if (held === undefined) return;
    this.#held.delete(holder);
    this.#count -= held.count;
    this.#bytes -= held.bytes;
  }
}
