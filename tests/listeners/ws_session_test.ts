/**
 * The session of an upgraded `ws://` connection (src/listeners/ws_session.ts)
 * in line mode: a frame of many requests whose replies the client does not
 * read is handed over line by line, stopping mid-frame while the queue is
 * full and going on from the next line once it drains.
 */

import assert from "node:assert/strict";
import {
  addressOf,
  allServer,
  eventually,
  hostPort,
  RawWebSocket,
} from "../_helpers.ts";

Deno.test("line mode: a frame's requests are read no further while the queue is full, then every one is answered, in order", async () => {
  const queueBytes = 64 * 1024;
  await using server = await allServer({ queueBytes });
  const conn = await Deno.connect(hostPort(addressOf(server, "ws")));
  const raw = await RawWebSocket.handshake(conn, "/subscribe/websocket", {
    "Sec-WebSocket-Protocol": "mist.lines",
  });
  // Each error reply echoes 10 KB of tags: 20 frames of 90 requests want
  // 18 MB of replies, far more than the socket and the queue hold.
  const tags = Array.from({ length: 10 }, (_, i) => `${i}`.padEnd(1000, "x"));
  const frames = 20, perFrame = 90;
  let id = 0;
  const sending = (async () => {
    for (let f = 0; f < frames; f++) {
      let text = "";
      for (let i = 0; i < perFrame; i++) {
        // Now and then a CRLF ending or a blank line, which line mode allows.
        const end = id % 7 === 0 ? "\r\n" : id % 11 === 0 ? "\n\n" : "\n";
        text += JSON.stringify({ command: "nope", id: id++, tags }) + end;
      }
      await raw.sendText(text);
    }
  })();
  await eventually(
    () => server.stats().peakQueuedBytes >= queueBytes,
    "the queue to fill",
  );
  let next = 0;
  while (next < frames * perFrame) {
    const text = await raw.readText();
    assert.ok(text !== undefined, `closed after ${next} replies`);
    for (const line of text.split("\n").filter((l) => l !== "")) {
      const reply = JSON.parse(line);
      assert.equal(reply.id, next, "every reply, in order");
      assert.equal(reply.error, "Unknown Command");
      next++;
    }
  }
  await sending;
  // Bounded: the queue, plus one reply forced past it, plus one write chunk.
  assert.ok(
    server.stats().peakQueuedBytes <= queueBytes + 11_000 + 256 * 1024,
    `peak ${server.stats().peakQueuedBytes}`,
  );
  conn.close();
});
