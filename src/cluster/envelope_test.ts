import assert from "node:assert/strict";
import { decodeEnvelope, encodeEnvelope, type Envelope } from "./envelope.ts";

const DIGEST = "a".repeat(64);

Deno.test("`encodeEnvelope()` and `decodeEnvelope()` round-trip every kind on one line", async (t) => {
  const envelopes: Envelope[] = [
    {
      kind: "message",
      node: "n1",
      tags: ["b", "a", "a"],
      data: "line\nbreak ☃",
    },
    { kind: "message", node: "n1", tags: ["a"], data: "" },
    { kind: "grants", node: "n2", token: DIGEST, tags: ["x", "y"] },
    { kind: "grants", node: "n2", token: DIGEST, tags: [] },
    { kind: "grants", node: "n2", token: DIGEST, tags: null },
    { kind: "heartbeat", node: "n3", interval: 2000 },
  ];
  for (const envelope of envelopes) {
    await t.step(JSON.stringify(envelope), () => {
      const text = encodeEnvelope(envelope);
      assert.ok(!text.includes("\n"), "one line");
      assert.deepEqual(decodeEnvelope(text), envelope);
    });
  }
});

Deno.test("`encodeEnvelope()` writes only the fields of its kind", () => {
  const extra = { kind: "heartbeat", node: "n", interval: 1, secret: "x" };
  assert.equal(
    encodeEnvelope(extra as Envelope),
    '{"kind":"heartbeat","node":"n","interval":1}',
  );
});

Deno.test("`decodeEnvelope()` refuses every malformed envelope with a reason", async (t) => {
  const cases: [string, string, RegExp][] = [
    ["not JSON", "{", /not valid JSON/],
    ["an array", "[]", /not a JSON object/],
    ["null", "null", /not a JSON object/],
    ["no node", '{"kind":"heartbeat","interval":1}', /no node id/],
    ["empty node", '{"kind":"heartbeat","node":"","interval":1}', /no node id/],
    ["no kind", '{"node":"n"}', /no kind/],
    [
      "unknown kind",
      '{"kind":"revoke","node":"n"}',
      /Unknown envelope kind "revoke"/,
    ],
    ["message without tags", '{"kind":"message","node":"n","data":""}', /tags/],
    [
      "message with empty tags",
      '{"kind":"message","node":"n","tags":[],"data":""}',
      /non-empty/,
    ],
    [
      "message with a number tag",
      '{"kind":"message","node":"n","tags":[1],"data":""}',
      /tags/,
    ],
    [
      "message without data",
      '{"kind":"message","node":"n","tags":["a"]}',
      /data/,
    ],
    [
      "message with object data",
      '{"kind":"message","node":"n","tags":["a"],"data":{}}',
      /data/,
    ],
    [
      "grants with a raw token",
      '{"kind":"grants","node":"n","token":"secret","tags":[]}',
      /digest/,
    ],
    [
      "grants without tags",
      `{"kind":"grants","node":"n","token":"${DIGEST}"}`,
      /tags/,
    ],
    [
      "grants with string tags",
      `{"kind":"grants","node":"n","token":"${DIGEST}","tags":"a"}`,
      /tags/,
    ],
    [
      "heartbeat with interval 0",
      '{"kind":"heartbeat","node":"n","interval":0}',
      /interval/,
    ],
    [
      "heartbeat with a string interval",
      '{"kind":"heartbeat","node":"n","interval":"5"}',
      /interval/,
    ],
  ];
  for (const [name, text, reason] of cases) {
    await t.step(name, () => {
      assert.throws(() => decodeEnvelope(text), (err: unknown) => {
        assert.ok(err instanceof TypeError);
        assert.match(err.message, reason);
        assert.ok(!err.message.includes("secret"), "never quotes the input");
        return true;
      });
    });
  }
});

Deno.test("`decodeEnvelope()` ignores unknown fields", () => {
  assert.deepEqual(
    decodeEnvelope('{"kind":"heartbeat","node":"n","interval":5,"v":2}'),
    { kind: "heartbeat", node: "n", interval: 5 },
  );
});
