/**
 * The subscription index: a set-trie over sorted tags.
 *
 * Each subscription is a path of tags in sorted order from the root; the node
 * where it ends lists its members. A message with sorted tags T matches every
 * node reachable by following edges labelled with an increasing run of T's
 * tags, so matching explores only paths that exist and share T's tags.
 *
 * @module
 */

/**
 * A small set: an array of up to {@linkcode SMALL_SET} items, a `Set` past
 * that. Most subscriptions have one member and most connections one
 * subscription, and a one-item array costs a fraction of a `Set` (18,000 idle
 * subscribers hold two each).
 */
export type SmallSet<T> = T[] | Set<T>;

/** The most items a {@linkcode SmallSet} keeps in an array. */
export const SMALL_SET = 8;

/**
 * Adds an item to a small set.
 *
 * @param set the set, or `undefined` for none yet
 * @param item the item
 * @returns the set holding it (a new one when it grew)
 */
export function smallAdd<T>(
  set: SmallSet<T> | undefined,
  item: T,
): SmallSet<T> {
  if (set === undefined) return [item];
  if (!Array.isArray(set)) return set.add(item);
  if (set.includes(item)) return set;
  if (set.length < SMALL_SET) {
    set.push(item);
    return set;
  }
  return new Set(set).add(item);
}

/**
 * Removes an item from a small set, keeping the order of the others.
 *
 * @param set the set
 * @param item the item
 * @returns whether it was there
 */
export function smallDelete<T>(set: SmallSet<T> | undefined, item: T): boolean {
  if (set === undefined) return false;
  if (!Array.isArray(set)) return set.delete(item);
  const i = set.indexOf(item);
  if (i < 0) return false;
  set.splice(i, 1);
  return true;
}

/**
 * Whether a small set holds an item.
 *
 * @param set the set
 * @param item the item
 * @returns whether it does
 */
export function smallHas<T>(set: SmallSet<T> | undefined, item: T): boolean {
  if (set === undefined) return false;
  return Array.isArray(set) ? set.includes(item) : set.has(item);
}

/**
 * The size of a small set.
 *
 * @param set the set
 * @returns how many items it holds
 */
export function smallSize<T>(set: SmallSet<T> | undefined): number {
  if (set === undefined) return 0;
  return Array.isArray(set) ? set.length : set.size;
}

/** A node of the trie: one distinct subscription tag set. */
export class TrieNode<M> {
  /** The tag on the edge into this node (`""` for the root). */
  readonly tag: string;
  /** The parent node, `undefined` for the root. */
  readonly parent: TrieNode<M> | undefined;
  /** Children by edge tag, created on first use. */
  children: Map<string, TrieNode<M>> | undefined;
  /** Members whose subscription is exactly this node's path. */
  members: SmallSet<M> | undefined;

  /**
   * @param tag the tag on the edge into this node
   * @param parent the parent node
   */
  constructor(tag: string, parent: TrieNode<M> | undefined) {
    this.tag = tag;
    this.parent = parent;
  }

  /** The sorted tag set this node stands for. */
  get tags(): string[] {
    if (this.parent === undefined) return [];
    const tags = this.parent.tags;
    tags.push(this.tag);
    return tags;
  }
}

/**
 * Sorts and de-duplicates a tag list, the form the index works on.
 *
 * @param tags any tags
 * @returns the tag set, sorted (the input itself when it already is)
 */
export function tagSet(tags: readonly string[]): readonly string[] {
  for (let i = 1; i < tags.length; i++) {
    if (!((tags[i - 1] as string) < (tags[i] as string))) {
      return [...new Set(tags)].sort();
    }
  }
  return tags;
}

/**
 * A set-trie from tag sets to members.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SetTrie } from "./set_trie.ts";
 * const trie = new SetTrie<string>();
 * trie.add(["a", "x"], "conn1");
 * trie.add(["b", "c"], "conn1");
 * const seen: string[] = [];
 * trie.match(["a", "b", "c"], (m) => seen.push(m));
 * assert.deepEqual(seen, ["conn1"]); // from [b,c]; [a,x] needs x
 * ```
 */
export class SetTrie<M> {
  readonly #root = new TrieNode<M>("", undefined);
  #nodes = 0;

  /** The number of nodes besides the root: 0 exactly when the trie is empty. */
  get nodeCount(): number {
    return this.#nodes;
  }

  /**
   * Adds a member under a tag set.
   *
   * @param tags the tag set, sorted and de-duplicated ({@linkcode tagSet})
   * @param member the member
   * @returns the node of the tag set
   */
  add(tags: readonly string[], member: M): TrieNode<M> {
    let node = this.#root;
    for (const tag of tags) {
      node.children ??= new Map();
      let child = node.children.get(tag);
      if (child === undefined) {
        child = new TrieNode(tag, node);
        node.children.set(tag, child);
        this.#nodes++;
      }
      node = child;
    }
    node.members = smallAdd(node.members, member);
    return node;
  }

  /**
   * Finds the node of a tag set.
   *
   * @param tags the tag set, sorted and de-duplicated
   * @returns the node, or `undefined` when no subscription has reached it
   */
  find(tags: readonly string[]): TrieNode<M> | undefined {
    let node: TrieNode<M> | undefined = this.#root;
    for (const tag of tags) {
      node = node.children?.get(tag);
      if (node === undefined) return undefined;
    }
    return node;
  }

  /**
   * Removes a member from a node and prunes the nodes left empty.
   *
   * @param node a node returned by {@linkcode SetTrie.add}
   * @param member the member to remove
   * @returns whether the member was there
   */
  delete(node: TrieNode<M>, member: M): boolean {
    if (!smallDelete(node.members, member)) return false;
    if (smallSize(node.members) === 0) node.members = undefined;
    let current = node;
    while (
      current.parent !== undefined && current.members === undefined &&
      (current.children === undefined || current.children.size === 0)
    ) {
      const parent: TrieNode<M> = current.parent;
      parent.children!.delete(current.tag);
      if (parent.children!.size === 0) parent.children = undefined;
      this.#nodes--;
      current = parent;
    }
    return true;
  }

  /**
   * Visits the members of every tag set that is a subset of the given tags. A
   * member under several matching sets is visited once per set.
   *
   * @param tags the message's tag set, sorted and de-duplicated
   * @param visit called for each member of each matching node
   */
  match(tags: readonly string[], visit: (member: M) => void): void {
    this.#walk(this.#root, tags, 0, visit);
  }

  #walk(
    node: TrieNode<M>,
    tags: readonly string[],
    from: number,
    visit: (member: M) => void,
  ): void {
    const members = node.members;
    if (members !== undefined) {
      if (Array.isArray(members)) {
        for (let i = 0; i < members.length; i++) visit(members[i] as M);
      } else {
        for (const member of members) visit(member);
      }
    }
    const children = node.children;
    if (children === undefined) return;
    for (let i = from; i < tags.length; i++) {
      const child = children.get(tags[i] as string);
      if (child !== undefined) this.#walk(child, tags, i + 1, visit);
    }
  }
}
