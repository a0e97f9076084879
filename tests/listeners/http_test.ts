/**
 * The HTTP and WebSocket listeners over real sockets: PROTOCOL.md §1 and §8.
 */

import assert from "node:assert/strict";
import {
  addressOf,
  allServer,
  EventStreamClient,
  eventually,
  hostPort,
  LineClient,
  publishThrough,
  RawWebSocket,
  WsClient,
} from "../_helpers.ts";

const PONG = { command: "ping", tags: [], data: "pong" };

async function fetchText(
  url: string,
  init: RequestInit = {},
): Promise<{ status: number; body: string; headers: Headers }> {
  const response = await fetch(url, init);
  return {
    status: response.status,
    body: await response.text(),
    headers: response.headers,
  };
}

async function fetchJson(
  url: string,
  init: RequestInit = {},
): Promise<{ status: number; body: unknown }> {
  const { status, body } = await fetchText(url, init);
  return { status, body: JSON.parse(body) };
}

function post(body: string): RequestInit {
  return {
    method: "POST",
    body,
    headers: { "content-type": "application/json" },
  };
}

Deno.test("GET /ping answers pong on the HTTP and the WebSocket listener", async () => {
  await using server = await allServer();
  for (const scheme of ["http", "ws"]) {
    const base = addressOf(server, scheme).replace(/^ws:/, "http:");
    const { status, body, headers } = await fetchText(`${base}/ping`);
    assert.equal(status, 200);
    assert.equal(body, "pong\n");
    assert.match(headers.get("content-type")!, /^text\/plain/);
  }
});

Deno.test("deliveries cross TCP, WebSocket, Server-Sent Events and POST /publish in every direction", async () => {
  await using server = await allServer();
  const http = addressOf(server, "http");
  await using tcp = await LineClient.connect(addressOf(server, "tcp"));
  await using ws = await WsClient.connect(addressOf(server, "ws"));
  await using wsOnHttp = await WsClient.connect(http);
  await using sse = await EventStreamClient.open(`${http}/subscribe?tags=x`);
  for (const client of [tcp, ws, wsOnHttp]) {
    await client.send({ command: "subscribe", tags: ["x"] });
    await client.sync();
  }

  const publishers = [
    [
      "tcp",
      () => tcp.send({ command: "publish", tags: ["x"], data: "from tcp" }),
    ],
    ["ws", () => ws.send({ command: "publish", tags: ["x"], data: "from ws" })],
    [
      "ws on http",
      () =>
        wsOnHttp.send({
          command: "publish",
          tags: ["x"],
          data: "from ws on http",
        }),
    ],
    ["post", async () => {
      const { status } = await fetchJson(
        `${http}/publish`,
        post('{"tags":["x"],"data":"from post"}'),
      );
      assert.equal(status, 202);
    }],
  ] as const;
  const clients = { tcp, ws, "ws on http": wsOnHttp } as const;
  for (const [name, publish] of publishers) {
    await publish();
    const message = { command: "publish", tags: ["x"], data: `from ${name}` };
    for (const [other, client] of Object.entries(clients)) {
      assert.deepEqual(
        await client.sync(),
        other === name ? [] : [message],
        `${name} -> ${other}`,
      );
    }
    assert.deepEqual(await sse.next(), message, `${name} -> sse`);
  }
});

Deno.test("the WebSocket session speaks the same protocol and errors as TCP", async (t) => {
  await using server = await allServer({ limits: { maxMessageBytes: 1024 } });
  for (const path of ["/subscribe/websocket", "/"]) {
    await t.step(`at ${path}`, async () => {
      await using ws = await WsClient.connect(
        addressOf(server, "ws").replace(/^ws:\/\/([^/]+).*/, `ws://$1${path}`),
      );
      assert.deepEqual(await ws.request({ command: "ping" }), PONG);
      assert.deepEqual(await ws.request({ command: "list", id: 1 }), {
        command: "list",
        tags: [],
        data: "[]",
        id: 1,
      });
      assert.deepEqual(await ws.request("not json"), {
        command: "",
        error: "invalid JSON",
      });
      assert.deepEqual(await ws.request(new Uint8Array([1, 2, 3])), {
        command: "",
        error: "invalid message: binary frames are not supported",
      });
      assert.deepEqual(
        await ws.request({ command: "ping", data: "x".repeat(2000) }),
        {
          command: "",
          error: "message too large",
        },
      );
      assert.deepEqual(await ws.request({ command: "subscribe", tags: [] }), {
        command: "subscribe",
        tags: [],
        error: "missing tags",
      });
      assert.deepEqual(await ws.request({ command: "Ping" }), {
        command: "Ping",
        error: "Unknown Command",
      });
      assert.deepEqual(await ws.request({ command: "ping" }), PONG);
    });
  }
});

Deno.test("POST /publish accepts a message and refuses bad ones with the protocol's errors", async (t) => {
  await using server = await allServer({ limits: { maxMessageBytes: 256 } });
  const url = `${addressOf(server, "http")}/publish`;
  await using subscriber = await LineClient.connect(addressOf(server, "tcp"));
  await subscriber.send({ command: "subscribe", tags: ["a"] });
  await subscriber.sync();

  await t.step(
    "202 with an acknowledgement, for a bare body and a full message",
    async () => {
      assert.deepEqual(
        await fetchJson(url, post('{"tags":["a","b"],"data":"1"}')),
        {
          status: 202,
          body: { command: "publish", tags: ["a", "b"], data: "ok" },
        },
      );
      assert.deepEqual(
        await fetchJson(
          url,
          post('{"command":"publish","tags":["a"],"data":"2","id":9}'),
        ),
        {
          status: 202,
          body: { command: "publish", tags: ["a"], data: "ok", id: 9 },
        },
      );
      assert.deepEqual(await subscriber.sync(), [
        { command: "publish", tags: ["a", "b"], data: "1" },
        { command: "publish", tags: ["a"], data: "2" },
      ]);
    },
  );
  const bad: [string, string, number, object][] = [
    ["not JSON", "{nope", 400, { command: "", error: "invalid JSON" }],
    ["not an object", "[1]", 400, {
      command: "",
      error: "invalid message: not an object",
    }],
    ["another command", '{"command":"subscribe","tags":["a"]}', 400, {
      command: "subscribe",
      tags: ["a"],
      error: 'invalid message: POST /publish takes a "publish"',
    }],
    ["no tags", '{"data":"x"}', 400, {
      command: "publish",
      error: "missing tags",
    }],
    ["bad tags", '{"tags":"a"}', 400, {
      command: "publish",
      error: "invalid tags: expected an array of strings",
    }],
    ["bad data", '{"tags":["a"],"data":1}', 400, {
      command: "publish",
      tags: ["a"],
      error: "invalid data",
    }],
    ["too large", JSON.stringify({ tags: ["a"], data: "x".repeat(300) }), 413, {
      command: "publish",
      error: "message too large",
    }],
  ];
  for (const [name, body, status, reply] of bad) {
    await t.step(`${status} for ${name}`, async () => {
      assert.deepEqual(await fetchJson(url, post(body)), {
        status,
        body: reply,
      });
    });
  }
  await t.step(
    "413 for a streamed body that grows too large, without a length",
    async () => {
      const chunk = new TextEncoder().encode("x".repeat(100));
      let sent = 0;
      const body = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (sent++ < 100) controller.enqueue(chunk);
          else controller.close();
        },
      });
      const { status } = await fetchText(url, { method: "POST", body });
      assert.equal(status, 413);
    },
  );
  assert.deepEqual(await subscriber.sync(), [], "nothing bad was published");
  assert.equal(
    server.stats().listeners.find((l) => l.url.startsWith("http"))!.received,
    2,
  );
});

Deno.test("the HTTP listener answers 404, 405 and 426 with a short JSON error", async () => {
  await using server = await allServer();
  const http = addressOf(server, "http");
  const ws = addressOf(server, "ws").replace(/^ws:/, "http:");
  const cases: [string, RequestInit, number, string | null][] = [
    [`${http}/nowhere`, {}, 404, null],
    [`${http}/`, {}, 404, null],
    [`${ws}/publish`, post("{}"), 404, null],
    [`${ws}/health`, {}, 404, null],
    [`${http}/publish`, {}, 405, "POST"],
    [`${http}/subscribe`, post("{}"), 405, "GET"],
    [`${http}/ping`, post(""), 405, "GET, HEAD"],
    [`${http}/health`, { method: "DELETE" }, 405, "GET"],
    [`${http}/metrics`, { method: "PUT", body: "" }, 405, "GET"],
    [`${http}/subscribe/websocket`, {}, 426, null],
    // An upgrade Deno cannot accept (no Sec-WebSocket-Key): the client's fault.
    [
      `${http}/subscribe/websocket`,
      { headers: { upgrade: "websocket" } },
      400,
      null,
    ],
    [`${ws}/subscribe/websocket`, {}, 426, null],
  ];
  for (const [url, init, status, allow] of cases) {
    const response = await fetch(url, init);
    assert.equal(response.status, status, `${init.method ?? "GET"} ${url}`);
    assert.equal(response.headers.get("content-type"), "application/json");
    assert.ok(typeof (await response.json()).error === "string");
    assert.equal(response.headers.get("allow"), allow);
  }
});

Deno.test("GET /subscribe streams each tags parameter as one subscription", async () => {
  await using server = await allServer({ keepAliveMs: 50 });
  const http = addressOf(server, "http");
  await using publisher = await LineClient.connect(addressOf(server, "tcp"));
  await using sse = await EventStreamClient.open(
    `${http}/subscribe?tags=a,b&tags=c`,
  );
  assert.equal(server.stats().subscriptions, 2);
  for (
    const tags of [["a"], ["b"], ["b", "a"], ["c"], ["c", "a", "b"], ["z"]]
  ) {
    await publisher.send({ command: "publish", tags, data: tags.join("") });
  }
  await publisher.sync();
  const got = [];
  for (let i = 0; i < 3; i++) got.push((await sse.next()).data);
  assert.deepEqual(got, ["ba", "c", "cab"]);
  // Keep-alive comments come while the stream is idle.
  assert.equal(await sse.nextComment(), "keep-alive");
});

Deno.test("GET /subscribe refuses missing and invalid tags before streaming", async () => {
  await using server = await allServer({ limits: { maxTags: 2 } });
  const http = addressOf(server, "http");
  for (
    const [query, error] of [
      ["", "missing tags"],
      ["?tags=", "missing tags"],
      ["?tags=,,", "missing tags"],
      ["?tags=a,b,c", "too many tags: 3 > 2"],
    ]
  ) {
    assert.deepEqual(await fetchJson(`${http}/subscribe${query}`), {
      status: 400,
      body: { command: "subscribe", error },
    });
  }
  assert.equal(server.stats().subscriptions, 0);
});

Deno.test("GET /subscribe keeps tags exact and counts a repeated subscription once", async () => {
  await using server = await allServer({ limits: { maxSubscriptions: 2 } });
  const http = addressOf(server, "http");
  await using publisher = await LineClient.connect(addressOf(server, "tcp"));
  await using spaced = await EventStreamClient.open(
    `${http}/subscribe?tags=%20sp&tags=%20sp&tags=b`,
  );
  assert.equal(server.stats().subscriptions, 2);
  await publisher.send({ command: "publish", tags: ["sp"], data: "no space" });
  await publisher.send({ command: "publish", tags: [" sp"], data: "space" });
  await publisher.sync();
  assert.equal((await spaced.next()).data, "space");
});

Deno.test("an event stream's subscriptions go away with its client", async () => {
  await using server = await allServer();
  const sse = await EventStreamClient.open(
    `${addressOf(server, "http")}/subscribe?tags=a&tags=b`,
  );
  assert.equal(server.stats().subscriptions, 2);
  await sse.close();
  await eventually(
    () => server.stats().subscriptions === 0,
    "the stream's subscriptions to go",
  );
  await eventually(
    () => server.stats().listeners.every((l) => l.connections === 0),
    "the stream's session to close",
  );
});

Deno.test("GET /health reports every listener up", async () => {
  await using server = await allServer();
  const { status, body } = await fetchJson(
    `${addressOf(server, "http")}/health`,
  );
  assert.equal(status, 200);
  assert.deepEqual(body, {
    ok: true,
    listeners: Object.fromEntries(server.addresses.map((url) => [url, "up"])),
    authenticator: "off",
    cluster: "off",
  });
});

Deno.test("GET /metrics counts connections, subscriptions and messages per listener", async () => {
  await using server = await allServer();
  const http = addressOf(server, "http");
  const tcpUrl = addressOf(server, "tcp");
  await using a = await LineClient.connect(tcpUrl);
  await using b = await LineClient.connect(tcpUrl);
  await b.send({ command: "subscribe", tags: ["m"] });
  await b.sync();
  for (let i = 0; i < 3; i++) {
    await a.send({ command: "publish", tags: ["m"], data: "" });
  }
  await a.sync();
  await b.sync();
  const { status, body, headers } = await fetchText(`${http}/metrics`);
  assert.equal(status, 200);
  assert.match(headers.get("content-type")!, /^text\/plain; version=0.0.4/);
  const label = `{listener="${tcpUrl}"}`;
  for (
    const line of [
      "# TYPE mist_connections gauge",
      `mist_connections${label} 2`,
      "# TYPE mist_messages_received_total counter",
      `mist_messages_received_total${label} 3`,
      `mist_messages_delivered_total${label} 3`,
      `mist_messages_dropped_total${label} 0`,
      `mist_connections_accepted_total${label} 2`,
      "# TYPE mist_subscriptions gauge",
      "mist_subscriptions 1",
    ]
  ) {
    assert.ok(body.split("\n").includes(line), `missing ${line} in\n${body}`);
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
  await stuck.write(
    new TextEncoder().encode(
      "GET /subscribe/websocket HTTP/1.1\r\nHost: x\r\nUpgr",
    ),
  );
  using garbage = await Deno.connect(hostPort(wsUrl));
  await garbage.write(new Uint8Array(1000).fill(0xff));
  await using ws = await WsClient.connect(wsUrl);
  assert.deepEqual(await ws.request({ command: "ping" }), PONG);
});

Deno.test("a WebSocket client that sends requests but never reads is dropped, bounded", async () => {
  const queueBytes = 64 * 1024;
  await using server = await allServer({ queueBytes });
  using conn = await Deno.connect(hostPort(addressOf(server, "ws")));
  const rude = await RawWebSocket.handshake(conn);
  // Each request's error reply echoes its 60 KB of tags: far more replies
  // than the socket and the queue hold, and the server gives up on it.
  const tags = Array.from({ length: 60 }, (_, i) => `${i}`.padEnd(1000, "x"));
  const request = JSON.stringify({ command: "nope", tags });
  try {
    for (let i = 0; i < 2000; i++) await rude.sendText(request);
  } catch {
    // The server closed the connection under us: that is the point.
  }
  await eventually(
    () => server.stats().listeners.every((l) => l.connections === 0),
    "the rude client to be dropped",
  );
  assert.ok(server.stats().peakQueuedBytes <= 2 * queueBytes + 64 * 1024);
});
