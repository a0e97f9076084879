import assert from "node:assert/strict";
import { MistError } from "./errors.ts";
import {
  decode,
  DEFAULT_LIMITS,
  deliveryFrame,
  encode,
  errorReply,
  type Limits,
  requireTags,
  utf8Length,
} from "./codec.ts";

const LIMITS: Limits = {
  maxMessageBytes: 200,
  maxTags: 3,
  maxTagBytes: 8,
  maxSubscriptions: 10,
};

function decodeError(input: string | Uint8Array, limits = LIMITS): MistError {
  try {
    decode(input, limits);
  } catch (err) {
    assert.ok(err instanceof MistError, `not a MistError: ${err}`);
    return err;
  }
  assert.fail(`decoded ${String(input)} without an error`);
}

Deno.test("decode() reads every field of a request", () => {
  assert.deepEqual(
    decode('{"command":"publish","tags":["b","a","a"],"data":"x\\ny","id":7}'),
    { command: "publish", tags: ["b", "a", "a"], data: "x\ny", id: 7 },
  );
  assert.deepEqual(decode('{"command":"ping","id":"q1"}'), {
    command: "ping",
    id: "q1",
  });
});

Deno.test("decode() ignores unknown fields and treats null as absent", () => {
  assert.deepEqual(
    decode('{"command":"ping","tags":null,"data":null,"extra":{"a":1}}'),
    { command: "ping" },
  );
});

Deno.test("decode() takes UTF-8 bytes", () => {
  const bytes = new TextEncoder().encode(
    '{"command":"publish","tags":["ü"],"data":"é"}',
  );
  assert.deepEqual(decode(bytes), {
    command: "publish",
    tags: ["ü"],
    data: "é",
  });
});

Deno.test("decode() rejects bad input with the protocol's error texts", async (t) => {
  const cases: [string, string | Uint8Array, string, object][] = [
    ["not JSON", "hello", "invalid JSON", { command: "" }],
    ["truncated JSON", '{"command":"ping"', "invalid JSON", { command: "" }],
    [
      "invalid UTF-8",
      new Uint8Array([0x7b, 0xff, 0x7d]),
      "invalid JSON: not UTF-8",
      {
        command: "",
      },
    ],
    ["an array", "[1,2]", "invalid message: not an object", { command: "" }],
    ["a string", '"ping"', "invalid message: not an object", { command: "" }],
    ["null", "null", "invalid message: not an object", { command: "" }],
    [
      "no command",
      '{"tags":["a"]}',
      "invalid message: missing string command",
      {
        command: "",
      },
    ],
    [
      "a number command",
      '{"command":5}',
      "invalid message: missing string command",
      {
        command: "",
      },
    ],
    [
      "no string command, but an id",
      '{"command":5,"id":6}',
      "invalid message: missing string command",
      { command: "", id: 6 },
    ],
    [
      "an id that is not a finite number (1e400 is Infinity)",
      '{"command":"ping","id":1e400}',
      "invalid message: id must be a string or a finite number",
      { command: "ping" },
    ],
    [
      "an object id",
      '{"command":"ping","id":{}}',
      "invalid message: id must be a string or a finite number",
      {
        command: "ping",
      },
    ],
    [
      "tags not an array",
      '{"command":"subscribe","tags":"a","id":1}',
      "invalid tags: expected an array of strings",
      {
        command: "subscribe",
        id: 1,
      },
    ],
    [
      "a non-string tag",
      '{"command":"subscribe","tags":["a",1]}',
      "invalid tags: expected an array of strings",
      {
        command: "subscribe",
      },
    ],
    [
      "an empty tag",
      '{"command":"subscribe","tags":[""]}',
      "invalid tags: empty tag",
      {
        command: "subscribe",
      },
    ],
    [
      "too many tags",
      '{"command":"publish","tags":["a","b","c","d"]}',
      "too many tags: 4 > 3",
      {
        command: "publish",
      },
    ],
    [
      "a long tag",
      '{"command":"publish","tags":["123456789"]}',
      "tag too long: longer than 8 bytes",
      {
        command: "publish",
      },
    ],
    [
      "a tag long in bytes",
      '{"command":"publish","tags":["ééééé"]}',
      "tag too long: longer than 8 bytes",
      {
        command: "publish",
      },
    ],
    [
      "non-string data",
      '{"command":"publish","tags":["a"],"data":5,"id":"x"}',
      "invalid data",
      {
        command: "publish",
        tags: ["a"],
        id: "x",
      },
    ],
    [
      "a long frame",
      JSON.stringify({ command: "publish", data: "x".repeat(200) }),
      "message too large",
      {
        command: "",
      },
    ],
    ["a long frame of bytes", new Uint8Array(201), "message too large", {
      command: "",
    }],
  ];
  for (const [name, input, text, context] of cases) {
    await t.step(name, () => {
      const err = decodeError(input);
      assert.equal(err.message, text);
      assert.deepEqual(err.context, context);
    });
  }
});

Deno.test("decode() counts a frame's size in UTF-8 bytes", () => {
  const limits = { ...LIMITS, maxMessageBytes: 40 };
  // 34 characters but 43 bytes.
  const text = `{"command":"p","data":"${"é".repeat(9)}"}`;
  assert.equal(text.length, 34);
  assert.equal(utf8Length(text), 43);
  assert.equal(decodeError(text, limits).message, "message too large");
  assert.equal(decode(text, { ...limits, maxMessageBytes: 43 }).command, "p");
});

Deno.test("decode() accepts a tag of exactly the limit", () => {
  assert.deepEqual(
    decode('{"command":"publish","tags":["12345678","éééé"]}', LIMITS).tags,
    ["12345678", "éééé"],
  );
});

Deno.test("requireTags() refuses missing and empty tags", () => {
  assert.throws(() => requireTags({ command: "subscribe" }), {
    message: "missing tags",
  });
  assert.throws(() => requireTags({ command: "subscribe", tags: [] }), {
    message: "missing tags",
  });
  assert.deepEqual(requireTags({ command: "subscribe", tags: ["a"] }), ["a"]);
});

Deno.test("errorReply() echoes the command, tags and id", () => {
  assert.deepEqual(
    errorReply(new MistError("forbidden", 'not granted ["x"]'), {
      command: "publish",
      tags: ["x"],
      id: 3,
    }),
    {
      command: "publish",
      tags: ["x"],
      error: 'forbidden: not granted ["x"]',
      id: 3,
    },
  );
  assert.equal(
    encode(errorReply(new MistError("invalid_json"), { command: "" })).text,
    '{"command":"","error":"invalid JSON"}',
  );
});

Deno.test("deliveryFrame() keeps the tags as published and encodes its line once", () => {
  const frame = deliveryFrame(["b", "a", "b"], 'say "hi"\n');
  assert.equal(
    frame.text,
    '{"command":"publish","tags":["b","a","b"],"data":"say \\"hi\\"\\n"}',
  );
  assert.equal(frame.line, frame.line);
  assert.equal(new TextDecoder().decode(frame.line), frame.text + "\n");
  assert.equal(frame.size, frame.text.length + 1);
});

Deno.test("utf8Length() matches TextEncoder", () => {
  for (
    const text of [
      "",
      "abc",
      "é",
      "€",
      "😀",
      "a😀b",
      "\ud800",
      "\udc00x",
      "\ud83d",
    ]
  ) {
    assert.equal(utf8Length(text), new TextEncoder().encode(text).length, text);
  }
});

Deno.test("DEFAULT_LIMITS are the protocol's", () => {
  assert.deepEqual(DEFAULT_LIMITS, {
    maxMessageBytes: 1048576,
    maxTags: 64,
    maxTagBytes: 1024,
    maxSubscriptions: 10000,
  });
});
