/**
 * mist's HTTP/1.1 front (src/listeners/http_front.ts, http_wire.ts) on the
 * wire, raw bytes on real sockets: keep-alive, pipelining, request bodies by
 * length and chunked, `Expect: 100-continue`, what request smuggling is made
 * of, bodies over the limit, the request-head deadline on http:// and
 * https://, and a WebSocket message over the limit on the http:// upgrade.
 */

import assert from "node:assert/strict";
import {
  addressOf,
  allServer,
  hostPort,
  RawWebSocket,
  writeAll,
} from "../_helpers.ts";
import { serve } from "../../src/server/server.ts";
import { testCertificate } from "../_certificates.ts";
import type { MistServer } from "../../src/server/server.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** One response read off a connection. */
interface Answer {
  status: number;
  headers: Map<string, string>;
  body: string;
}

/** A client connection that reads responses one at a time, as a browser would. */
class RawHttp implements Disposable {
  readonly conn: Deno.Conn;
  #buffer = new Uint8Array(0);

  constructor(conn: Deno.Conn) {
    this.conn = conn;
  }

  static async connect(url: string): Promise<RawHttp> {
    return new RawHttp(await Deno.connect(hostPort(url)));
  }

  send(text: string | Uint8Array): Promise<void> {
    return writeAll(
      this.conn,
      typeof text === "string" ? encoder.encode(text) : text,
    );
  }

  /** Reads one response: its head, and its body by length or chunked. */
  async response(method = "GET"): Promise<Answer> {
    const head = decoder.decode(await this.#until("\r\n\r\n"));
    const [status, ...lines] = head.slice(0, -4).split("\r\n");
    const headers = new Map<string, string>();
    for (const line of lines) {
      const at = line.indexOf(":");
      headers.set(line.slice(0, at).toLowerCase(), line.slice(at + 1).trim());
    }
    const code = Number(status!.split(" ")[1]);
    let body = "";
    if (method === "HEAD" || code === 100 || code === 204) {
      // no body
    } else if (headers.get("transfer-encoding") === "chunked") {
      while (true) {
        const size = parseInt(decoder.decode(await this.#until("\r\n")), 16);
        if (size === 0) {
          await this.#until("\r\n");
          break;
        }
        body += decoder.decode(await this.#take(size));
        await this.#until("\r\n");
      }
    } else {
      body = decoder.decode(
        await this.#take(Number(headers.get("content-length") ?? 0)),
      );
    }
    return { status: code, headers, body };
  }

  /** Everything until the server closes the connection. */
  async rest(): Promise<string> {
    let text = decoder.decode(this.#buffer);
    this.#buffer = new Uint8Array(0);
    const buffer = new Uint8Array(4096);
    while (true) {
      const n = await this.conn.read(buffer).catch(() => null);
      if (n === null) return text;
      text += decoder.decode(buffer.subarray(0, n));
    }
  }

  /** Reads until `text` has come: an event stream's head and events. */
  async until(text: string): Promise<string> {
    return decoder.decode(await this.#until(text));
  }

  /** Whether the server closed the connection (rather than sending more). */
  async closed(): Promise<boolean> {
    if (this.#buffer.length > 0) return false;
    const n = await this.conn.read(new Uint8Array(16)).catch(() => null);
    return n === null;
  }

  async #until(end: string): Promise<Uint8Array> {
    const needle = encoder.encode(end);
    while (true) {
      const at = indexOf(this.#buffer, needle);
      if (at >= 0) return this.#take(at + needle.length);
      await this.#more();
    }
  }

  async #take(n: number): Promise<Uint8Array> {
    while (this.#buffer.length < n) await this.#more();
    const taken = this.#buffer.slice(0, n);
    this.#buffer = this.#buffer.slice(n);
    return taken;
  }

  async #more(): Promise<void> {
    const chunk = new Uint8Array(16 * 1024);
    const n = await this.conn.read(chunk);
    if (n === null) throw new Error("the server closed the connection");
    const joined = new Uint8Array(this.#buffer.length + n);
    joined.set(this.#buffer);
    joined.set(chunk.subarray(0, n), this.#buffer.length);
    this.#buffer = joined;
  }

  [Symbol.dispose](): void {
    try {
      this.conn.close();
    } catch {
      // Closed by the server.
    }
  }
}

function indexOf(haystack: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) {
      if (haystack[i + j] !== needle[j]) continue outer;
    }
    return i;
  }
  return -1;
}

function httpOf(server: MistServer): string {
  return addressOf(server, "http");
}

const PUBLISH = '{"command":"publish","tags":["a"],"data":"hi"}';

Deno.test("keep-alive: two requests on one connection, each answered with a content-length", async () => {
  await using server = await allServer();
  using client = await RawHttp.connect(httpOf(server));
  for (const path of ["/ping", "/health/live"]) {
    await client.send(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
    const answer = await client.response();
    assert.equal(answer.status, 200, path);
    assert.equal(
      Number(answer.headers.get("content-length")),
      encoder.encode(answer.body).length,
    );
    assert.equal(answer.headers.get("connection"), undefined);
  }
  // Connection: close is honoured: answered, then closed.
  await client.send("HEAD /ping HTTP/1.1\r\nConnection: close\r\n\r\n");
  const last = await client.response("HEAD");
  assert.equal(last.status, 200);
  assert.equal(last.headers.get("content-length"), "5");
  assert.equal(last.headers.get("connection"), "close");
  assert.ok(await client.closed());
});

Deno.test("HTTP/1.0 is closed after its response unless it asks for keep-alive", async () => {
  await using server = await allServer();
  using plain = await RawHttp.connect(httpOf(server));
  await plain.send("GET /ping HTTP/1.0\r\n\r\n");
  assert.equal((await plain.response()).body, "pong\n");
  assert.ok(await plain.closed());
  using kept = await RawHttp.connect(httpOf(server));
  await kept.send("GET /ping HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  const answer = await kept.response();
  assert.equal(answer.headers.get("connection"), "keep-alive");
  await kept.send("GET /ping HTTP/1.0\r\n\r\n");
  assert.equal((await kept.response()).body, "pong\n");
  assert.ok(await kept.closed());
});

Deno.test("pipelined requests, sent in one write, are answered in order", async () => {
  await using server = await allServer();
  using client = await RawHttp.connect(httpOf(server));
  await client.send(
    "GET /ping HTTP/1.1\r\n\r\n" +
      `POST /publish HTTP/1.1\r\ncontent-length: ${PUBLISH.length}\r\n\r\n${PUBLISH}` +
      "GET /nowhere HTTP/1.1\r\n\r\n" +
      "GET /health/live HTTP/1.1\r\n\r\n",
  );
  assert.equal((await client.response()).body, "pong\n");
  assert.equal((await client.response()).status, 202);
  assert.equal((await client.response()).status, 404);
  assert.match((await client.response()).body, /"check":"live"/);
});

Deno.test("a chunked request body is read to its end, and the connection goes on", async () => {
  await using server = await allServer();
  using client = await RawHttp.connect(httpOf(server));
  const [a, b] = [PUBLISH.slice(0, 10), PUBLISH.slice(10)];
  await client.send(
    "POST /publish HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" +
      `${a.length.toString(16)}\r\n${a}\r\n` +
      `${b.length.toString(16)};ext=1\r\n${b}\r\n0\r\nTrailer: x\r\n\r\n` +
      "GET /ping HTTP/1.1\r\n\r\n",
  );
  const published = await client.response();
  assert.equal(published.status, 202, published.body);
  assert.deepEqual(JSON.parse(published.body), {
    command: "publish",
    tags: ["a"],
    data: "ok",
  });
  assert.equal((await client.response()).body, "pong\n");
});

Deno.test("Expect: 100-continue gets 100 Continue once the route reads the body; a refused one gets its answer and no 100", async () => {
  await using server = await allServer({ limits: { maxMessageBytes: 1024 } });
  using client = await RawHttp.connect(httpOf(server));
  await client.send(
    `POST /publish HTTP/1.1\r\nExpect: 100-continue\r\ncontent-length: ${PUBLISH.length}\r\n\r\n`,
  );
  assert.equal((await client.response()).status, 100);
  await client.send(PUBLISH);
  assert.equal((await client.response()).status, 202);
  // Too large by its length: refused before a byte of it is asked for,
  // and the connection, which cannot be read past a body it held back, ends.
  await client.send(
    "POST /publish HTTP/1.1\r\nExpect: 100-continue\r\ncontent-length: 5000\r\n\r\n",
  );
  const refused = await client.response();
  assert.equal(refused.status, 413);
  assert.deepEqual(JSON.parse(refused.body), {
    command: "publish",
    error: "message too large",
  });
  assert.ok(await client.closed());
});

Deno.test("request smuggling: both Content-Length and Transfer-Encoding, or a bad length, get 400 and the connection ends", async (t) => {
  await using server = await allServer();
  const cases: [string, string][] = [
    [
      "both",
      "POST /publish HTTP/1.1\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    ],
    [
      "two lengths",
      "POST /publish HTTP/1.1\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde",
    ],
    [
      "a length that is no number",
      "POST /publish HTTP/1.1\r\nContent-Length: 4x\r\n\r\n",
    ],
    [
      "a negative length",
      "POST /publish HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
    ],
    ["a method the platform refuses", "TRACE / HTTP/1.1\r\n\r\n"],
    [
      "a bad chunk size",
      "POST /publish HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n\r\n",
    ],
  ];
  for (const [name, request] of cases) {
    await t.step(name, async () => {
      using client = await RawHttp.connect(httpOf(server));
      // A second request rides behind: it must never be answered.
      await client.send(request + "GET /ping HTTP/1.1\r\n\r\n");
      const answer = await client.response();
      assert.equal(answer.status, 400, answer.body);
      assert.ok(await client.closed(), "closed, the ping never answered");
    });
  }
  await t.step("another coding gets 501", async () => {
    using client = await RawHttp.connect(httpOf(server));
    await client.send(
      "POST /publish HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
    );
    assert.equal((await client.response()).status, 501);
    assert.ok(await client.closed());
  });
});

Deno.test("a body over max-message-size is refused without being read whole: by its length at once, chunked once past the limit", async () => {
  const max = 64 * 1024;
  await using server = await allServer({ limits: { maxMessageBytes: max } });
  const received = () =>
    server.stats().listeners.find((l) => l.url.startsWith("http:"))!
      .bytesReceived;
  const before = received();
  using declared = await RawHttp.connect(httpOf(server));
  // Announces a gigabyte and sends none of it: answered from the head.
  await declared.send(
    "POST /publish HTTP/1.1\r\ncontent-length: 1000000000\r\n\r\n",
  );
  assert.equal((await declared.response()).status, 413);
  using chunked = await RawHttp.connect(httpOf(server));
  await chunked.send(
    "POST /publish HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
  );
  // 16 MiB offered in chunks of 64 KiB: the server stops reading past the
  // limit, so the writes stall or fail; the reader never sees more than
  // about the limit.
  const piece = encoder.encode(
    `10000\r\n${" ".repeat(0x10000)}\r\n`,
  );
  const writing = (async () => {
    for (let i = 0; i < 256; i++) await chunked.send(piece);
  })().catch(() => {});
  const answer = await chunked.response();
  assert.equal(answer.status, 413);
  chunked.conn.close();
  await writing;
  const read = received() - before;
  assert.ok(read < max + 256 * 1024, `the listener read ${read} bytes`);
});

Deno.test("a request head that never ends is closed at request-timeout, on its first request and between keep-alive requests", async () => {
  await using server = await allServer({ requestTimeoutMs: 200 });
  using stuck = await RawHttp.connect(httpOf(server));
  await stuck.send("GET /ping HTTP/1.1\r\nHost: x\r\n");
  assert.ok(await stuck.closed(), "closed with nothing answered");
  using idle = await RawHttp.connect(httpOf(server));
  await idle.send("GET /ping HTTP/1.1\r\n\r\n");
  assert.equal((await idle.response()).status, 200);
  assert.ok(await idle.closed(), "an idle keep-alive connection ends too");
});

Deno.test("a body that stops coming is closed at request-timeout, and no publish is made of it", async () => {
  await using server = await allServer({ requestTimeoutMs: 200 });
  using slow = await RawHttp.connect(httpOf(server));
  await slow.send(
    `POST /publish HTTP/1.1\r\nHost: x\r\nContent-Length: ${PUBLISH.length}\r\n\r\n${
      PUBLISH.slice(0, 10)
    }`,
  );
  assert.ok(await slow.closed(), "closed with nothing answered");
  // An event stream is not cut by the deadline once it is answered.
  using stream = await RawHttp.connect(httpOf(server));
  await stream.send("GET /subscribe?tags=a HTTP/1.1\r\nHost: x\r\n\r\n");
  assert.match(await stream.until("\r\n\r\n"), /^HTTP\/1.1 200 /);
  await new Promise((resolve) => setTimeout(resolve, 400));
  using publisher = await RawHttp.connect(httpOf(server));
  await publisher.send(
    `POST /publish HTTP/1.1\r\nHost: x\r\nContent-Length: ${PUBLISH.length}\r\n\r\n${PUBLISH}`,
  );
  assert.equal((await publisher.response()).status, 202);
  assert.match(await stream.until('"hi"'), /"hi"/);
});

const certificate = await testCertificate();

Deno.test({
  name:
    "https://: a client that sends no request head after its handshake is closed at request-timeout; no HTTP/2 is agreed by ALPN",
  ignore: certificate === undefined,
  async fn() {
    const { ca, cert, key } = certificate!;
    await using server = await serve({
      listeners: ["https://127.0.0.1:0"],
      tls: { cert, key },
      requestTimeoutMs: 200,
    });
    const url = addressOf(server, "https");
    using quiet = await Deno.connectTls({
      ...hostPort(url),
      caCerts: [ca],
      alpnProtocols: ["h2", "http/1.1"],
    });
    const { alpnProtocol } = await quiet.handshake();
    assert.equal(alpnProtocol, null);
    const n = await quiet.read(new Uint8Array(16)).catch(() => null);
    assert.equal(n, null);
    // A client that asks is served, over keep-alive.
    using tls = await Deno.connectTls({ ...hostPort(url), caCerts: [ca] });
    const client = new RawHttp(tls);
    for (let i = 0; i < 2; i++) {
      await client.send("GET /ping HTTP/1.1\r\nHost: localhost\r\n\r\n");
      assert.equal((await client.response()).body, "pong\n");
    }
  },
});

Deno.test("the http:// upgrade refuses a WebSocket message over max-message-size from its header, before any of its payload", async () => {
  await using server = await allServer({ limits: { maxMessageBytes: 1024 } });
  using conn = await Deno.connect(hostPort(httpOf(server)));
  const raw = await RawWebSocket.handshake(conn);
  // A text frame announcing 60 MiB, masked with zeros, and none of its payload.
  const header = new Uint8Array(14);
  header[0] = 0x81;
  header[1] = 0x80 | 127;
  new DataView(header.buffer).setBigUint64(2, BigInt(60 * 1024 * 1024));
  await writeAll(conn, header);
  assert.deepEqual(JSON.parse((await raw.readText())!), {
    command: "",
    error: "message too large",
  });
});

Deno.test("closing the server ends an idle keep-alive connection and an event stream, and the listener finishes", async () => {
  const server = await allServer();
  using idle = await RawHttp.connect(httpOf(server));
  await idle.send("GET /ping HTTP/1.1\r\n\r\n");
  assert.equal((await idle.response()).status, 200);
  using events = await RawHttp.connect(httpOf(server));
  await events.send("GET /subscribe?tags=a HTTP/1.1\r\n\r\n");
  // The stream's head; its first chunk is the ": subscribed" comment.
  const head = await events.response("HEAD");
  assert.equal(head.headers.get("transfer-encoding"), "chunked");
  await server.close();
  assert.ok(await idle.closed(), "the idle connection is closed");
  // The stream ends cleanly: its last chunk, then the close.
  assert.match(await events.rest(), /: subscribed\n\n\r\n0\r\n\r\n$/);
});
