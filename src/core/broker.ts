/**
 * The broker: subscriptions of every connection in one index, and
 * publish → match → fan-out. Pure: it knows subscribers only as something a
 * frame can be handed to.
 *
 * @module
 */

import { MistError } from "../protocol/errors.ts";
import { deliveryFrame, type Frame } from "../protocol/codec.ts";
import {
  SetTrie,
  smallAdd,
  smallDelete,
  smallHas,
  type SmallSet,
  smallSize,
  tagSet,
  type TrieNode,
} from "./set_trie.ts";

/** Whatever receives deliveries: a connection, in the server. */
export interface Subscriber {
  /**
   * Takes one delivery. Called synchronously during a publish, so it must only
   * queue the frame; the same frame object goes to every receiver.
   */
  deliver(frame: Frame): void;
}

class Member<S> {
  /** The last publish delivered to this member: "once per connection". */
  seq = 0;
  /** Its subscriptions' nodes: one, most often. */
  nodes: SmallSet<TrieNode<Member<S>>> | undefined;
  constructor(readonly subscriber: S) {}
}

/**
 * Routes published messages to the subscribers whose subscriptions they match.
 *
 * A subscription matches a message when every tag of the subscription is among
 * the message's tags. A message reaches each subscriber at most once, never the
 * subscriber that published it, and is serialised once however many receive it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Broker } from "./broker.ts";
 * const inbox: string[] = [];
 * const alice = { deliver: (frame: { text: string }) => inbox.push(frame.text) };
 * const broker = new Broker();
 * broker.subscribe(alice, ["onefish"]);
 * assert.equal(broker.publish(undefined, ["onefish", "twofish"], "hi"), 1);
 * assert.deepEqual(inbox, [
 *   '{"command":"publish","tags":["onefish","twofish"],"data":"hi"}',
 * ]);
 * ```
 */
export class Broker<S extends Subscriber = Subscriber> {
  readonly #trie = new SetTrie<Member<S>>();
  readonly #members = new Map<S, Member<S>>();
  #seq = 0;
  #subscriptions = 0;

  /** The number of subscriptions held, over every subscriber. */
  get subscriptionCount(): number {
    return this.#subscriptions;
  }

  /** The number of subscribers holding at least one subscription. */
  get subscriberCount(): number {
    return this.#members.size;
  }

  /** The number of index nodes: 0 exactly when the index is empty. */
  get indexSize(): number {
    return this.#trie.nodeCount;
  }

  /**
   * Adds a subscription. Subscribing twice to the same tag set is one subscription.
   *
   * @param subscriber who subscribes
   * @param tags the tags, in any order, duplicates allowed
   * @param max the most subscriptions this subscriber may hold
   * @returns whether the subscription is new
   * @throws {MistError} `too many subscriptions` when a new one would pass `max`
   */
  subscribe(
    subscriber: S,
    tags: readonly string[],
    max: number = Infinity,
  ): boolean {
    const set = tagSet(tags);
    let member = this.#members.get(subscriber);
    if (member === undefined) {
      if (max < 1) throw new MistError("too_many_subscriptions");
      member = new Member(subscriber);
      this.#members.set(subscriber, member);
    } else if (smallSize(member.nodes) >= max) {
      const node = this.#trie.find(set);
      if (node !== undefined && smallHas(member.nodes, node)) return false;
      throw new MistError("too_many_subscriptions");
    }
    const node = this.#trie.add(set, member);
    if (smallHas(member.nodes, node)) return false;
    member.nodes = smallAdd(member.nodes, node);
    this.#subscriptions++;
    return true;
  }

  /**
   * Removes the subscription whose tag set equals these tags.
   *
   * @param subscriber who unsubscribes
   * @param tags the tags, in any order
   * @returns whether there was such a subscription
   */
  unsubscribe(subscriber: S, tags: readonly string[]): boolean {
    const member = this.#members.get(subscriber);
    if (member === undefined) return false;
    const node = this.#trie.find(tagSet(tags));
    if (node === undefined || !smallHas(member.nodes, node)) return false;
    this.#drop(member, node);
    return true;
  }

  /**
   * Removes the subscriptions a predicate rejects.
   *
   * @param subscriber whose subscriptions to filter
   * @param keep called with each subscription's sorted tags
   * @returns how many were removed
   */
  retain(subscriber: S, keep: (tags: string[]) => boolean): number {
    const member = this.#members.get(subscriber);
    if (member === undefined) return 0;
    let removed = 0;
    for (const node of [...member.nodes ?? []]) {
      if (!keep(node.tags)) {
        this.#drop(member, node);
        removed++;
      }
    }
    return removed;
  }

  /**
   * Removes every subscription of a subscriber (on disconnect).
   *
   * @param subscriber who leaves
   * @returns how many subscriptions were removed
   */
  remove(subscriber: S): number {
    return this.retain(subscriber, () => false);
  }

  #drop(member: Member<S>, node: TrieNode<Member<S>>): void {
    smallDelete(member.nodes, node);
    this.#trie.delete(node, member);
    this.#subscriptions--;
    if (smallSize(member.nodes) === 0) this.#members.delete(member.subscriber);
  }

  /**
   * The subscriptions of a subscriber.
   *
   * @param subscriber whose subscriptions
   * @returns each subscription as a sorted tag array, the list sorted
   */
  subscriptions(subscriber: S): string[][] {
    const member = this.#members.get(subscriber);
    if (member === undefined) return [];
    return [...member.nodes ?? []].map((node) => node.tags).sort(
      compareTagLists,
    );
  }

  /**
   * Every distinct tag of every subscription held (`listall`).
   *
   * @returns the tags, sorted
   */
  tags(): string[] {
    const tags = new Set<string>();
    for (const member of this.#members.values()) {
      for (const node of member.nodes ?? []) {
        for (const tag of node.tags) tags.add(tag);
      }
    }
    return [...tags].sort();
  }

  /**
   * The number of subscriptions of a subscriber.
   *
   * @param subscriber whose subscriptions
   * @returns how many it holds
   */
  count(subscriber: S): number {
    return smallSize(this.#members.get(subscriber)?.nodes);
  }

  /**
   * Delivers a message to every matching subscriber but the publisher.
   *
   * @param from the publishing subscriber, or `undefined` (another node, the server)
   * @param tags the message's tags, in any order, duplicates allowed
   * @param data the payload, or the message's delivery frame when the caller
   *   has it (a canonical publish line): `{"command":"publish"}` with the
   *   sorted, distinct tags and the payload
   * @returns how many subscribers it was handed to
   */
  publish(
    from: S | undefined,
    tags: readonly string[],
    data: string | Frame,
  ): number {
    const seq = ++this.#seq;
    let frame = typeof data === "string" ? undefined : data;
    let delivered = 0;
    // Delivered sorted and without duplicates, as `list` shows tags
    // (PROTOCOL.md §3): the original's clients name events after that order.
    const set = tagSet(tags);
    this.#trie.match(set, (member) => {
      if (member.seq === seq) return;
      member.seq = seq;
      if (member.subscriber === from) return;
      frame ??= deliveryFrame(set, data as string);
      member.subscriber.deliver(frame);
      delivered++;
    });
    if (delivered > 1) frame!.shared = true;
    return delivered;
  }
}

function compareTagLists(a: string[], b: string[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i] as string, y = b[i] as string;
    if (x !== y) return x < y ? -1 : 1;
  }
  return a.length - b.length;
}
