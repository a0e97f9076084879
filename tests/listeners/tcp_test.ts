/**
 * The protocol end to end over real TCP sockets: PROTOCOL.md §2, §3, §5, §6, §7.
 */

import assert from "node:assert/strict";
import {
  hostPort,
  LineClient,
  publishThrough,
  tcpServer,
} from "../_helpers.ts";

const PONG = { command: "ping", tags: [], data: "pong" };

Deno.test("§2 matching table: each subscription gets exactly the messages whose tags include it", async (t) => {
  await using server = await tcpServer();
  const url = server.addresses[0]!;
  const messages = [
    ["onefish"],
    ["twofish"],
    ["onefish", "twofish"],
    ["onefish", "twofish", "redfish"],
  ];
  const table: [string[], string[][]][] = [
    [["onefish"], [["onefish"], ["onefish", "twofish"], [
      "onefish",
      "twofish",
      "redfish",
    ]]],
    [["onefish", "twofish"], [["onefish", "twofish"], [
      "onefish",
      "twofish",
      "redfish",
    ]]],
    [["onefish", "twofish", "redfish"], [["onefish", "twofish", "redfish"]]],
    [["twofish", "onefish"], [["onefish", "twofish"], [
      "onefish",
      "twofish",
      "redfish",
    ]]],
  ];
  for (const [subscribed, receives] of table) {
    await t.step(`subscribed ${JSON.stringify(subscribed)}`, async () => {
      await using subscriber = await LineClient.connect(url);
      await using publisher = await LineClient.connect(url);
      await subscriber.send({ command: "subscribe", tags: subscribed });
      await subscriber.sync();
      for (const tags of messages) {
        await publisher.send({
          command: "publish",
          tags,
          data: tags.join("+"),
        });
      }
      await publisher.sync(); // every publish has been fanned out
      const got = await subscriber.sync();
      assert.deepEqual(
        got,
        receives.map((tags) => ({
          command: "publish",
          tags,
          data: tags.join("+"),
        })),
      );
    });
  }
});

Deno.test("§2 a connection receives a message once, even when several subscriptions match", async () => {
  await using server = await tcpServer();
  const url = server.addresses[0]!;
  await using subscriber = await LineClient.connect(url);
  await using publisher = await LineClient.connect(url);
  for (const tags of [["a", "x"], ["b", "c"], ["a"], ["c", "b", "a"]]) {
    await subscriber.send({ command: "subscribe", tags });
  }
  await subscriber.sync();
  await publisher.send({
    command: "publish",
    tags: ["a", "b", "c"],
    data: "1",
  });
  await publisher.sync();
  assert.deepEqual(await subscriber.sync(), [
    { command: "publish", tags: ["a", "b", "c"], data: "1" },
  ]);
});

Deno.test("§2 a publisher never receives its own message; tags are case-sensitive", async () => {
  await using server = await tcpServer();
  const url = server.addresses[0]!;
  await using alice = await LineClient.connect(url);
  await using bob = await LineClient.connect(url);
  for (const client of [alice, bob]) {
    await client.send({ command: "subscribe", tags: ["room"] });
    await client.sync();
  }
  await alice.send({ command: "publish", tags: ["room"], data: "from alice" });
  await alice.send({ command: "publish", tags: ["Room"], data: "other tag" });
  await alice.send({ command: "publish", tags: [" room"], data: "other tag" });
  assert.deepEqual(await alice.sync(), []);
  assert.deepEqual(await bob.sync(), [
    { command: "publish", tags: ["room"], data: "from alice" },
  ]);
});

Deno.test("§3 basic commands reply exactly as the protocol says", async (t) => {
  await using server = await tcpServer();
  const url = server.addresses[0]!;
  await using client = await LineClient.connect(url);
  await using other = await LineClient.connect(url);

  await t.step("ping", async () => {
    assert.deepEqual(await client.request({ command: "ping" }), PONG);
  });
  await t.step("list with no subscriptions", async () => {
    assert.deepEqual(await client.request({ command: "list" }), {
      command: "list",
      tags: [],
      data: "[]",
    });
  });
  await t.step(
    "subscribe has no reply; twice to one set is one subscription",
    async () => {
      await client.send({ command: "subscribe", tags: ["hello"] });
      await client.send({ command: "subscribe", tags: ["b", "a"] });
      await client.send({ command: "subscribe", tags: ["a", "b", "b"] });
      assert.deepEqual(await client.sync(), []);
      assert.deepEqual(await client.request({ command: "list" }), {
        command: "list",
        tags: [],
        data: '[["a","b"],["hello"]]',
      });
    },
  );
  await t.step(
    "unsubscribe removes the exact set only; a missing one is no error",
    async () => {
      await client.send({ command: "unsubscribe", tags: ["a"] });
      await client.send({ command: "unsubscribe", tags: ["nothing"] });
      await client.send({ command: "unsubscribe", tags: ["b", "a"] });
      assert.deepEqual(await client.sync(), []);
      assert.deepEqual(
        (await client.request({ command: "list" })).data,
        '[["hello"]]',
      );
    },
  );
  await t.step(
    "publish delivers the tags as published, empty data allowed",
    async () => {
      await other.send({
        command: "publish",
        tags: ["x", "hello", "x"],
        data: "",
      });
      await other.send({ command: "publish", tags: ["hello"] });
      await other.send({
        command: "publish",
        tags: ["hello"],
        data: "line\nbreak \u2603",
      });
      assert.deepEqual(await other.sync(), []);
      assert.deepEqual(await client.sync(), [
        { command: "publish", tags: ["x", "hello", "x"], data: "" },
        { command: "publish", tags: ["hello"], data: "" },
        { command: "publish", tags: ["hello"], data: "line\nbreak \u2603" },
      ]);
    },
  );
  await t.step(
    "auth is accepted and ignored while authentication is off",
    async () => {
      await client.send({ command: "auth", data: "whatever" });
      assert.deepEqual(await client.sync(), []);
    },
  );
  await t.step("commands are case-sensitive", async () => {
    assert.deepEqual(await client.request({ command: "PING" }), {
      command: "PING",
      error: "Unknown Command",
    });
  });
  await t.step(
    "CRLF line endings and the original Go client's null tags work",
    async () => {
      await client.send('{"command":"ping","tags":null}\r\n');
      assert.deepEqual(await client.next(), PONG);
    },
  );
});

Deno.test("§5 a request with an id gets exactly one reply with that id", async (t) => {
  await using server = await tcpServer();
  const url = server.addresses[0]!;
  await using client = await LineClient.connect(url);
  await using other = await LineClient.connect(url);
  const cases: [object, object][] = [
    [{ command: "ping", id: 1 }, { ...PONG, id: 1 }],
    [{ command: "subscribe", tags: ["t"], id: "s" }, {
      command: "subscribe",
      id: "s",
      tags: ["t"],
      data: "ok",
    }],
    [{ command: "list", id: 2 }, {
      command: "list",
      tags: [],
      data: '[["t"]]',
      id: 2,
    }],
    [{ command: "auth", data: "secret", id: 3 }, {
      command: "auth",
      id: 3,
      tags: [],
      data: "ok",
    }],
    [{ command: "unsubscribe", tags: ["zz"], id: 4 }, {
      command: "unsubscribe",
      id: 4,
      tags: ["zz"],
      data: "ok",
    }],
    [{ command: "subscribe", id: 5 }, {
      command: "subscribe",
      error: "missing tags",
      id: 5,
    }],
    [{ command: "nope", tags: ["a"], id: 6 }, {
      command: "nope",
      tags: ["a"],
      error: "Unknown Command",
      id: 6,
    }],
  ];
  for (const [request, reply] of cases) {
    await t.step(JSON.stringify(request), async () => {
      assert.deepEqual(await client.request(request), reply);
      assert.deepEqual(await client.sync(), [], "exactly one reply");
    });
  }
  await t.step("deliveries never carry an id", async () => {
    assert.deepEqual(
      await other.request({
        command: "publish",
        tags: ["t"],
        data: "d",
        id: 7,
      }),
      { command: "publish", id: 7, tags: ["t"], data: "ok" },
    );
    assert.deepEqual(await client.sync(), [
      { command: "publish", tags: ["t"], data: "d" },
    ]);
  });
});

Deno.test("§6 every kind of bad input gets its error and the connection stays usable", async (t) => {
  await using server = await tcpServer({
    limits: { maxTags: 4, maxTagBytes: 16, maxSubscriptions: 3 },
  });
  const url = server.addresses[0]!;
  await using client = await LineClient.connect(url);
  const cases: [string, string, object][] = [
    ["not JSON", "hello there", { command: "", error: "invalid JSON" }],
    ["invalid UTF-8", "\xff", {
      command: "",
      error: "invalid JSON: not UTF-8",
    }],
    ["a JSON array", "[]", {
      command: "",
      error: "invalid message: not an object",
    }],
    ["no command", '{"tags":["a"]}', {
      command: "",
      error: "invalid message: missing string command",
    }],
    ["unknown command", '{"command":"fly"}', {
      command: "fly",
      error: "Unknown Command",
    }],
    ["tags not an array", '{"command":"subscribe","tags":"a"}', {
      command: "subscribe",
      error: "invalid tags: expected an array of strings",
    }],
    ["empty tags", '{"command":"publish","tags":[],"data":"x"}', {
      command: "publish",
      tags: [],
      error: "missing tags",
    }],
    ["missing tags", '{"command":"unsubscribe"}', {
      command: "unsubscribe",
      error: "missing tags",
    }],
    ["data not a string", '{"command":"publish","tags":["a"],"data":{}}', {
      command: "publish",
      tags: ["a"],
      error: "invalid data",
    }],
    ["too many tags", '{"command":"publish","tags":["a","b","c","d","e"]}', {
      command: "publish",
      error: "too many tags: 5 > 4",
    }],
    ["a tag too long", `{"command":"subscribe","tags":["${"x".repeat(17)}"]}`, {
      command: "subscribe",
      error: "tag too long: longer than 16 bytes",
    }],
  ];
  for (const [name, line, reply] of cases) {
    await t.step(name, async () => {
      const bytes = name === "invalid UTF-8"
        ? new Uint8Array([0xff, 0x0a])
        : new TextEncoder().encode(line + "\n");
      await client.send(bytes);
      assert.deepEqual(await client.next(), reply);
      assert.deepEqual(await client.request({ command: "ping" }), PONG);
    });
  }
  await t.step("too many subscriptions", async () => {
    for (const tag of ["a", "b", "c"]) {
      await client.send({ command: "subscribe", tags: [tag] });
    }
    await client.send({ command: "subscribe", tags: ["a"] }); // not new: fine
    assert.deepEqual(
      await client.request({ command: "subscribe", tags: ["d"] }),
      {
        command: "subscribe",
        tags: ["d"],
        error: "too many subscriptions",
      },
    );
    assert.deepEqual(
      (await client.request({ command: "list" })).data,
      '[["a"],["b"],["c"]]',
    );
  });
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

Deno.test("§6 a line of exactly the maximum size is accepted", async () => {
  const maxMessageBytes = 256;
  await using server = await tcpServer({ limits: { maxMessageBytes } });
  const url = server.addresses[0]!;
  await using client = await LineClient.connect(url);
  const prefix = '{"command":"ping","data":"';
  const line = prefix + "x".repeat(maxMessageBytes - prefix.length - 2) + '"}';
  assert.equal(line.length, maxMessageBytes);
  assert.deepEqual(await client.request(line + "\n"), PONG);
  assert.deepEqual(await client.request(line + "x\n"), {
    command: "",
    error: "message too large",
  });
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
  for (let i = 0; i < 100 && server.stats().subscriptions !== 1; i++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.equal(server.stats().subscriptions, 1);
});

Deno.test("§6 disconnecting removes everything the connection held", async () => {
  await using server = await tcpServer();
  const url = server.addresses[0]!;
  const client = await LineClient.connect(url);
  for (let i = 0; i < 50; i++) {
    await client.send({ command: "subscribe", tags: [`t${i}`, `u${i % 7}`] });
  }
  await client.sync();
  assert.equal(server.stats().subscriptions, 50);
  await client.close();
  for (let i = 0; i < 100 && server.stats().indexNodes !== 0; i++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.equal(server.stats().subscriptions, 0);
  assert.equal(server.stats().indexNodes, 0);
  assert.equal(server.stats().listeners[0]!.connections, 0);
});

Deno.test("§7 messages from one publisher arrive in order", async () => {
  await using server = await tcpServer();
  const url = server.addresses[0]!;
  await using subscriber = await LineClient.connect(url);
  await using publisher = await LineClient.connect(url);
  await subscriber.send({ command: "subscribe", tags: ["seq"] });
  await subscriber.sync();
  const n = 5000;
  let batch = "";
  for (let i = 0; i < n; i++) {
    batch +=
      JSON.stringify({ command: "publish", tags: ["seq"], data: `${i}` }) +
      "\n";
  }
  await publisher.send(batch);
  await publisher.sync();
  const got = await subscriber.sync();
  assert.deepEqual(
    got.map((m) => m.data),
    Array.from({ length: n }, (_, i) => `${i}`),
  );
});

Deno.test("§7 a subscriber that stops reading loses newer messages, is told how many, and slows nobody", async () => {
  const queueBytes = 256 * 1024;
  await using server = await tcpServer({ queueBytes });
  const url = server.addresses[0]!;
  await using fast = await LineClient.connect(url);
  await using publisher = await LineClient.connect(url);
  // The slow subscriber is a bare socket we simply stop reading from.
  using slow = await Deno.connect(hostPort(url));
  const encoder = new TextEncoder();
  await slow.write(
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
  const reader = new LineClientOver(slow);
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

/** Reads JSON lines from a bare connection. */
class LineClientOver {
  #buffer = "";
  #decoder = new TextDecoder();
  #chunk = new Uint8Array(1 << 16);
  constructor(readonly conn: Deno.Conn) {}
  async next(): Promise<{ command: string; data?: string }> {
    while (!this.#buffer.includes("\n")) {
      const n = await this.conn.read(this.#chunk);
      if (n === null) assert.fail("closed");
      this.#buffer += this.#decoder.decode(this.#chunk.subarray(0, n), {
        stream: true,
      });
    }
    const end = this.#buffer.indexOf("\n");
    const line = this.#buffer.slice(0, end);
    this.#buffer = this.#buffer.slice(end + 1);
    return JSON.parse(line);
  }
}

Deno.test("closing the server writes what each connection is owed, then ends it", async () => {
  const server = await tcpServer();
  const url = server.addresses[0]!;
  const client = await LineClient.connect(url);
  await client.send({ command: "subscribe", tags: ["bye"] });
  await client.sync();
  server.publish(["bye"], "last words");
  await server.close();
  assert.deepEqual(await client.next(), {
    command: "publish",
    tags: ["bye"],
    data: "last words",
  });
  await client.ended();
  await client.close();
  await server.close(); // idempotent
});

Deno.test("§7 a message of the largest size reaches a subscriber whose queue is that small", async () => {
  // The delivery is larger than the publish (it gains "command":"publish"),
  // but a subscriber that keeps up must not lose it.
  await using server = await tcpServer({
    limits: { maxMessageBytes: 1000 },
    queueBytes: 1000,
  });
  const url = server.addresses[0]!;
  await using subscriber = await LineClient.connect(url);
  await using publisher = await LineClient.connect(url);
  await subscriber.send({ command: "subscribe", tags: ["a"] });
  await subscriber.sync();
  const prefix = '{"tags":["a"],"command":"publish","data":"';
  const data = "x".repeat(1000 - prefix.length - 2);
  const line = `${prefix}${data}"}`;
  assert.equal(line.length, 1000);
  await publisher.send(line + "\n");
  await publisher.sync();
  assert.deepEqual(await subscriber.next(), {
    command: "publish",
    tags: ["a"],
    data,
  });
});
