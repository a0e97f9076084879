import assert from "node:assert/strict";
import { batchOf } from "./bench_wire.ts";
import {
  clientFrames,
  controlFrame,
  FrameParser,
  mask,
  PACK,
  upgrade,
  writeAll,
} from "./bench_ws.ts";

const decoder = new TextDecoder();

/** A parser that keeps what it is handed, as text. */
function collect() {
  const got = { messages: [] as string[], pings: [] as string[], closed: 0 };
  const parser = new FrameParser({
    message: (b, s, e) => got.messages.push(decoder.decode(b.subarray(s, e))),
    ping: (p) => got.pings.push(decoder.decode(p)),
    close: () => got.closed++,
  });
  return { got, parser };
}

function feed(parser: FrameParser, bytes: Uint8Array, size: number): void {
  for (let i = 0; i < bytes.length; i += size) {
    parser.push(bytes.slice(i, i + size));
  }
}

const long = "y".repeat(70_000);
const texts = ["a\n", "bc\n", "x".repeat(200) + "\n", long + "\n", "d\n"];

Deno.test("client frames are masked and one message each without its newline", async (t) => {
  const frames = clientFrames(...batchOf(texts), false);
  // Every frame has the mask bit; 7-bit, 16-bit and 64-bit lengths.
  assert.equal(frames[0], 0x81);
  assert.equal(frames[1], 0x80 | 1);
  // "a" is its one payload byte, masked by the key before it.
  assert.equal(frames[6]! ^ frames[2]!, 0x61);
  for (const size of [1, 3, 100, 65_536, 1 << 20]) {
    await t.step(`reads of ${size} bytes`, () => {
      const { got, parser } = collect();
      feed(parser, frames, size);
      assert.deepEqual(got.messages, texts.map((m) => m.slice(0, -1)));
    });
  }
});

Deno.test("line mode packs whole messages up to PACK bytes a frame", () => {
  const { got, parser } = collect();
  parser.push(clientFrames(...batchOf(texts), true));
  assert.deepEqual(got.messages, [
    "a\nbc\n" + "x".repeat(200) + "\n",
    long + "\n",
    "d\n",
  ]);
  const many = Array.from({ length: 1000 }, () => "z".repeat(99) + "\n");
  const { got: packed, parser: p2 } = collect();
  p2.push(clientFrames(...batchOf(many), true));
  assert.equal(packed.messages.length, Math.ceil(100_000 / PACK));
  assert.ok(packed.messages.every((m) => m.length <= PACK));
  assert.equal(packed.messages.join(""), many.join(""));
});

Deno.test("the parser joins fragments and hands on pings and the close", () => {
  const { got, parser } = collect();
  const unmasked = (b0: number, text: string) =>
    new Uint8Array([b0, text.length, ...new TextEncoder().encode(text)]);
  parser.push(unmasked(0x01, "hel")); // text, not FIN
  parser.push(unmasked(0x89, "p")); // a ping between fragments
  parser.push(unmasked(0x00, "lo ")); // continuation
  parser.push(unmasked(0x80, "you")); // last continuation
  parser.push(unmasked(0x8a, "")); // pong: ignored
  parser.push(unmasked(0x81, "next"));
  parser.push(controlFrame(0x8, new Uint8Array([3, 232])));
  assert.deepEqual(got.messages, ["hello you", "next"]);
  assert.deepEqual(got.pings, ["p"]);
  assert.equal(got.closed, 1);
});

Deno.test("mask is its own inverse", () => {
  const bytes = new TextEncoder().encode("the quick brown fox");
  const key = new Uint8Array([1, 2, 250, 7]);
  mask(bytes, 2, 15, key);
  assert.notEqual(decoder.decode(bytes), "the quick brown fox");
  mask(bytes, 2, 15, key);
  assert.equal(decoder.decode(bytes), "the quick brown fox");
});

/**
 * A one-connection WebSocket server on a raw socket: it answers the upgrade
 * (accepting mist.lines when offered, with `accept` to spoil the key), sends
 * "hello" in the same write as its 101, and collects the client's messages.
 */
function rawServer(accept?: string) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const seen = { offered: "" as string | null, messages: [] as string[] };
  const done = (async () => {
    const conn = await listener.accept();
    const buf = new Uint8Array(65536);
    let head = "";
    while (!head.includes("\r\n\r\n")) {
      const n = await conn.read(buf);
      if (n === null) return;
      head += decoder.decode(buf.subarray(0, n));
    }
    const field = (name: string) =>
      new RegExp(`^${name}: (.*)$`, "mi").exec(head)?.[1]?.trim() ?? null;
    seen.offered = field("Sec-WebSocket-Protocol");
    const hash = await crypto.subtle.digest(
      "SHA-1",
      new TextEncoder().encode(
        field("Sec-WebSocket-Key") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11",
      ),
    );
    const response = "HTTP/1.1 101 Switching Protocols\r\n" +
      // Not ASCII: its bytes are more than its characters.
      "Upgrade: websocket\r\nConnection: Upgrade\r\nX-Note: café\r\n" +
      `Sec-WebSocket-Accept: ${
        accept ?? btoa(String.fromCharCode(...new Uint8Array(hash)))
      }\r\n` +
      (seen.offered ? "Sec-WebSocket-Protocol: mist.lines\r\n" : "") +
      "\r\n";
    const head101 = new TextEncoder().encode(response);
    const bytes = new Uint8Array(head101.length + 7);
    bytes.set(head101);
    bytes.set([0x81, 5, ...new TextEncoder().encode("hello")], head101.length);
    await conn.write(bytes);
    const parser = new FrameParser({
      message: (b, s, e) =>
        seen.messages.push(decoder.decode(b.subarray(s, e))),
      ping: () => {},
      close: () => {},
    });
    try {
      for (let n; (n = await conn.read(buf)) !== null;) {
        parser.push(buf.subarray(0, n));
      }
    } catch {
      // The client hung up.
    }
    conn.close();
  })();
  const { port } = listener.addr as Deno.NetAddr;
  return {
    url: new URL(`ws://127.0.0.1:${port}/subscribe/websocket`),
    seen,
    async close() {
      await done;
      listener.close();
    },
  };
}

Deno.test("upgrade offers mist.lines unless told not to, and keeps the frames after the 101", async (t) => {
  for (const wsLines of ["auto", "off"] as const) {
    await t.step(wsLines, async () => {
      const server = rawServer();
      const { conn, lines, rest } = await upgrade(server.url, { wsLines });
      assert.equal(lines, wsLines === "auto");
      assert.equal(
        server.seen.offered,
        wsLines === "auto" ? "mist.lines" : null,
      );
      const { got, parser } = collect();
      parser.push(rest);
      assert.deepEqual(got.messages, ["hello"]);
      await writeAll(conn, clientFrames(...batchOf(["a\n", "b\n"]), lines));
      conn.close();
      await server.close();
      assert.deepEqual(
        server.seen.messages,
        lines ? ["a\nb\n"] : ["a", "b"],
      );
    });
  }
  await t.step("a wrong Sec-WebSocket-Accept is refused", async () => {
    const server = rawServer("bm90IHRoZSBrZXk=");
    await assert.rejects(
      upgrade(server.url, { wsLines: "auto" }),
      /Sec-WebSocket-Accept is wrong/,
    );
    await server.close();
  });
});
