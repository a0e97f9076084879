/**
 * WebSocket on the HTTP listener's upgrade paths (src/listeners/ws_http.ts,
 * served by ws_session.ts as on ws://): the protocol suite (docs/protocol.md
 * §2–§7) with one JSON object per text frame, at both upgrade paths, then
 * what only WebSocket has: binary frames, readers that stop reading,
 * handshakes that never finish.
 */

import assert from "node:assert/strict";
import {
  addressOf,
  allServer,
  eventually,
  hostPort,
  LineClient,
  publishThrough,
  RawWebSocket,
  writeAll,
  WsClient,
} from "../_helpers.ts";
import { PONG, protocolSuite } from "../_protocol_suite.ts";

protocolSuite(
  "WebSocket",
  (server) => WsClient.connect(addressOf(server, "ws")),
);
protocolSuite(
  "WebSocket at /",
  (server) => WsClient.connect(`${addressOf(server, "ws")}/`),
);

// The rest of what this test once checked at both paths (ping, ids, invalid
// JSON, a frame too large, missing tags, unknown commands) is the protocol
// suite, run above at both paths.
Deno.test("binary frames are refused at both upgrade paths, and the session goes on", async (t) => {
  await using server = await allServer();
  for (const path of ["/subscribe/websocket", "/"]) {
    await t.step(`at ${path}`, async () => {
      await using ws = await WsClient.connect(
        addressOf(server, "ws").replace(/^ws:\/\/([^/]+).*/, `ws://$1${path}`),
      );
      assert.deepEqual(await ws.request(new Uint8Array([1, 2, 3])), {
        command: "",
        error: "invalid message: binary frames are not supported",
      });
      assert.deepEqual(await ws.request({ command: "ping" }), PONG);
    });
  }
});

Deno.test("a WebSocket client that stops reading loses newer messages, is told how many, and slows nobody", async () => {
  const queueBytes = 256 * 1024;
  await using server = await allServer({ queueBytes });
  await using fast = await WsClient.connect(addressOf(server, "ws"));
  await using publisher = await LineClient.connect(addressOf(server, "tcp"));
  using conn = await Deno.connect(hostPort(addressOf(server, "ws")));
  const slow = await RawWebSocket.handshake(conn);
  await slow.sendText('{"command":"subscribe","tags":["bulk"]}');
  await slow.sendText('{"command":"ping"}');
  assert.match((await slow.readText())!, /pong/);
  await fast.send({ command: "subscribe", tags: ["bulk"] });
  await fast.sync();

  const count = 24 * 1024;
  await publishThrough(publisher, fast, "bulk", count);
  const ws = server.stats().listeners.find((l) => l.url.startsWith("ws"))!;
  assert.ok(ws.dropped > 0, "the slow reader lost messages");
  // Its queue stayed within its bound, and the socket's own buffer is capped too.
  assert.ok(server.stats().peakQueuedBytes <= queueBytes);

  let received = 0, lost = 0, last = -1;
  while (received + lost < count) {
    const message = JSON.parse((await slow.readText())!);
    if (message.command === "dropped") {
      lost += Number(message.data);
      continue;
    }
    const seq = Number(message.data.split(" ")[0]);
    assert.ok(seq > last);
    last = seq;
    received++;
  }
  assert.equal(received + lost, count);
  assert.equal(lost, ws.dropped);
});

Deno.test("a client that never finishes its WebSocket handshake harms nobody", async () => {
  await using server = await allServer();
  const wsUrl = addressOf(server, "ws");
  using stuck = await Deno.connect(hostPort(wsUrl));
  await writeAll(
    stuck,
    new TextEncoder().encode(
      "GET /subscribe/websocket HTTP/1.1\r\nHost: x\r\nUpgr",
    ),
  );
  using garbage = await Deno.connect(hostPort(wsUrl));
  await writeAll(garbage, new Uint8Array(1000).fill(0xff));
  await using ws = await WsClient.connect(wsUrl);
  assert.deepEqual(await ws.request({ command: "ping" }), PONG);
});

Deno.test("a ws:// client that sends requests but never reads is read no further, bounded", async () => {
  const queueBytes = 64 * 1024;
  await using server = await allServer({ queueBytes });
  const wsUrl = addressOf(server, "ws");
  const conn = await Deno.connect(hostPort(wsUrl));
  const rude = await RawWebSocket.handshake(conn);
  // Each request's error reply echoes its 60 KB of tags: far more replies
  // than the socket and the queue hold.
  const tags = Array.from({ length: 60 }, (_, i) => `${i}`.padEnd(1000, "x"));
  const request = JSON.stringify({ command: "nope", tags });
  const count = 2000;
  let sent = 0;
  const sending = (async () => {
    try {
      for (; sent < count; sent++) await rude.sendText(request);
    } catch {
      // Closed under us at the end of the test.
    }
  })();
  const listener = () =>
    server.stats().listeners.find((l) => l.url.startsWith("ws:"))!;
  await eventually(
    () => server.stats().peakQueuedBytes >= queueBytes,
    "the rude client's queue to fill",
  );
  // The server stops reading it rather than dropping it: the client's
  // writes block, and what the server read stays far below what it sent.
  await using other = await WsClient.connect(wsUrl);
  assert.deepEqual(await other.request({ command: "ping" }), PONG);
  assert.equal(listener().connections, 2);
  assert.ok(sent < count, `the rude client's writes block (sent ${sent})`);
  assert.ok(
    listener().bytesReceived < (count * request.length) / 4,
    `read ${listener().bytesReceived} bytes`,
  );
  assert.ok(server.stats().peakQueuedBytes <= 2 * queueBytes + 64 * 1024);
  conn.close();
  await sending;
  await eventually(
    () => listener().connections === 1,
    "the rude client to be gone",
  );
});
