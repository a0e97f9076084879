/**
 * The origin policy of docs/protocol.md §9 over real sockets: what a request
 * with an `Origin` header gets from the WebSocket upgrades, `GET /subscribe`
 * and `POST /publish`, with and without `allowed-origins`.
 */

import assert from "node:assert/strict";
import { MemoryAuthenticator } from "../../src/auth/memory.ts";
import { serve } from "../../src/server/server.ts";
import {
  addressOf,
  allServer,
  EventStreamClient,
  fetchText,
  hostPort,
  LineClient,
  post,
  writeAll,
  WsClient,
} from "../_helpers.ts";
import { captureLogs, recordText } from "../_logs.ts";

const REFUSED = "forbidden: origin not allowed";
const FOREIGN = "http://foreign.example";
const APP = "https://app.example.com";

/**
 * Fetches a URL and reads its body, unless it is an event stream, which would
 * not end: then its body is cancelled and read as "".
 */
async function fetchOnce(
  url: string,
  init: RequestInit = {},
): Promise<{ status: number; body: string; headers: Headers }> {
  const response = await fetch(url, init);
  const streaming = response.headers.get("content-type")?.startsWith(
    "text/event-stream",
  );
  if (streaming) await response.body?.cancel();
  return {
    status: response.status,
    body: streaming ? "" : await response.text(),
    headers: response.headers,
  };
}

/** A WebSocket upgrade over a raw socket: its status line, headers and body. */
async function upgrade(
  url: string,
  headers: Record<string, string>,
): Promise<{ status: number; head: string; body: string }> {
  const conn = await Deno.connect(hostPort(url));
  try {
    const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`)
      .join("");
    await writeAll(
      conn,
      new TextEncoder().encode(
        `GET /subscribe/websocket HTTP/1.1\r\nHost: ${new URL(url).host}\r\n` +
          `Upgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n` +
          `Sec-WebSocket-Version: 13\r\n${extra}\r\n`,
      ),
    );
    let text = "";
    const buffer = new Uint8Array(4096);
    const decoder = new TextDecoder();
    while (true) {
      const n = await conn.read(buffer);
      if (n === null) break;
      text += decoder.decode(buffer.subarray(0, n), { stream: true });
      const end = text.indexOf("\r\n\r\n");
      if (end >= 0 && text.startsWith("HTTP/1.1 101")) break;
      if (end >= 0 && text.slice(end + 4).includes("\n")) break;
    }
    const end = text.indexOf("\r\n\r\n");
    return {
      status: Number(text.slice(9, 12)),
      head: text.slice(0, end).toLowerCase(),
      body: text.slice(end + 4),
    };
  } finally {
    conn.close();
  }
}

Deno.test("§9: a foreign origin is refused with 403 on every browser route, and nothing is published", async (t) => {
  await using server = await allServer();
  const http = addressOf(server, "http");
  const ws = addressOf(server, "ws");
  await using subscriber = await LineClient.connect(addressOf(server, "tcp"));
  await subscriber.send({ command: "subscribe", tags: ["t"] });
  await using publisher = await LineClient.connect(addressOf(server, "tcp"));
  await publisher.send({ command: "ping" });
  await publisher.next();
  const origin = { origin: FOREIGN };

  const { records } = await captureLogs(async () => {
    for (const [name, url] of [["http://", http], ["ws://", ws]]) {
      await t.step(`the WebSocket upgrade on ${name}`, async () => {
        const answer = await upgrade(url!, origin);
        assert.equal(answer.status, 403);
        assert.deepEqual(JSON.parse(answer.body), {
          command: "",
          error: REFUSED,
        });
      });
    }
    await t.step("GET and HEAD /subscribe", async () => {
      const got = await fetchOnce(`${http}/subscribe?tags=t`, {
        headers: origin,
      });
      assert.equal(got.status, 403);
      assert.deepEqual(JSON.parse(got.body), {
        command: "subscribe",
        error: REFUSED,
      });
      assert.equal(got.headers.get("access-control-allow-origin"), null);
      const head = await fetchText(`${http}/subscribe?tags=t`, {
        method: "HEAD",
        headers: origin,
      });
      assert.equal(head.status, 403);
    });
    await t.step(
      "POST /publish, even as a no-cors text/plain form",
      async () => {
        const body = JSON.stringify({
          command: "publish",
          tags: ["t"],
          data: "from a foreign page",
        });
        const got = await fetchText(`${http}/publish`, {
          method: "POST",
          body,
          headers: { ...origin, "content-type": "text/plain" },
        });
        assert.equal(got.status, 403);
        assert.deepEqual(JSON.parse(got.body), {
          command: "publish",
          error: REFUSED,
        });
      },
    );
    await t.step("the preflights", async () => {
      for (const path of ["/publish", "/subscribe"]) {
        const got = await fetchText(`${http}${path}`, {
          method: "OPTIONS",
          headers: { ...origin, "access-control-request-method": "POST" },
        });
        assert.equal(got.status, 403, path);
        assert.equal(got.headers.get("access-control-allow-origin"), null);
      }
    });
  });
  // The publish was refused: the first delivery is the next one.
  await publisher.send({ command: "publish", tags: ["t"], data: "after" });
  assert.deepEqual(await subscriber.next(), {
    command: "publish",
    tags: ["t"],
    data: "after",
  });
  // Every refusal logged at WARN, naming the origin and the key, once a minute.
  const warnings = records.filter((record) =>
    record.level === "warning" && recordText(record).includes(FOREIGN)
  );
  assert.equal(warnings.length, 1, warnings.map(recordText).join("\n"));
  assert.match(recordText(warnings[0]!), /allowed-origins/);
});

Deno.test("§9: a refused origin gets 403 before its token is looked at", async () => {
  const authenticator = new MemoryAuthenticator();
  await authenticator.addToken("user", ["t"]);
  await using server = await allServer({ authenticator, token: "admin" });
  const http = addressOf(server, "http");
  const headers = {
    origin: "http://token-holder.example",
    "x-auth-token": "user",
  };
  const sse = await fetchOnce(`${http}/subscribe?tags=t`, { headers });
  assert.equal(sse.status, 403);
  assert.equal(JSON.parse(sse.body).error, REFUSED);
  const published = await fetchText(`${http}/publish`, {
    ...post('{"command":"publish","tags":["t"],"data":"x"}'),
    headers: { ...headers, "content-type": "application/json" },
  });
  assert.equal(published.status, 403);
});

Deno.test("§9: no Origin (CLI, servers, curl) and the server's own origin are served without CORS headers", async (t) => {
  await using server = await allServer();
  const http = addressOf(server, "http");
  const own = new URL(http).origin; // http://127.0.0.1:PORT, the Host fetch sends
  for (
    const [name, headers] of [
      ["no Origin", {}],
      ["the same origin", { origin: own }],
      ["the same origin, in upper case", { origin: own.toUpperCase() }],
    ] as const
  ) {
    await t.step(name, async () => {
      await using stream = await EventStreamClient.open(
        `${http}/subscribe?tags=s`,
        { headers },
      );
      assert.equal(
        stream.response.headers.get("access-control-allow-origin"),
        null,
      );
      assert.equal(stream.response.headers.get("vary"), "Origin");
      const got = await fetchText(`${http}/publish`, {
        ...post('{"command":"publish","tags":["s"],"data":"x"}'),
        headers: { ...headers, "content-type": "application/json" },
      });
      assert.equal(got.status, 202, got.body);
      assert.equal(got.headers.get("access-control-allow-origin"), null);
      assert.deepEqual(await stream.next(), {
        command: "publish",
        tags: ["s"],
        data: "x",
      });
      await using socket = await WsClient.connect(http, headers);
      await socket.send({ command: "ping" });
      assert.equal((await socket.next()).data, "pong");
    });
  }
  await t.step("another port of the same host is another origin", async () => {
    const other = `http://127.0.0.1:${Number(new URL(http).port) + 1}`;
    const got = await fetchOnce(`${http}/subscribe?tags=s`, {
      headers: { origin: other },
    });
    assert.equal(got.status, 403);
    const localhost = `http://localhost:${new URL(http).port}`;
    const named = await fetchOnce(`${http}/subscribe?tags=s`, {
      headers: { origin: localhost },
    });
    assert.equal(named.status, 403, "localhost is not 127.0.0.1 to a browser");
  });
});

Deno.test("§9: a listed origin is served, with CORS headers and answered preflights", async (t) => {
  await using server = await allServer({
    allowedOrigins: ["HTTPS://App.Example.com:443", "http://localhost:3000"],
  });
  const http = addressOf(server, "http");
  const headers = { origin: APP };
  await t.step("GET /subscribe, and its errors", async () => {
    await using stream = await EventStreamClient.open(
      `${http}/subscribe?tags=l`,
      { headers },
    );
    assert.equal(
      stream.response.headers.get("access-control-allow-origin"),
      APP,
    );
    assert.equal(stream.response.headers.get("vary"), "Origin");
    const bad = await fetchText(`${http}/subscribe`, { headers });
    assert.equal(bad.status, 400);
    assert.equal(bad.headers.get("access-control-allow-origin"), APP);
    const head = await fetchText(`${http}/subscribe?tags=l`, {
      method: "HEAD",
      headers,
    });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get("access-control-allow-origin"), APP);
  });
  await t.step("POST /publish", async () => {
    await using stream = await EventStreamClient.open(
      `${http}/subscribe?tags=l`,
    );
    const got = await fetchText(`${http}/publish`, {
      ...post('{"command":"publish","tags":["l"],"data":"listed"}'),
      headers: { ...headers, "content-type": "application/json" },
    });
    assert.equal(got.status, 202, got.body);
    assert.equal(got.headers.get("access-control-allow-origin"), APP);
    assert.equal(got.headers.get("vary"), "Origin");
    assert.equal((await stream.next()).data, "listed");
  });
  await t.step(
    "the preflights of POST /publish and GET /subscribe",
    async () => {
      for (
        const [path, methods] of [
          ["/publish", "POST"],
          ["/subscribe", "GET, HEAD"],
        ] as const
      ) {
        const got = await fetchText(`${http}${path}`, {
          method: "OPTIONS",
          headers: {
            origin: "http://localhost:3000",
            "access-control-request-method": methods.split(",")[0]!,
            "access-control-request-headers": "content-type, x-auth-token",
          },
        });
        assert.equal(got.status, 204, path);
        assert.equal(got.body, "");
        const h = got.headers;
        assert.equal(
          h.get("access-control-allow-origin"),
          "http://localhost:3000",
        );
        assert.equal(h.get("access-control-allow-methods"), methods);
        assert.equal(
          h.get("access-control-allow-headers"),
          "Content-Type, Authorization, X-AUTH-TOKEN",
        );
        assert.ok(Number(h.get("access-control-max-age")) > 0);
        assert.equal(h.get("vary"), "Origin");
      }
    },
  );
  await t.step("the WebSocket upgrade", async () => {
    await using socket = await WsClient.connect(http, headers);
    await socket.send({ command: "ping" });
    assert.equal((await socket.next()).data, "pong");
  });
  await t.step("an origin not listed is still refused", async () => {
    for (const origin of ["http://app.example.com", "http://localhost:3001"]) {
      const got = await fetchOnce(`${http}/subscribe?tags=l`, {
        headers: { origin },
      });
      assert.equal(got.status, 403, origin);
    }
  });
});

Deno.test("§9: allowed-origins * lets every origin in, naming it in the CORS header", async () => {
  await using server = await allServer({ allowedOrigins: ["*"] });
  const http = addressOf(server, "http");
  for (const origin of [FOREIGN, "null"]) {
    const got = await fetchText(`${http}/publish`, {
      ...post('{"command":"publish","tags":["x"],"data":"x"}'),
      headers: { origin, "content-type": "application/json" },
    });
    assert.equal(got.status, 202, origin);
    assert.equal(got.headers.get("access-control-allow-origin"), origin);
  }
  const answer = await upgrade(addressOf(server, "ws"), { origin: FOREIGN });
  assert.equal(answer.status, 101);
});

Deno.test("§9: the other routes ignore Origin", async () => {
  await using server = await allServer();
  const http = addressOf(server, "http");
  for (const path of ["/ping", "/health/live", "/metrics"]) {
    const got = await fetchText(`${http}${path}`, {
      headers: { origin: FOREIGN },
    });
    assert.equal(got.status, 200, path);
  }
});

Deno.test("serve() refuses an allowed origin that is not one, naming it", async () => {
  await assert.rejects(
    serve({
      listeners: ["http://127.0.0.1:0"],
      allowedOrigins: ["https://ok.example", "app.example.com"],
    }),
    TypeError,
    '"app.example.com"',
  );
});

Deno.test("reconfigure() changes the allowed origins of a running server (SIGHUP)", async () => {
  await using server = await allServer();
  const http = addressOf(server, "http");
  const status = async () =>
    (await fetchOnce(`${http}/subscribe`, { headers: { origin: APP } }))
      .status;
  assert.equal(await status(), 403);
  server.reconfigure({ allowedOrigins: [APP] });
  assert.equal(await status(), 400); // served: no tags asked for
  server.reconfigure({ allowedOrigins: [] });
  assert.equal(await status(), 403);
  assert.throws(
    () => server.reconfigure({ allowedOrigins: ["nope"] }),
    TypeError,
  );
  assert.equal(await status(), 403, "a bad reconfiguration changes nothing");
});
