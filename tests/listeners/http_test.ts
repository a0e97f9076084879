/**
 * The HTTP listener (src/listeners/http.ts) over real sockets: its routes
 * (docs/protocol.md §8) and deliveries across every transport it serves.
 * WebSocket sessions are in websocket_test.ts, event streams in sse_test.ts.
 */

import assert from "node:assert/strict";
import {
  addressOf,
  allServer,
  EventStreamClient,
  fetchJson,
  fetchText,
  LineClient,
  post,
  WsClient,
} from "../_helpers.ts";

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
    [`${ws}/`, {}, 404, null], // on http://, / leads to the console
    [`${ws}/publish`, post("{}"), 404, null],
    [`${ws}/metrics`, {}, 404, null],
    [`${http}/publish`, {}, 405, "POST, OPTIONS"],
    [`${http}/subscribe`, post("{}"), 405, "GET, HEAD, OPTIONS"],
    [`${http}/ping`, post(""), 405, "GET, HEAD"],
    [`${http}/health`, { method: "DELETE" }, 405, "GET, HEAD"],
    [`${ws}/health/live`, { method: "DELETE" }, 405, "GET, HEAD"],
    [`${http}/metrics`, { method: "PUT", body: "" }, 405, "GET, HEAD"],
    [`${http}/subscribe/websocket`, post(""), 405, "GET, HEAD"],
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

Deno.test("GET /health, /health/ready and /health/live report every listener up, on the HTTP and the WebSocket listener", async () => {
  await using server = await allServer();
  const listeners = Object.fromEntries(
    server.addresses.map((url) => [url, "up"]),
  );
  for (const scheme of ["http", "ws"]) {
    const base = addressOf(server, scheme).replace(/^ws:/, "http:");
    for (const path of ["/health", "/health/ready"]) {
      const { status, body } = await fetchJson(`${base}${path}`);
      assert.equal(status, 200, `${scheme} ${path}`);
      assert.deepEqual(body, {
        ok: true,
        check: "ready",
        listeners,
        authenticator: "off",
        cluster: "off",
        down: [],
      });
    }
    const { status, body } = await fetchJson(`${base}/health/live`);
    assert.equal(status, 200);
    assert.deepEqual(body, {
      ok: true,
      check: "live",
      listeners,
      cluster: "off",
      down: [],
    });
  }
});

Deno.test("every GET route answers HEAD with the status and headers of GET and no body", async () => {
  await using server = await allServer();
  const http = addressOf(server, "http");
  const ws = addressOf(server, "ws").replace(/^ws:/, "http:");
  const cases: [string, number, RegExp][] = [
    [`${http}/ping`, 200, /^text\/plain/],
    [`${ws}/ping`, 200, /^text\/plain/],
    [`${http}/health`, 200, /^application\/json/],
    [`${http}/health/ready`, 200, /^application\/json/],
    [`${http}/health/live`, 200, /^application\/json/],
    [`${ws}/health/ready`, 200, /^application\/json/],
    [`${ws}/health/live`, 200, /^application\/json/],
    [`${http}/metrics`, 200, /^text\/plain; version=0\.0\.4/],
    [`${http}/subscribe?tags=a`, 200, /^text\/event-stream/],
    [`${http}/subscribe`, 400, /^application\/json/],
    [`${http}/subscribe/websocket`, 426, /^application\/json/],
    [`${ws}/subscribe/websocket`, 426, /^application\/json/],
  ];
  for (const [url, status, type] of cases) {
    const response = await fetch(url, { method: "HEAD" });
    assert.equal(response.status, status, `HEAD ${url}`);
    assert.match(response.headers.get("content-type")!, type, url);
    assert.equal(await response.text(), "", `HEAD ${url} has no body`);
  }
  // HEAD /subscribe subscribes to nothing.
  assert.equal(server.stats().subscriptions, 0);
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
