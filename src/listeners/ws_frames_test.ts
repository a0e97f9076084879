import assert from "node:assert/strict";
import { encode } from "../protocol/codec.ts";
import {
  closeFrame,
  encodeFrame,
  FrameParser,
  type Incoming,
  lineGroups,
  offersLines,
  OP_BINARY,
  OP_CLOSE,
  OP_CONTINUATION,
  OP_PING,
  OP_TEXT,
  splitLines,
  textFrame,
} from "./ws_frames.ts";

const encoder = new TextEncoder();

/** A client frame: masked, with the given FIN bit and length encoding. */
function clientFrame(
  opcode: number,
  payload: Uint8Array | string,
  { fin = true, masked = true, rsv = 0 } = {},
): Uint8Array {
  const body = typeof payload === "string" ? encoder.encode(payload) : payload;
  const n = body.length;
  const header = n < 126 ? [n] : n < 65536 ? [126, n >> 8, n & 0xff] : [
    127,
    0,
    0,
    0,
    0,
    (n >>> 24) & 0xff,
    (n >> 16) & 0xff,
    (n >> 8) & 0xff,
    n & 0xff,
  ];
  header[0] = header[0]! | (masked ? 0x80 : 0);
  const mask = masked ? [0x37, 0xfa, 0x21, 0x3d] : [];
  const out = new Uint8Array(1 + header.length + mask.length + n);
  out[0] = (fin ? 0x80 : 0) | rsv | opcode;
  out.set(header, 1);
  out.set(mask, 1 + header.length);
  const at = 1 + header.length + mask.length;
  for (let i = 0; i < n; i++) {
    out[at + i] = masked ? body[i]! ^ mask[i % 4]! : body[i]!;
  }
  return out;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** An event as a test compares it: a text message decoded, a ping's payload copied. */
type Event =
  | Exclude<Incoming, { kind: "text" }>
  | { kind: "text"; text: string };

/**
 * Parses bytes fed in chunks of `size` (copies: the parser unmasks in place),
 * reading each event before the next chunk, as its views require.
 */
function parseInChunks(
  bytes: Uint8Array,
  size: number,
  max = 1 << 20,
): Event[] {
  const parser = new FrameParser(max);
  const events: Event[] = [];
  for (let i = 0; i < bytes.length; i += size) {
    for (const event of parser.parse(bytes.slice(i, i + size))) {
      events.push(
        event.kind === "text"
          ? { kind: "text", text: new TextDecoder().decode(event.bytes) }
          : event.kind === "ping"
          ? { kind: "ping", payload: event.payload.slice() }
          : event,
      );
    }
  }
  return events;
}

Deno.test("FrameParser reads 7-, 16- and 64-bit lengths, in chunks split anywhere", async (t) => {
  for (const n of [0, 5, 125, 126, 1000, 65535, 65536, 70_000]) {
    await t.step(`${n} bytes`, () => {
      const text = "é".repeat(n >> 1) + "x".repeat(n & 1);
      const bytes = concat(
        clientFrame(OP_TEXT, text),
        clientFrame(OP_TEXT, "next"),
      );
      for (const size of [1, 2, 3, 7, 13, 4096, bytes.length]) {
        assert.deepEqual(parseInChunks(bytes, size), [
          { kind: "text", text },
          { kind: "text", text: "next" },
        ]);
      }
    });
  }
});

Deno.test("FrameParser reassembles fragments, with control frames between them", () => {
  const bytes = concat(
    clientFrame(OP_TEXT, '{"command":', { fin: false }),
    clientFrame(OP_PING, "hb"),
    clientFrame(OP_CONTINUATION, '"pi', { fin: false }),
    clientFrame(OP_CONTINUATION, 'ng"}'),
  );
  for (const size of [1, 5, bytes.length]) {
    assert.deepEqual(parseInChunks(bytes, size), [
      { kind: "ping", payload: encoder.encode("hb") },
      { kind: "text", text: '{"command":"ping"}' },
    ]);
  }
});

Deno.test("FrameParser unmasks a whole frame in the chunk, and keeps no view of a chunk past it", () => {
  const parser = new FrameParser(1024);
  const whole = clientFrame(OP_TEXT, "in place");
  const [event] = [...parser.parse(whole)];
  assert.equal(event?.kind, "text");
  if (event?.kind === "text") assert.equal(event.bytes.buffer, whole.buffer);
  // Each fragment whole in its chunk, all read into one reused buffer.
  const frames = [
    clientFrame(OP_TEXT, "abcd", { fin: false }),
    clientFrame(OP_CONTINUATION, "efgh", { fin: false }),
    clientFrame(OP_CONTINUATION, "ijkl"),
  ];
  const buffer = new Uint8Array(64);
  const texts: string[] = [];
  for (const frame of frames) {
    buffer.fill(0);
    buffer.set(frame);
    for (const e of parser.parse(buffer.subarray(0, frame.length))) {
      if (e.kind === "text") texts.push(new TextDecoder().decode(e.bytes));
    }
  }
  assert.deepEqual(texts, ["abcdefghijkl"]);
});

Deno.test("FrameParser refuses a message over the maximum from its header, without its payload", () => {
  const parser = new FrameParser(100);
  // A header announcing 2^40 bytes: refused at once, nothing allocated.
  const header = new Uint8Array([
    0x81,
    0xff,
    0,
    0,
    1,
    0,
    0,
    0,
    0,
    0,
    1,
    2,
    3,
    4,
  ]);
  assert.deepEqual([...parser.parse(header)], [{ kind: "too_large" }]);
  // A message whose fragments add up past the maximum: refused at the one
  // that passes it, the rest skipped, and the next message read.
  const bytes = concat(
    clientFrame(OP_TEXT, "x".repeat(60), { fin: false }),
    clientFrame(OP_CONTINUATION, "x".repeat(60), { fin: false }),
    clientFrame(OP_CONTINUATION, "x".repeat(60)),
    clientFrame(OP_TEXT, "x".repeat(100)),
  );
  assert.deepEqual(parseInChunks(bytes, 7, 100), [
    { kind: "too_large" },
    { kind: "text", text: "x".repeat(100) },
  ]);
});

Deno.test("FrameParser skips binary messages, yielding one event each", () => {
  const bytes = concat(
    clientFrame(OP_BINARY, new Uint8Array(300), { fin: false }),
    clientFrame(OP_CONTINUATION, new Uint8Array(300)),
    clientFrame(OP_TEXT, "after"),
  );
  assert.deepEqual(parseInChunks(bytes, 64, 100), [
    { kind: "binary" },
    { kind: "text", text: "after" },
  ]);
});

Deno.test("FrameParser ends on protocol errors with the right close code", async (t) => {
  const cases: [string, Uint8Array, number][] = [
    ["an unmasked frame", clientFrame(OP_TEXT, "hi", { masked: false }), 1002],
    ["reserved bits", clientFrame(OP_TEXT, "hi", { rsv: 0x40 }), 1002],
    ["an unknown opcode", clientFrame(0x3, "hi"), 1002],
    ["a continuation of nothing", clientFrame(OP_CONTINUATION, "hi"), 1002],
    ["a fragmented ping", clientFrame(OP_PING, "hi", { fin: false }), 1002],
    ["a ping over 125 bytes", clientFrame(OP_PING, "x".repeat(126)), 1002],
    [
      "a new message inside another",
      concat(
        clientFrame(OP_TEXT, "a", { fin: false }),
        clientFrame(OP_TEXT, "b"),
      ),
      1002,
    ],
    ["invalid UTF-8", clientFrame(OP_TEXT, new Uint8Array([0xc3, 0x28])), 1007],
    [
      "UTF-8 split across fragments, then cut short",
      concat(
        clientFrame(OP_TEXT, new Uint8Array([0xe2, 0x82]), { fin: false }),
        clientFrame(OP_CONTINUATION, new Uint8Array([0x41])),
      ),
      1007,
    ],
    [
      "an invalid close code",
      clientFrame(OP_CLOSE, new Uint8Array([3, 0xe7])),
      1002,
    ],
  ];
  for (const [name, bytes, code] of cases) {
    await t.step(name, () => {
      const events = parseInChunks(
        concat(bytes, clientFrame(OP_TEXT, "ignored")),
        3,
      );
      assert.equal(events.length, 1, JSON.stringify(events));
      assert.equal(events[0]!.kind, "fail");
      assert.equal((events[0] as { code: number }).code, code);
    });
  }
});

Deno.test("FrameParser yields the client's close code, then nothing more", () => {
  const bytes = concat(
    clientFrame(OP_CLOSE, new Uint8Array([0x03, 0xe8, 0x62, 0x79, 0x65])),
    clientFrame(OP_TEXT, "ignored"),
  );
  assert.deepEqual(parseInChunks(bytes, 4), [{ kind: "close", code: 1000 }]);
  assert.deepEqual(parseInChunks(clientFrame(OP_CLOSE, ""), 4), [
    { kind: "close", code: undefined },
  ]);
});

Deno.test("server frames are unmasked, with the shortest length encoding", () => {
  assert.deepEqual([...textFrame("hi")], [0x81, 2, 0x68, 0x69]);
  const medium = textFrame("x".repeat(200));
  assert.deepEqual([...medium.subarray(0, 4)], [0x81, 126, 0, 200]);
  const large = textFrame("é".repeat(40_000));
  assert.deepEqual([...large.subarray(0, 10)], [
    0x81,
    127,
    0,
    0,
    0,
    0,
    0,
    1,
    0x38,
    0x80,
  ]);
  assert.equal(large.length, 10 + 80_000);
  assert.deepEqual([...closeFrame(1001)], [0x88, 2, 0x03, 0xe9]);
  assert.deepEqual([...closeFrame(1002, "no")], [
    0x88,
    4,
    0x03,
    0xea,
    0x6e,
    0x6f,
  ]);
  assert.deepEqual([...closeFrame()], [0x88, 0]);
  assert.deepEqual([...encodeFrame(0xa, encoder.encode("p"))], [0x8a, 1, 0x70]);
});

Deno.test("a Frame's WebSocket bytes are built once and shared", () => {
  const frame = encode({ command: "publish", tags: ["a"], data: "x" });
  let built = 0;
  const build = (payload: Uint8Array) => {
    built++;
    return textFrame(new TextDecoder().decode(payload));
  };
  const first = frame.webSocket(build);
  assert.equal(frame.webSocket(build), first);
  assert.equal(built, 1);
});

Deno.test("lineGroups packs lines up to the maximum, a larger line alone", () => {
  const frames = [10, 10, 10, 50, 10].map((n) =>
    encode({ command: "x", data: "d".repeat(n) })
  );
  const sizes = frames.map((f) => f.size);
  const max = sizes[0]! * 2;
  assert.deepEqual([...lineGroups(frames, max)], [
    [2, sizes[0]! * 2],
    [3, sizes[2]!],
    [4, sizes[3]!],
    [5, sizes[4]!],
  ]);
  assert.deepEqual([...lineGroups(frames, 10_000)], [
    [5, sizes.reduce((a, b) => a + b)],
  ]);
  assert.deepEqual([...lineGroups([], 100)], []);
});

Deno.test("splitLines splits on newlines, accepts CRLF, skips blank lines", () => {
  assert.deepEqual(splitLines('{"a":1}\n{"b":2}\r\n\n{"c":3}'), [
    '{"a":1}',
    '{"b":2}',
    '{"c":3}',
  ]);
  assert.deepEqual(splitLines("\n\n"), []);
  assert.deepEqual(splitLines("one"), ["one"]);
});

Deno.test("offersLines finds mist.lines among the offered subprotocols", () => {
  assert.equal(offersLines("mist.lines"), true);
  assert.equal(offersLines("chat, mist.lines "), true);
  assert.equal(offersLines("mist.lines2"), false);
  assert.equal(offersLines(null), false);
});
