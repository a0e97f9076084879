import assert from "node:assert/strict";
import { normalizeTags } from "./_tags.ts";

Deno.test("`normalizeTags()` sorts tags and keeps each once", async (t) => {
  const table: [string, Iterable<string>, string[]][] = [
    ["empty", [], []],
    ["one", ["a"], ["a"]],
    ["repeated", ["b", "a", "b", "a"], ["a", "b"]],
    ["by code unit, upper case first", ["b", "B", "a", "A"], [
      "A",
      "B",
      "a",
      "b",
    ]],
    ["digits before letters", ["z", "10", "9", "1"], ["1", "10", "9", "z"]],
    ["a set", new Set(["y", "x"]), ["x", "y"]],
    ["UTF-16 order, not code point", ["\u{1F600}", "\uFFFF"], [
      "\u{1F600}",
      "\uFFFF",
    ]],
  ];
  for (const [name, tags, expected] of table) {
    await t.step(name, () => assert.deepEqual(normalizeTags(tags), expected));
  }
});

Deno.test("`normalizeTags()` returns a new array and leaves its input alone", () => {
  const tags = ["b", "a", "b"];
  const normalized = normalizeTags(tags);
  assert.notEqual(normalized, tags);
  assert.deepEqual(tags, ["b", "a", "b"]);
});

Deno.test("`normalizeTags()` reads a generator once", () => {
  function* tags() {
    yield "c";
    yield "a";
    yield "c";
  }
  assert.deepEqual(normalizeTags(tags()), ["a", "c"]);
});
