/**
 * The set-trie against a linear scan of every subscription, at 1k, 100k and 1M
 * subscriptions: the cost of matching one published message.
 */

import { SetTrie, tagSet } from "../src/core/set_trie.ts";
import { random } from "../src/testing/random.ts";

for (const size of [1_000, 100_000, 1_000_000]) {
  const next = random(size);
  const vocabulary = Array.from(
    { length: Math.max(100, size / 10) },
    (_, i) => `tag:${i}`,
  );
  const randomTags = (n: number) =>
    tagSet(
      Array.from({ length: n }, () =>
        vocabulary[Math.floor(next() * vocabulary.length)]!),
    );
  const subscriptions = Array.from(
    { length: size },
    () => randomTags(1 + Math.floor(next() * 3)),
  );
  const trie = new SetTrie<number>();
  subscriptions.forEach((tags, i) => trie.add(tags, i));
  // Messages carry 4 tags; half of them reuse a subscription's tags, so they match.
  const messages = Array.from(
    { length: 1024 },
    (_, i) =>
      i % 2 === 0
        ? tagSet([
          ...subscriptions[Math.floor(next() * size)]!,
          ...randomTags(2),
        ])
        : randomTags(4),
  );
  let m = 0;
  let sink = 0;
  const group = `match, ${size.toLocaleString("en")} subscriptions`;

  Deno.bench(`linear scan (${size})`, { group, baseline: true }, () => {
    const tags = new Set(messages[m++ & 1023]);
    for (let i = 0; i < subscriptions.length; i++) {
      if (subscriptions[i]!.every((tag) => tags.has(tag))) sink++;
    }
  });

  Deno.bench(`set-trie (${size})`, { group }, () => {
    trie.match(messages[m++ & 1023]!, () => sink++);
  });
}
