/**
 * The TCP listener (src/listeners/tcp.ts) over real sockets: the protocol
 * suite (docs/protocol.md §2–§7) with one JSON object per line, then what only
 * line framing has: bytes that are not UTF-8, a line too long to buffer,
 * lines cut or garbled by a dying client, a reader that stops reading.
 */

import assert from "node:assert/strict";
import {
  addressOf,
  eventually,
  hostPort,
  LineClient,
  publishThrough,
  tcpServer,
  writeAll,
} from "../_helpers.ts";
import { PONG, protocolSuite } from "../_protocol_suite.ts";

protocolSuite("TCP", (server) => LineClient.connect(addressOf(server, "tcp")));

Deno.test("§6 a line that is not UTF-8 gets invalid JSON, and the connection stays usable", async () => {
  await using server = await tcpServer();
  await using client = await LineClient.connect(server.addresses[0]!);
  await client.send(new Uint8Array([0xff, 0x0a]));
  assert.deepEqual(await client.next(), {
    command: "",
    error: "invalid JSON: not UTF-8",
  });
  assert.deepEqual(await client.request({ command: "ping" }), PONG);
});

Deno.test("§1 CRLF line endings are accepted", async () => {
  await using server = await tcpServer();
  await using client = await LineClient.connect(server.addresses[0]!);
  await client.send('{"command":"ping"}\r\n{"command":"ping","id":2}\r\n');
  assert.deepEqual(await client.next(), PONG);
  assert.deepEqual(await client.next(), { ...PONG, id: 2 });
});

Deno.test("§6 an oversize line is refused without being buffered, and the next line works", async () => {
  await using server = await tcpServer({ limits: { maxMessageBytes: 1024 } });
  const url = server.addresses[0]!;
  await using client = await LineClient.connect(url);
  await using other = await LineClient.connect(url);
  await other.send({ command: "subscribe", tags: ["big"] });
  await other.sync();
  // 16 MiB in one line, sent in pieces, then a good line.
  const piece = new TextEncoder().encode(
    '{"command":"publish","tags":["big"],"data":"' + "x".repeat(1 << 20),
  );
  const sending = (async () => {
    for (let i = 0; i < 16; i++) await client.send(piece);
    await client.send('"}\n{"command":"ping"}\n');
  })();
  assert.deepEqual(await client.next(), {
    command: "",
    error: "message too large",
  });
  await sending;
  assert.deepEqual(await client.next(), PONG);
  assert.deepEqual(await other.sync(), [], "nothing of it was published");
  assert.ok(server.stats().peakQueuedBytes < 1024, "nothing large was queued");
});

Deno.test("§6 abrupt and malformed connections never affect another connection", async () => {
  await using server = await tcpServer();
  const url = server.addresses[0]!;
  await using survivor = await LineClient.connect(url);
  await survivor.send({ command: "subscribe", tags: ["s"] });
  await survivor.sync();
  for (
    const junk of [
      '{"command":"publish","tags":["s"],"da', // cut mid-line
      "\x00\x01\x02\xff\xfe binary \n\n\n",
      '{"command":"subscribe","tags":["s"]}\n', // holds a subscription, then vanishes
      "{".repeat(100_000) + "\n",
    ]
  ) {
    const client = await LineClient.connect(url);
    await client.send(junk);
    await client.close();
  }
  // A connection that disconnects while the server still owes it replies.
  const rude = await LineClient.connect(url);
  await rude.send('{"command":"ping"}\n'.repeat(10_000));
  rude.conn.close();
  await rude.ended();

  await using publisher = await LineClient.connect(url);
  await publisher.send({ command: "publish", tags: ["s"], data: "still here" });
  await publisher.sync();
  assert.deepEqual(await survivor.sync(), [
    { command: "publish", tags: ["s"], data: "still here" },
  ]);
  // Every subscription of the departed connections is gone.
  await eventually(
    () => server.stats().subscriptions === 1,
    "only the survivor's subscription to remain",
  );
  assert.equal(server.stats().subscriptions, 1);
});

Deno.test("§7 a subscriber that stops reading loses newer messages, is told how many, and slows nobody", async () => {
  const queueBytes = 256 * 1024;
  await using server = await tcpServer({ queueBytes });
  const url = server.addresses[0]!;
  await using fast = await LineClient.connect(url);
  await using publisher = await LineClient.connect(url);
  // The slow subscriber is a bare socket we simply stop reading from.
  const slow = await Deno.connect(hostPort(url));
  const encoder = new TextEncoder();
  await writeAll(
    slow,
    encoder.encode(
      '{"command":"subscribe","tags":["bulk"]}\n{"command":"ping"}\n',
    ),
  );
  const pong = new Uint8Array(256);
  const n = await slow.read(pong);
  assert.match(new TextDecoder().decode(pong.subarray(0, n!)), /pong/);
  await fast.send({ command: "subscribe", tags: ["bulk"] });
  await fast.sync();

  // 32 MiB published, far past the slow reader's queue and socket buffers;
  // the fast subscriber gets every message, in order.
  const count = 32 * 1024;
  await publishThrough(publisher, fast, "bulk", count);
  const stats = server.stats();
  assert.ok(stats.listeners[0]!.dropped > 0, "the slow reader lost messages");
  assert.ok(
    stats.peakQueuedBytes <= queueBytes,
    `queue grew to ${stats.peakQueuedBytes} bytes, past ${queueBytes}`,
  );

  // The slow subscriber resumes: what it gets plus what it is told it lost is everything.
  await using reader = new LineClient(slow);
  let received = 0, lost = 0, last = -1;
  while (received + lost < count) {
    const message = await reader.next();
    if (message.command === "dropped") {
      lost += Number(message.data);
      continue;
    }
    const seq = Number(message.data!.split(" ")[0]);
    assert.ok(seq > last, "in order, nothing older dropped after newer");
    last = seq;
    received++;
  }
  assert.ok(lost > 0 && received > 0);
  assert.equal(received + lost, count);
  assert.equal(lost, stats.listeners[0]!.dropped);
});
