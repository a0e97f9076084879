import assert from "node:assert/strict";
import { SetTrie, tagSet } from "./set_trie.ts";
import { random } from "../testing/random.ts";

function matches(trie: SetTrie<string>, tags: string[]): string[] {
  const seen: string[] = [];
  trie.match(tagSet(tags), (member) => seen.push(member));
  return seen.sort();
}

Deno.test("tagSet() sorts and de-duplicates", () => {
  assert.deepEqual(tagSet(["b", "a", "a"]), ["a", "b"]);
  const sorted = ["a", "b"];
  assert.equal(tagSet(sorted), sorted);
  assert.deepEqual(tagSet([]), []);
});

Deno.test("SetTrie matches subsets only", () => {
  const trie = new SetTrie<string>();
  trie.add(["onefish"], "s1");
  trie.add(["onefish", "twofish"], "s2");
  trie.add(["onefish", "redfish", "twofish"], "s3");
  assert.deepEqual(matches(trie, ["onefish"]), ["s1"]);
  assert.deepEqual(matches(trie, ["twofish", "onefish"]), ["s1", "s2"]);
  assert.deepEqual(matches(trie, ["onefish", "twofish", "redfish"]), [
    "s1",
    "s2",
    "s3",
  ]);
  assert.deepEqual(matches(trie, ["twofish"]), []);
  assert.deepEqual(matches(trie, ["redfish", "twofish"]), []);
});

Deno.test("SetTrie finds a subscription that skips the message's first tag", () => {
  // The original server's bug: a connection holding [a,x] and [b,c] missed [a,b,c].
  const trie = new SetTrie<string>();
  trie.add(["a", "x"], "conn");
  trie.add(["b", "c"], "conn");
  assert.deepEqual(matches(trie, ["a", "b", "c"]), ["conn"]);
});

Deno.test("SetTrie prunes nodes as members leave", () => {
  const trie = new SetTrie<string>();
  const abc = trie.add(["a", "b", "c"], "m1");
  const ab = trie.add(["a", "b"], "m2");
  assert.equal(trie.nodeCount, 3);
  assert.ok(trie.delete(ab, "m2"));
  assert.equal(trie.nodeCount, 3, "[a,b] still leads to [a,b,c]");
  assert.ok(!trie.delete(ab, "m2"));
  assert.ok(trie.delete(abc, "m1"));
  assert.equal(trie.nodeCount, 0);
  assert.equal(trie.find(["a"]), undefined);
  assert.deepEqual(abc.tags, ["a", "b", "c"]);
});

Deno.test("SetTrie agrees with a brute-force subset test on random workloads", () => {
  const next = random(20261122);
  const pick = (n: number) => Math.floor(next() * n);
  let checked = 0;
  for (let workload = 0; workload < 300; workload++) {
    const vocabulary = Array.from({ length: 2 + pick(10) }, (_, i) => `t${i}`);
    const randomTags = (max: number) =>
      Array.from(
        { length: 1 + pick(max) },
        () => vocabulary[pick(vocabulary.length)]!,
      );
    const trie = new SetTrie<string>();
    // The model: member -> its subscriptions as tag sets.
    const model = new Map<string, Map<string, string[]>>();
    const members = Array.from({ length: 1 + pick(12) }, (_, i) => `m${i}`);
    for (let op = 0; op < 100; op++) {
      const member = members[pick(members.length)]!;
      const roll = next();
      if (roll < 0.45) {
        const tags = tagSet(randomTags(4)) as string[];
        trie.add(tags, member);
        const subs = model.get(member) ?? new Map<string, string[]>();
        subs.set(JSON.stringify(tags), tags);
        model.set(member, subs);
      } else if (roll < 0.6) {
        const subs = [...(model.get(member)?.values() ?? [])];
        const tags = subs.length > 0 && next() < 0.8
          ? subs[pick(subs.length)]!
          : tagSet(randomTags(3)) as string[];
        const node = trie.find(tags);
        const had = model.get(member)?.delete(JSON.stringify(tags)) ?? false;
        assert.equal(node !== undefined && trie.delete(node, member), had);
      } else {
        const message = randomTags(6);
        const expected = new Set<string>();
        for (const [m, subs] of model) {
          for (const sub of subs.values()) {
            if (sub.every((tag) => message.includes(tag))) expected.add(m);
          }
        }
        const got = new Set(matches(trie, message));
        assert.deepEqual(got, expected, `workload ${workload} op ${op}`);
        checked++;
      }
    }
    // Churn back to empty: every node is pruned.
    for (const [member, subs] of model) {
      for (const tags of subs.values()) {
        assert.ok(trie.delete(trie.find(tags)!, member));
      }
    }
    assert.equal(trie.nodeCount, 0);
  }
  assert.ok(checked >= 10_000, `only ${checked} cases checked`);
});

Deno.test("SetTrie keeps members in order as a node's small set grows into a Set and shrinks", () => {
  const trie = new SetTrie<string>();
  const members = Array.from({ length: 20 }, (_, i) => `m${i}`);
  let node;
  for (const m of members) node = trie.add(["a"], m);
  trie.add(["a"], "m3"); // again: still one
  for (const m of ["m0", "m5", "m19"]) {
    assert.equal(trie.delete(node!, m), true);
  }
  assert.equal(trie.delete(node!, "m5"), false);
  const seen: string[] = [];
  trie.match(["a", "b"], (m) => seen.push(m));
  assert.deepEqual(
    seen,
    members.filter((m) => !["m0", "m5", "m19"].includes(m)),
  );
  for (const m of seen) trie.delete(node!, m);
  assert.equal(trie.nodeCount, 0);
});

Deno.test("SetTrie: a small node deletes in order and prunes when empty", () => {
  const trie = new SetTrie<string>();
  const node = trie.add(["x", "y"], "p");
  trie.add(["x", "y"], "q");
  trie.add(["x", "y"], "r");
  assert.equal(trie.delete(node, "q"), true);
  const seen: string[] = [];
  trie.match(["x", "y"], (m) => seen.push(m));
  assert.deepEqual(seen, ["p", "r"]);
  trie.delete(node, "p");
  trie.delete(node, "r");
  assert.equal(trie.nodeCount, 0);
});
