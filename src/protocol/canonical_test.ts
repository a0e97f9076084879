import assert from "node:assert/strict";
import { random } from "../testing/random.ts";
import { tagSet } from "../core/set_trie.ts";
import { canonicalPublish } from "./canonical.ts";
import {
  type CommandRequest,
  decode,
  DEFAULT_LIMITS,
  deliveryFrame,
  type Limits,
} from "./codec.ts";
import { MistError } from "./errors.ts";

const encoder = new TextEncoder();
const LIMITS: Limits = {
  maxMessageBytes: 120,
  maxTags: 4,
  maxTagBytes: 6,
  maxSubscriptions: 10,
};

/** The general path's answer: the request, or the error's wire text. */
function general(line: Uint8Array, limits: Limits): CommandRequest | string {
  try {
    return decode(line, limits);
  } catch (err) {
    assert.ok(err instanceof MistError);
    return err.message;
  }
}

/**
 * Holds the fast path to the general one on one line: when the scanner takes
 * the line, the general path reads the same request from it, and the line is
 * byte for byte the delivery the broker would have built.
 */
function agree(line: Uint8Array, limits: Limits): boolean {
  const fast = canonicalPublish(line, limits);
  if (fast === undefined) return false;
  const text = new TextDecoder().decode(line);
  const slow = general(line, limits);
  assert.equal(typeof slow, "object", `${text}: general path said ${slow}`);
  const request = slow as CommandRequest;
  assert.deepEqual(
    { command: fast.command, tags: fast.tags, data: fast.data },
    request,
    text,
  );
  // JSON.parse is the oracle for what the line means.
  assert.deepEqual(JSON.parse(text), {
    command: "publish",
    tags: fast.tags,
    data: fast.data,
  });
  assert.deepEqual(tagSet(request.tags!), fast.tags, `${text}: not a set`);
  const built = deliveryFrame(tagSet(request.tags!), request.data!);
  assert.equal(fast.frame.text, built.text, text);
  assert.deepEqual([...fast.frame.line], [...built.line], text);
  assert.equal(fast.frame.size, built.size);
  return true;
}

// Tag and data characters, the awkward ones often: escapes, quotes, control
// characters, non-ASCII, a BOM, a lone surrogate, DEL.
const PIECES = [
  "a",
  "b",
  "z",
  "A",
  "0",
  " ",
  "~",
  ":",
  "\u007f",
  '"',
  "\\",
  "\\n",
  "\\u0041",
  "\\/",
  "\n",
  "\t",
  "\u0001",
  "é",
  "\u2028",
  "\ufeff",
  "😀",
  "\ud800",
  "{",
  "]",
  ",",
];

function generator(seed: number) {
  const next = random(seed);
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(items: readonly T[]) => items[int(items.length)] as T;
  const piece = () => next() < 0.7 ? pick(["a", "b", "c", "x"]) : pick(PIECES);
  const word = (max: number) => {
    let s = "";
    for (let n = int(max + 1); n > 0; n--) s += piece();
    return s;
  };
  return { next, int, pick, word };
}

/** A publish line built as text, mostly canonical, often not quite. */
function candidate(g: ReturnType<typeof generator>): string {
  const tags: string[] = [];
  for (let n = g.int(6); n > 0; n--) tags.push(g.word(4));
  if (g.next() < 0.6) tags.sort();
  const tagText = g.next() < 0.8
    ? `[${tags.map((t) => `"${t}"`).join(",")}]`
    : JSON.stringify(tags);
  const data = g.word(g.pick([0, 3, 20, 60]));
  const dataText = g.next() < 0.8 ? `"${data}"` : JSON.stringify(data);
  const variants = [
    `{"command":"publish","tags":${tagText},"data":${dataText}}`,
    `{"command":"publish","tags":${tagText},"data":${dataText},"id":1}`,
    `{"command":"publish","tags":${tagText},"data":${dataText}} `,
    `{"command":"publish", "tags":${tagText},"data":${dataText}}`,
    `{"tags":${tagText},"command":"publish","data":${dataText}}`,
    `{"command":"publish","tags":${tagText}}`,
    `{"command":"publish","tags":${tagText},"data":null}`,
  ];
  return g.next() < 0.7 ? variants[0]! : g.pick(variants);
}

/** Flips, drops or inserts a few bytes. */
function mutate(bytes: Uint8Array, g: ReturnType<typeof generator>) {
  const out = [...bytes];
  for (let n = 1 + g.int(3); n > 0; n--) {
    const at = g.int(out.length + 1);
    const r = g.next();
    if (r < 0.3) out.splice(at, 1);
    else if (r < 0.6) out.splice(at, 0, g.int(256));
    else if (at < out.length) {
      out[at] = g.pick([0x22, 0x5c, 0x5d, 0x2c, 0x80, 0xff, 0x20, g.int(256)]);
    }
  }
  return new Uint8Array(out);
}

Deno.test("canonicalPublish() agrees with decode() on random and malformed lines", () => {
  for (const limits of [LIMITS, DEFAULT_LIMITS]) {
    const g = generator(limits === LIMITS ? 1 : 2);
    let taken = 0, mutatedTaken = 0;
    const cases = 30_000;
    for (let i = 0; i < cases; i++) {
      const line = encoder.encode(candidate(g));
      if (agree(line, limits)) taken++;
      if (agree(mutate(line, g), limits)) mutatedTaken++;
    }
    // The generator must reach the fast path often, or the test proves little.
    assert.ok(taken > cases / 20, `only ${taken} lines took the fast path`);
    assert.ok(mutatedTaken > 0, "no mutated line took the fast path");
  }
});

Deno.test("canonicalPublish() takes the lines clients send and leaves the rest", () => {
  const take = (text: string, limits = LIMITS) =>
    canonicalPublish(encoder.encode(text), limits) !== undefined;
  assert.ok(take('{"command":"publish","tags":["a","b"],"data":"hi"}'));
  assert.ok(take('{"command":"publish","tags":["a"],"data":""}'));
  assert.ok(take('{"command":"publish","tags":["a"],"data":"é😀\ufeff"}'));
  // Unsorted, repeated, empty, too long, too many: the general path decides.
  assert.ok(!take('{"command":"publish","tags":["b","a"],"data":"x"}'));
  assert.ok(!take('{"command":"publish","tags":["a","a"],"data":"x"}'));
  assert.ok(!take('{"command":"publish","tags":["a",""],"data":"x"}'));
  assert.ok(!take('{"command":"publish","tags":[],"data":"x"}'));
  assert.ok(!take('{"command":"publish","tags":["abcdefg"],"data":"x"}'));
  assert.ok(
    !take('{"command":"publish","tags":["a","b","c","d","e"],"data":"x"}'),
  );
  assert.ok(take('{"command":"publish","tags":["a","b","c","d"],"data":"x"}'));
  assert.ok(
    !take('{"command":"publish","tags":["a"],"data":"x"}', {
      ...LIMITS,
      maxMessageBytes: 40,
    }),
  );
  // Invalid UTF-8 in the data: refused by the general path.
  const bad = encoder.encode('{"command":"publish","tags":["a"],"data":"xx"}');
  bad[bad.length - 3] = 0xff;
  assert.equal(canonicalPublish(bad, LIMITS), undefined);
  assert.match(general(bad, LIMITS) as string, /^invalid JSON/);
});

Deno.test("a canonical frame is a copy: the read buffer may be reused", () => {
  const line = encoder.encode('{"command":"publish","tags":["a"],"data":"x"}');
  const request = canonicalPublish(line, LIMITS)!;
  line.fill(0x20);
  assert.equal(
    request.frame.text,
    '{"command":"publish","tags":["a"],"data":"x"}',
  );
  assert.equal(request.frame.line.at(-1), 0x0a);
  // The data is read from the frame's copy, when first asked for.
  assert.equal(request.data, "x");
  assert.deepEqual(request.tags, ["a"]);
});
