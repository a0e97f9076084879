/**
 * The `ws://` listener (src/listeners/ws_listener.ts, ws_http.ts): the
 * protocol suite in line mode (`mist.lines`, docs/protocol.md §1) on it and on
 * the `http://` listener's upgrade, then what only this listener has: its own
 * request head and upgrade checks, its deadline, and malformed frames on the
 * wire.
 */

import assert from "node:assert/strict";
import type { Message } from "../../src/protocol/codec.ts";
import {
  addressOf,
  allServer,
  eventually,
  hostPort,
  RawWebSocket,
  writeAll,
  WsClient,
} from "../_helpers.ts";
import { PONG, protocolSuite } from "../_protocol_suite.ts";
import { serve } from "../../src/server/server.ts";
import { MemoryAuthenticator } from "../../src/auth/memory.ts";
import { testCertificate } from "../_certificates.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

protocolSuite(
  "WebSocket line mode",
  (server) => WsClient.connect(addressOf(server, "ws"), {}, true),
);

Deno.test("line mode on the http:// upgrade: packed frames both ways", async () => {
  await using server = await allServer();
  await using subscriber = await WsClient.connect(
    addressOf(server, "http"),
    {},
    true,
  );
  await using publisher = await WsClient.connect(
    addressOf(server, "http"),
    {},
    true,
  );
  await subscriber.send({ command: "subscribe", tags: ["a"] });
  await subscriber.sync();
  const frames = Array.from(
    { length: 50 },
    (_, i) => JSON.stringify({ command: "publish", tags: ["a"], data: `${i}` }),
  );
  await publisher.sendFrames(frames);
  await publisher.sync();
  for (let i = 0; i < 50; i++) {
    assert.deepEqual(await subscriber.next(), {
      command: "publish",
      tags: ["a"],
      data: `${i}`,
    });
  }
});

Deno.test("line mode packs a flush into few frames, none over max-message-size", async () => {
  const maxMessageBytes = 4096;
  await using server = await allServer({ limits: { maxMessageBytes } });
  for (const scheme of ["ws", "http"]) {
    const conn = await Deno.connect(hostPort(addressOf(server, scheme)));
    const raw = await RawWebSocket.handshake(conn, "/subscribe/websocket", {
      "Sec-WebSocket-Protocol": "mist.lines",
    });
    // One text frame, 200 requests: 200 pongs come back packed.
    await raw.sendText('{"command":"ping"}\n'.repeat(200));
    let pongs = 0, frames = 0;
    while (pongs < 200) {
      const text = (await raw.readText())!;
      assert.ok(encoder.encode(text).length <= maxMessageBytes, scheme);
      assert.ok(text.endsWith("\n"));
      frames++;
      for (const line of text.split("\n").filter((l) => l !== "")) {
        assert.deepEqual(JSON.parse(line), PONG);
        pongs++;
      }
    }
    assert.ok(frames < 50, `${scheme}: ${frames} frames for 200 replies`);
    conn.close();
  }
});

/** Sends raw bytes on a new connection and reads until the server closes it. */
async function exchange(url: string, request: string | Uint8Array) {
  using conn = await Deno.connect(hostPort(url));
  await writeAll(
    conn,
    typeof request === "string" ? encoder.encode(request) : request,
  );
  let text = "";
  const buffer = new Uint8Array(64 * 1024);
  while (true) {
    const n = await conn.read(buffer).catch(() => null);
    if (n === null) return text;
    text += decoder.decode(buffer.subarray(0, n));
  }
}

function upgradeRequest(headers: Record<string, string>, path = "/") {
  const all: Record<string, string> = {
    Host: "localhost",
    Upgrade: "websocket",
    Connection: "keep-alive, Upgrade",
    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
    "Sec-WebSocket-Version": "13",
    ...headers,
  };
  return `GET ${path} HTTP/1.1\r\n` +
    Object.entries(all).filter(([, v]) => v !== "").map(([k, v]) =>
      `${k}: ${v}\r\n`
    ).join("") + "\r\n";
}

Deno.test("the ws:// listener serves its routes and refuses the rest with clear errors", async (t) => {
  await using server = await allServer();
  const url = addressOf(server, "ws");
  const cases: [string, string, RegExp][] = [
    [
      "GET /ping",
      "GET /ping HTTP/1.1\r\nHost: x\r\n\r\n",
      /^HTTP\/1\.1 200 [^]*\r\n\r\npong\n$/,
    ],
    [
      "HEAD /ping",
      "HEAD /ping HTTP/1.1\r\nHost: x\r\n\r\n",
      /^HTTP\/1\.1 200 [^]*content-length: 5\r\n[^]*\r\n\r\n$/,
    ],
    [
      "GET /health/live",
      "GET /health/live HTTP/1.1\r\n\r\n",
      /^HTTP\/1\.1 200 [^]*"check":"live"/,
    ],
    [
      "GET /health",
      "GET /health HTTP/1.1\r\n\r\n",
      /^HTTP\/1\.1 200 [^]*"check":"ready"/,
    ],
    [
      "an unknown path",
      "GET /metrics HTTP/1.1\r\n\r\n",
      /^HTTP\/1\.1 404 [^]*\{"error":"not found"\}/,
    ],
    [
      "POST /ping",
      "POST /ping HTTP/1.1\r\ncontent-length: 0\r\n\r\n",
      /^HTTP\/1\.1 405 [^]*allow: GET, HEAD/,
    ],
    [
      "no upgrade",
      "GET /subscribe/websocket HTTP/1.1\r\n\r\n",
      /^HTTP\/1\.1 426 [^]*expected a WebSocket upgrade/,
    ],
    ["a bad request line", "HELLO\r\n\r\n", /^HTTP\/1\.1 400 /],
    [
      "a bad header line",
      "GET /ping HTTP/1.1\r\nno colon\r\n\r\n",
      /^HTTP\/1\.1 400 /,
    ],
    [
      "no Connection: upgrade",
      upgradeRequest({ Connection: "keep-alive" }),
      /^HTTP\/1\.1 400 [^]*Connection header must include upgrade/,
    ],
    [
      "version 8",
      upgradeRequest({ "Sec-WebSocket-Version": "8" }),
      /^HTTP\/1\.1 426 [^]*sec-websocket-version: 13[^]*must be 13/,
    ],
    [
      "no key",
      upgradeRequest({ "Sec-WebSocket-Key": "" }),
      /^HTTP\/1\.1 400 [^]*Sec-WebSocket-Key must be 16 bytes/,
    ],
    [
      "a short key",
      upgradeRequest({ "Sec-WebSocket-Key": "c2hvcnQ=" }),
      /^HTTP\/1\.1 400 [^]*Sec-WebSocket-Key/,
    ],
    [
      "HTTP/1.0",
      upgradeRequest({}).replace("HTTP/1.1", "HTTP/1.0"),
      /^HTTP\/1\.1 400 [^]*HTTP\/1\.1 is required/,
    ],
    [
      "a head over 8 KiB",
      `GET /ping HTTP/1.1\r\nX: ${"x".repeat(9000)}\r\n\r\n`,
      /^HTTP\/1\.1 431 /,
    ],
  ];
  for (const [name, request, expected] of cases) {
    await t.step(name, async () => {
      assert.match(await exchange(url, request), expected);
    });
  }
  await t.step("the upgrade answers the RFC 6455 accept key", async () => {
    using conn = await Deno.connect(hostPort(url));
    await writeAll(conn, encoder.encode(upgradeRequest({})));
    const buffer = new Uint8Array(4096);
    const n = (await conn.read(buffer))!;
    const head = decoder.decode(buffer.subarray(0, n));
    assert.match(head, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
    // The example of RFC 6455 §1.3.
    assert.match(
      head,
      /Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=\r\n/,
    );
    assert.doesNotMatch(head, /Sec-WebSocket-Protocol/);
  });
});

Deno.test("a bad token is refused with 401 before the upgrade; a good one in any-case query works", async () => {
  await using server = await serve({
    listeners: ["ws://127.0.0.1:0"],
    authenticator: new MemoryAuthenticator(),
    token: "admin-secret",
  });
  const url = addressOf(server, "ws");
  assert.match(
    await exchange(url, upgradeRequest({ "X-AUTH-TOKEN": "wrong" })),
    /^HTTP\/1\.1 401 [^]*"error":"invalid token"/,
  );
  await using admin = await WsClient.connect(
    `${url}/subscribe/websocket?X-Auth-Token=admin-secret`,
  );
  assert.deepEqual(await admin.request({ command: "listall" }), {
    command: "listall",
    tags: [],
    data: "",
  });
});

Deno.test("a client that does not finish its request head in request-timeout is closed", async () => {
  await using server = await allServer({ requestTimeoutMs: 100 });
  const url = addressOf(server, "ws");
  using stuck = await Deno.connect(hostPort(url));
  await writeAll(stuck, encoder.encode("GET /ping HTTP/1.1\r\nHost: x\r\n"));
  // The server closes it: the read ends, with nothing answered.
  const n = await stuck.read(new Uint8Array(16)).catch(() => null);
  assert.equal(n, null);
  // An upgraded connection is past the deadline and stays.
  await using ws = await WsClient.connect(url);
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.deepEqual(await ws.request({ command: "ping" }), PONG);
});

/** A masked client frame with any header bits. */
function frame(
  first: number,
  payload: Uint8Array,
  { masked = true, announce = payload.length } = {},
): Uint8Array {
  const length = announce < 126
    ? [announce]
    : announce < 65536
    ? [126, announce >> 8, announce & 0xff]
    : [
      127,
      0,
      0,
      0,
      0,
      ...new Uint8Array(new Uint32Array([announce]).buffer).reverse(),
    ];
  length[0] = length[0]! | (masked ? 0x80 : 0);
  const mask = masked ? [1, 2, 3, 4] : [];
  const body = payload.map((b, i) => masked ? b ^ mask[i % 4]! : b);
  return new Uint8Array([first, ...length, ...mask, ...body]);
}

/** The close frame the server sends, as [code], or null when it just closes. */
async function closeCodeAfter(url: string, bytes: Uint8Array) {
  using conn = await Deno.connect(hostPort(url));
  await RawWebSocket.handshake(conn);
  await writeAll(conn, bytes);
  let received = new Uint8Array(0);
  const buffer = new Uint8Array(4096);
  while (true) {
    const n = await conn.read(buffer).catch(() => null);
    if (n === null) break;
    received = new Uint8Array([...received, ...buffer.subarray(0, n)]);
  }
  // The last frame is the close frame: 0x88, its length, the code, a reason.
  const at = received.lastIndexOf(0x88);
  assert.ok(at >= 0, "a close frame");
  return (received[at + 2]! << 8) | received[at + 3]!;
}

Deno.test("malformed frames end the connection with the RFC 6455 close code, and harm nobody", async (t) => {
  await using server = await allServer();
  const url = addressOf(server, "ws");
  const text = encoder.encode('{"command":"ping"}');
  const cases: [string, Uint8Array, number][] = [
    ["an unmasked frame", frame(0x81, text, { masked: false }), 1002],
    ["reserved bits set", frame(0xc1, text), 1002],
    ["invalid UTF-8", frame(0x81, new Uint8Array([0x7b, 0xc3, 0x28])), 1007],
    ["a continuation of nothing", frame(0x80, text), 1002],
    [
      "a close with code 1000 is echoed",
      frame(0x88, new Uint8Array([3, 0xe8])),
      1000,
    ],
  ];
  for (const [name, bytes, code] of cases) {
    await t.step(name, async () => {
      assert.equal(await closeCodeAfter(url, bytes), code);
    });
  }
  await using ws = await WsClient.connect(url);
  assert.deepEqual(await ws.request({ command: "ping" }), PONG);
  await eventually(
    () =>
      server.stats().listeners.find((l) => l.url.startsWith("ws:"))!
        .connections === 1,
    "the refused connections to be gone",
  );
});

Deno.test("fragments and pings between them, and a message too large skipped without ending the session", async () => {
  await using server = await allServer({ limits: { maxMessageBytes: 1024 } });
  using conn = await Deno.connect(hostPort(addressOf(server, "ws")));
  const raw = await RawWebSocket.handshake(conn);
  const parts = ['{"command":', '"ping","id":', "7}"].map((p) =>
    encoder.encode(p)
  );
  await writeAll(
    raw.conn,
    new Uint8Array([
      ...frame(0x01, parts[0]!),
      ...frame(0x89, encoder.encode("hb")),
      ...frame(0x00, parts[1]!),
      ...frame(0x80, parts[2]!),
      // Announces 2 KiB, over the maximum: refused, its payload skipped.
      ...frame(0x81, new Uint8Array(2048).fill(0x20)),
      ...frame(0x81, encoder.encode('{"command":"ping"}')),
    ]),
  );
  assert.deepEqual(JSON.parse((await raw.readText())!), { ...PONG, id: 7 });
  assert.deepEqual(JSON.parse((await raw.readText())!), {
    command: "",
    error: "message too large",
  });
  assert.deepEqual(JSON.parse((await raw.readText())!), PONG);
});

Deno.test("Deno's WebSocket client and a message of 70,000 bytes, both ways", async () => {
  await using server = await allServer();
  await using a = await WsClient.connect(addressOf(server, "ws"));
  await using b = await WsClient.connect(addressOf(server, "ws"));
  await a.send({ command: "subscribe", tags: ["big"] });
  await a.sync();
  const data = "é".repeat(35_000);
  await b.send({ command: "publish", tags: ["big"], data });
  const message: Message = await a.next();
  assert.equal(message.data, data);
});

const certificate = await testCertificate();

Deno.test({
  name:
    "wss://: a client that sends no request head after its handshake is closed at request-timeout; one that never starts its handshake blocks nobody",
  ignore: certificate === undefined,
  async fn() {
    const { ca, cert, key } = certificate!;
    await using server = await serve({
      listeners: ["wss://127.0.0.1:0"],
      tls: { cert, key },
      requestTimeoutMs: 100,
    });
    const url = addressOf(server, "wss");
    // Deno cannot close a TLS connection whose handshake has not begun (see
    // docs/operations.md): this one is only shown to harm nobody else.
    using _silent = await Deno.connect(hostPort(url));
    using quiet = await Deno.connectTls({ ...hostPort(url), caCerts: [ca] });
    await quiet.handshake();
    using tls = await Deno.connectTls({ ...hostPort(url), caCerts: [ca] });
    const raw = await RawWebSocket.handshake(tls);
    await raw.sendText('{"command":"ping"}');
    assert.deepEqual(JSON.parse((await raw.readText())!), PONG);
    const n = await quiet.read(new Uint8Array(16)).catch(() => null);
    assert.equal(n, null);
  },
});

Deno.test("line mode: canonical publishes are forwarded as sent, and invalid UTF-8 outside data closes with 1007 before any line of its frame", async () => {
  await using server = await allServer();
  const url = addressOf(server, "ws");
  await using subscriber = await WsClient.connect(url);
  await subscriber.request({ command: "subscribe", tags: ["a"], id: 1 });
  using conn = await Deno.connect(hostPort(url));
  const raw = await RawWebSocket.handshake(conn, "/subscribe/websocket", {
    "sec-websocket-protocol": "mist.lines",
  });
  const lines = [
    '{"command":"publish","tags":["a"],"data":"é 1"}',
    '{"command":"publish","tags":["a"],"data":"2"}',
  ];
  await raw.sendText(lines.join("\n") + "\r\n\n");
  for (const line of lines) {
    assert.deepEqual(await subscriber.next(), JSON.parse(line));
  }
  // A frame whose second line has a byte that is not UTF-8 in a tag: the
  // whole frame is refused, its first (valid) line included.
  const bad = concatBytes(
    encoder.encode('{"command":"publish","tags":["a"],"data":"lost"}\n'),
    encoder.encode('{"command":"publish","tags":["a'),
    new Uint8Array([0xff]),
    encoder.encode('"],"data":"x"}\n'),
  );
  assert.equal(await closeCodeAfterLines(url, bad), 1007);
  await using other = await WsClient.connect(url);
  await other.send({ command: "publish", tags: ["a"], data: "after" });
  assert.deepEqual(await subscriber.next(), {
    command: "publish",
    tags: ["a"],
    data: "after",
  });
});

function concatBytes(...parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(parts.flatMap((p) => [...p]));
}

/** The close code the server sends after one masked text frame in line mode. */
async function closeCodeAfterLines(url: string, payload: Uint8Array) {
  using conn = await Deno.connect(hostPort(url));
  await RawWebSocket.handshake(conn, "/subscribe/websocket", {
    "sec-websocket-protocol": "mist.lines",
  });
  const mask = [1, 2, 3, 4];
  const header = payload.length < 126
    ? [0x81, 0x80 | payload.length]
    : [0x81, 0x80 | 126, payload.length >> 8, payload.length & 0xff];
  await writeAll(
    conn,
    new Uint8Array([
      ...header,
      ...mask,
      ...payload.map((b, i) => b ^ mask[i % 4]!),
    ]),
  );
  const received: number[] = [];
  const buffer = new Uint8Array(4096);
  while (true) {
    const n = await conn.read(buffer).catch(() => null);
    if (n === null) break;
    received.push(...buffer.subarray(0, n));
  }
  const at = received.lastIndexOf(0x88);
  assert.ok(at >= 0, "a close frame");
  return (received[at + 2]! << 8) | received[at + 3]!;
}
