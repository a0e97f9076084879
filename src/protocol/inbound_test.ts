import assert from "node:assert/strict";
import { MistError } from "./errors.ts";
import { parseServerFrame, replyError } from "./inbound.ts";

const encoder = new TextEncoder();

Deno.test("parseServerFrame() reads text and bytes, and treats null as absent", () => {
  assert.deepEqual(
    parseServerFrame('{"command":"ping","tags":[],"data":"pong"}'),
    { command: "ping", tags: [], data: "pong" },
  );
  assert.deepEqual(
    parseServerFrame(
      encoder.encode(
        '{"command":"publish","tags":["a"],"data":"x\\ny","error":null,"id":null,"extra":1}',
      ),
    ),
    { command: "publish", tags: ["a"], data: "x\ny" },
  );
  assert.deepEqual(
    parseServerFrame(
      '{"command":"subscribe","tags":null,"error":"missing tags","id":"7"}',
    ),
    { command: "subscribe", error: "missing tags", id: "7" },
  );
});

Deno.test("parseServerFrame() refuses what is not a message, without quoting it", async (t) => {
  const cases: [string, string | Uint8Array, RegExp][] = [
    ["not JSON", '{"command":"tags","data":"secret', /not JSON/],
    ["not UTF-8", new Uint8Array([0x7b, 0xff, 0x7d]), /not UTF-8/],
    ["an array", "[1,2]", /not a JSON object/],
    ["no command", '{"data":"secret"}', /no string command/],
    ["bad tags", '{"command":"publish","tags":[1]}', /invalid tags/],
    ["bad data", '{"command":"publish","tags":["a"],"data":5}', /invalid data/],
    ["bad error", '{"command":"x","error":{}}', /invalid error/],
    ["bad id", '{"command":"x","id":[]}', /invalid id/],
  ];
  for (const [name, frame, message] of cases) {
    await t.step(name, () => {
      assert.throws(() => parseServerFrame(frame), (err) => {
        assert.ok(err instanceof MistError);
        assert.equal(err.code, "protocol_error");
        assert.match(err.message, message);
        assert.doesNotMatch(err.message, /secret/);
        return true;
      });
    });
  }
});

Deno.test("replyError() maps the reply's text to its code and keeps the context", () => {
  const err = replyError({
    command: "publish",
    tags: ["x"],
    error: 'forbidden: not granted ["x"]',
    id: 3,
  });
  assert.equal(err.code, "forbidden");
  assert.equal(err.message, 'forbidden: not granted ["x"]');
  assert.deepEqual(err.context, { command: "publish", tags: ["x"], id: 3 });
});
