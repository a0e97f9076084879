import assert from "node:assert/strict";
import { newStats } from "../server/transport.ts";
import {
  type BadRequest,
  BodyCutShort,
  MAX_HEAD_BYTES,
  Wire,
} from "./http_wire.ts";
import { framing, readBody } from "./http_body.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A connection that gives its bytes in the pieces given, then the end. */
function pieces(...parts: string[]): Deno.Conn {
  const queue = parts.map((p) => encoder.encode(p));
  return {
    read(buffer: Uint8Array): Promise<number | null> {
      const next = queue.shift();
      if (next === undefined) return Promise.resolve(null);
      const n = Math.min(next.length, buffer.length);
      buffer.set(next.subarray(0, n));
      if (n < next.length) queue.unshift(next.subarray(n));
      return Promise.resolve(n);
    },
  } as unknown as Deno.Conn;
}

const noContinue = () => Promise.resolve();

async function text(stream: ReadableStream<Uint8Array>): Promise<string> {
  return decoder.decode(await new Response(stream).arrayBuffer());
}

Deno.test("Wire reads heads split anywhere, one after another, and counts the bytes", async () => {
  const stats = newStats();
  const wire = new Wire(
    pieces(
      "\r\nGET /a HTTP/1.1\r\nHost: x\r",
      "\n\r",
      "\nGET /b?c=1 HTTP/1.0\r\n\r\nrest",
    ),
    stats,
  );
  const a = await wire.head();
  assert.equal(a?.target, "/a");
  assert.equal(a?.headers.get("host"), "x");
  const b = await wire.head();
  assert.deepEqual([b?.method, b?.target, b?.version], [
    "GET",
    "/b?c=1",
    "1.0",
  ]);
  assert.equal(decoder.decode(wire.rest()), "rest");
  assert.equal(stats.bytesReceived, 57);
  assert.equal(await wire.head(), undefined, "the end between requests");
});

Deno.test("Wire refuses a head over the cap with 431, a bad one or one cut short with 400", async () => {
  const long = new Wire(
    pieces(`GET / HTTP/1.1\r\nx: ${"a".repeat(MAX_HEAD_BYTES)}\r\n\r\n`),
    newStats(),
  );
  await assert.rejects(long.head(), (e) => (e as BadRequest).status === 431);
  for (const bad of ["GET / HTTP/2\r\n\r\n", "GET x HTTP/1.1\r\n\r\n"]) {
    const wire = new Wire(pieces(bad), newStats());
    await assert.rejects(wire.head(), (e) => (e as BadRequest).status === 400);
  }
  const cut = new Wire(pieces("GET / HTTP/1.1\r\n"), newStats());
  await assert.rejects(cut.head(), (e) => (e as BadRequest).status === 400);
});

Deno.test("framing(): a length, chunked, or 400/501 for what smuggling is made of", () => {
  const of = (init: Record<string, string>) => framing(new Headers(init));
  assert.deepEqual(of({}), { length: 0 });
  assert.deepEqual(of({ "content-length": "12" }), { length: 12 });
  assert.deepEqual(of({ "content-length": "3, 3" }), { length: 3 });
  assert.equal(of({ "transfer-encoding": "Chunked" }), "chunked");
  for (
    const bad of [
      { "content-length": "3", "transfer-encoding": "chunked" },
      { "content-length": "3, 4" },
      { "content-length": "+3" },
      { "content-length": "" },
    ]
  ) {
    assert.throws(() => of(bad), (e) => (e as BadRequest).status === 400);
  }
  assert.throws(
    () => of({ "transfer-encoding": "gzip" }),
    (e) => (e as BadRequest).status === 501,
  );
});

Deno.test("readBody(): by length and chunked, across reads, leaving the next request", async () => {
  const wire = new Wire(
    pieces(
      "POST / HTTP/1.1\r\n\r\nhel",
      "lo",
      "5\r\nwor",
      "ld\r\n1;x=y\r\n!\r\n0\r\nT: 1\r\n\r\nGET",
    ),
    newStats(),
  );
  await wire.head();
  const sized = readBody(wire, { length: 5 }, noContinue);
  assert.equal(await text(sized.stream), "hello");
  assert.ok(sized.ended);
  const chunked = readBody(wire, "chunked", noContinue);
  assert.equal(await text(chunked.stream), "world!");
  assert.ok(chunked.ended);
  assert.equal(decoder.decode(wire.rest()), "GET");
});

Deno.test("readBody(): the first pull says 100 Continue, a body cut short errors, skip() reads what is left up to a bound", async () => {
  let continued = 0;
  const wire = new Wire(pieces("abc"), newStats());
  const body = readBody(wire, { length: 10 }, () => {
    continued++;
    return Promise.resolve();
  });
  assert.equal(continued, 0);
  await assert.rejects(text(body.stream), BodyCutShort);
  assert.equal(continued, 1);

  const left = new Wire(pieces("0123456789", "abcdef"), newStats());
  const unread = readBody(left, { length: 16 }, noContinue);
  assert.equal(unread.left, 16);
  assert.equal(await unread.skip(4), false, "past the bound");
  const short = readBody(
    new Wire(pieces("0123456789"), newStats()),
    { length: 10 },
    noContinue,
  );
  assert.equal(await short.skip(64), true);
  assert.equal(short.left, 0);
});
