/**
 * The client against servers that misbehave or differ: a scripted fake mist
 * server (malformed frames, half frames, abrupt disconnects, silence), the
 * original's ack-less behaviour, admin commands and tokens as the wire shows
 * them, and a WebSocket front that records each upgrade. What needs no
 * scripted server runs against the real one in client_test.ts and
 * transports_test.ts.
 */

import assert from "node:assert/strict";
import { connect, type Delivery, MistError } from "../../mod.ts";
import type { Message } from "../../src/protocol/codec.ts";
import { ERROR_TEXT } from "../../src/protocol/errors.ts";
import {
  ADMIN_TOKEN,
  authScript,
  basicScript,
  type FakeConnection,
  FakeServer,
  LegacyProxy,
  WebSocketBridge,
} from "../_fake_server.ts";
import { next, sleep, tcpServer, until, within } from "../_helpers.ts";

const PONG = { command: "ping", tags: [], data: "pong" };

/** Answers the handshake's ping (and `auth`, if any) as mist does. */
async function handshake(conn: FakeConnection): Promise<Message> {
  let request = await conn.request();
  if (request.command === "auth") {
    await conn.ack(request);
    request = await conn.request();
  }
  assert.equal(request.command, "ping");
  await conn.ack(request, PONG);
  return request;
}

function isError(code: string) {
  return (err: unknown) => {
    assert.ok(err instanceof MistError, `${err}`);
    assert.equal(err.code, code, err.message);
    return true;
  };
}

// ---- malformed, half and oversized frames ---------------------------------

Deno.test("malformed frames are reported on status() and skipped; the connection carries on", async () => {
  await using server = new FakeServer(async (conn) => {
    await handshake(conn);
    const ping = await conn.request();
    await conn.raw("this is not JSON\n");
    await conn.raw('["an","array"]\n');
    await conn.raw('{"command":7}\n');
    await conn.raw(new Uint8Array([0x7b, 0xff, 0xfe, 0x7d, 0x0a])); // not UTF-8
    await conn.raw('{"command":"publish","tags":"a","data":"x"}\n');
    await conn.raw('{"command":"mystery"}\n');
    await conn.ack(ping, PONG);
    await conn.hangup();
  });
  await using client = await connect(server.url);
  const status = client.status();
  await client.ping();
  const errors: string[] = [];
  for (let i = 0; i < 6; i++) {
    const event = await next(status, "an error event");
    assert.equal(event.type, "error");
    if (event.type === "error") {
      assert.equal(event.error.code, "protocol_error");
      errors.push(event.error.message);
    }
  }
  assert.deepEqual(errors, [
    "protocol error: a frame from the server is not JSON (16 characters)",
    "protocol error: a frame from the server is not a JSON object",
    "protocol error: a frame from the server has no string command",
    "protocol error: a frame from the server is not UTF-8",
    'protocol error: a "publish" frame from the server has invalid tags',
    'protocol error: unexpected "mystery" message from the server',
  ]);
  assert.equal(client.state, "connected");
  await status.return?.();
});

Deno.test("a frame split across writes is put back together", async () => {
  await using server = new FakeServer(async (conn) => {
    await handshake(conn);
    const ping = await conn.request();
    const line = JSON.stringify({ ...PONG, id: ping.id }) + "\n";
    for (let i = 0; i < line.length; i += 3) {
      await conn.raw(line.slice(i, i + 3));
      await sleep(1);
    }
    await conn.hangup();
  });
  await using client = await connect(server.url);
  assert.ok(await within(client.ping(), "the ping") >= 0);
});

Deno.test("a connection cut in the middle of a frame fails the request clearly, then reconnects", async () => {
  await using server = new FakeServer(async (conn, index) => {
    await handshake(conn);
    if (index === 0) {
      await conn.request(); // the publish
      await conn.raw('{"command":"publish","id":2,"ta');
      return; // hang up mid-frame
    }
    await basicScript()(conn);
  });
  const client = await connect(server.url, {
    reconnect: { initialDelayMs: 5, maxDelayMs: 20 },
  });
  const status = client.status();
  await assert.rejects(client.publish(["a"], "x"), (err) => {
    isError("connection_closed")(err);
    assert.match(
      (err as Error).message,
      /lost the connection to tcp:\/\/127\.0\.0\.1:\d+: the server closed the connection in the middle of a frame/,
    );
    return true;
  });
  await until(status, (e) => e.type === "reconnect", "a reconnect event");
  await client.publish(["a"], "again");
  await client.close();
});

Deno.test("a frame longer than maxFrameBytes is skipped without buffering it, and reported", async () => {
  await using server = new FakeServer(async (conn) => {
    await handshake(conn);
    const ping = await conn.request();
    await conn.raw(
      JSON.stringify({
        command: "publish",
        tags: ["a"],
        data: "x".repeat(5000),
      }) +
        "\n",
    );
    await conn.ack(ping, PONG);
    await conn.hangup();
  });
  await using client = await connect(server.url, { maxFrameBytes: 1024 });
  const status = client.status();
  const all = client.messages();
  await client.ping();
  const event = await next(status, "an error event");
  assert.equal(event.type, "error");
  assert.match(
    event.type === "error" ? event.error.message : "",
    /longer than 1024 bytes; skipped/,
  );
  await client.close();
  assert.deepEqual(await all.next(), { value: undefined, done: true });
});

Deno.test("a dropped notice from the server is reported with its count", async () => {
  await using server = new FakeServer(async (conn) => {
    await handshake(conn);
    const ping = await conn.request();
    await conn.send({ command: "dropped", data: "42" });
    await conn.ack(ping, PONG);
    await conn.hangup();
  });
  await using client = await connect(server.url);
  const status = client.status();
  await client.ping();
  assert.deepEqual(await next(status), { type: "dropped", count: 42 });
  await status.return?.();
});

// ---- abrupt disconnects and silence -----------------------------------------

Deno.test("a server that hangs up at once fails connect() clearly", async () => {
  await using server = new FakeServer(async () => {});
  await assert.rejects(connect(server.url), (err) => {
    isError("connection_failed")(err);
    assert.match(
      (err as Error).message,
      /tcp:\/\/127\.0\.0\.1:\d+: the server closed the connection during the handshake/,
    );
    return true;
  });
});

Deno.test("a server that never answers the handshake fails connect() after timeoutMs", async () => {
  await using server = new FakeServer(async (conn) => {
    await conn.hangup();
  });
  await assert.rejects(
    connect(server.url, { timeoutMs: 100 }),
    (err) => {
      isError("connection_failed")(err);
      assert.match(
        (err as Error).message,
        /no answer to the handshake within 100 ms/,
      );
      return true;
    },
  );
});

Deno.test("a server that never answers a request fails it after requestTimeoutMs", async () => {
  await using server = new FakeServer(async (conn) => {
    await handshake(conn);
    await conn.hangup();
  });
  await using client = await connect(server.url, { requestTimeoutMs: 100 });
  await assert.rejects(client.subscribe(["a"]), isError("timeout"));
  await assert.rejects(client.ping(), isError("timeout"));
  assert.equal(client.state, "connected");
  await client.close();
});

Deno.test("an abrupt disconnect: publish in flight fails, ping in flight is sent again after reconnecting", async () => {
  const received: Message[] = [];
  await using server = new FakeServer(async (conn, index) => {
    await handshake(conn);
    if (index === 0) {
      await conn.request();
      await conn.request();
      return; // both unanswered
    }
    await basicScript({ onRequest: (r) => received.push(r) })(conn);
  });
  const client = await connect(server.url, {
    reconnect: { initialDelayMs: 5, maxDelayMs: 20 },
  });
  const publishing = client.publish(["a"], "maybe");
  const pinging = client.ping();
  await assert.rejects(publishing, isError("connection_closed"));
  assert.ok(await within(pinging, "the ping after reconnecting") >= 0);
  assert.deepEqual(received.map((r) => r.command), ["ping"]);
  await client.close();
});

// ---- a server that never acknowledges (the original mist) -----------------

Deno.test("against a server without acks the client switches to ping barriers and sends no ids", async () => {
  await using server = await tcpServer({ limits: { maxTags: 2 } });
  await using proxy = new LegacyProxy(server.addresses[0]!);
  await using alice = await connect(proxy.url, { token: "ignored-token" });
  await using bob = await connect(server.addresses[0]!);
  assert.equal(alice.mode, "legacy");

  // Pipelined: each call settles with its own answer, in order.
  const sub = alice.subscribe(["a"]);
  const bad = alice.publish(["a", "b", "c"], "too many tags");
  const notAdmin = alice.admin.tags("some-token");
  const list = alice.list();
  const ping = alice.ping();
  await sub;
  await assert.rejects(bad, isError("too_many_tags"));
  await assert.rejects(notAdmin, isError("forbidden"));
  assert.deepEqual(await list, [["a"]]);
  assert.ok((await ping) >= 0);

  const all = alice.messages();
  await bob.publish(["a"], "to alice");
  await bob.publish(["a", "x"], "again");
  const got = (await sub)[Symbol.asyncIterator]();
  assert.deepEqual(await next(got), {
    command: "publish",
    tags: ["a"],
    data: "to alice",
  });
  assert.equal((await next(got)).data, "again");
  assert.deepEqual([(await next(all)).data, (await next(all)).data], [
    "to alice",
    "again",
  ]);

  // The handshake's auth and ping carry ids (ignored by the original); nothing after.
  const requests = proxy.requests.map((line) => JSON.parse(line));
  assert.deepEqual(requests.slice(0, 2).map((r) => r.command), [
    "auth",
    "ping",
  ]);
  assert.ok(requests.slice(2).every((r) => r.id === undefined));
  // Each request but ping is followed by its barrier ping.
  assert.deepEqual(
    requests.slice(2, 9).map((r) => r.command),
    ["subscribe", "ping", "publish", "ping", "tags", "ping", "list"],
  );
  await all.return?.();
});

Deno.test('mode "legacy" never sends an id, not even on connecting', async () => {
  await using server = await tcpServer();
  await using proxy = new LegacyProxy(server.addresses[0]!);
  await using client = await connect(proxy.url, { mode: "legacy" });
  await client.subscribe(["a"]);
  await client.unsubscribe(["a"]);
  assert.ok(
    proxy.requests.every((line) => JSON.parse(line).id === undefined),
    proxy.requests.join("\n"),
  );
  assert.equal(client.mode, "legacy");
});

Deno.test('mode "ids" refuses a server that does not acknowledge', async () => {
  await using server = await tcpServer();
  await using proxy = new LegacyProxy(server.addresses[0]!);
  await assert.rejects(connect(proxy.url, { mode: "ids" }), (err) => {
    isError("protocol_error")(err);
    assert.match((err as Error).message, /does not answer correlation ids/);
    return true;
  });
});

Deno.test("without acks, a refused token is told by the error before the pong", async () => {
  await using server = new FakeServer(async (conn) => {
    const auth = await conn.request();
    assert.equal(auth.command, "auth");
    await conn.request(); // ping
    await conn.send({ command: "auth", error: ERROR_TEXT.invalid_token });
    await conn.send(PONG);
    await conn.hangup();
  });
  await assert.rejects(
    connect(server.url, { token: "wrong-token-1234" }),
    (err) => {
      isError("invalid_token")(err);
      assert.doesNotMatch((err as Error).message, /wrong-token-1234/);
      return true;
    },
  );
});

Deno.test("without acks, reconnecting subscribes again and the barrier confirms it", async () => {
  const first = await tcpServer();
  const { port } = new URL(first.addresses[0]!);
  const proxy = new LegacyProxy(first.addresses[0]!);
  const client = await connect(proxy.url, {
    reconnect: { initialDelayMs: 5, maxDelayMs: 50 },
  });
  const status = client.status();
  const sub = await client.subscribe(["x"]);
  await first.close();
  await until(status, (e) => e.type === "disconnect", "a disconnect event");
  await using second = await tcpServer({
    listeners: [`tcp://127.0.0.1:${port}`],
  });
  await until(status, (e) => e.type === "reconnect", "a reconnect event");
  assert.equal(client.mode, "legacy");
  assert.deepEqual(await client.list(), [["x"]]);
  await using bob = await connect(second.addresses[0]!);
  await bob.publish(["x"], "back");
  assert.equal((await next(sub[Symbol.asyncIterator]())).data, "back");
  await client.close();
  await proxy[Symbol.asyncDispose]();
});

// ---- tokens and admin commands -----------------------------------------------

Deno.test("the token goes first as auth, and admin commands keep docs/protocol.md §4's shapes", async () => {
  const seen: Message[][] = [];
  await using server = new FakeServer(authScript(seen));
  await using admin = await connect(server.url, { token: ADMIN_TOKEN });
  await admin.admin.register("new-token", ["b", "a"]);
  await admin.admin.set("new-token", ["c"]);
  await admin.admin.unset("new-token", ["a"]);
  assert.deepEqual(await admin.admin.tags("new-token"), ["b", "c"]);
  await admin.admin.unregister("new-token");
  await assert.rejects(
    admin.admin.tags("new-token"),
    isError("token_not_found"),
  );
  await assert.rejects(
    admin.admin.register("reader-token", []),
    isError("token_exists"),
  );
  const wire = seen[0]!.map(({ id: _, ...rest }) => rest);
  assert.deepEqual(wire, [
    { command: "auth", data: ADMIN_TOKEN },
    { command: "ping" },
    { command: "register", tags: ["b", "a"], data: "new-token" },
    { command: "set", tags: ["c"], data: "new-token" },
    { command: "unset", tags: ["a"], data: "new-token" },
    { command: "tags", data: "new-token" },
    { command: "unregister", data: "new-token" },
    { command: "tags", data: "new-token" },
    { command: "register", tags: [], data: "reader-token" },
  ]);
  assert.ok(seen[0]!.every((r) => typeof r.id === "number"));
});

Deno.test("after a reconnect the client authenticates again before anything else", async () => {
  const seen: Message[][] = [];
  const script = authScript(seen);
  await using server = new FakeServer(async (conn, index) => {
    if (index === 0) {
      await handshake(conn);
      await conn.request(); // subscribe, unanswered: then the line drops
      return;
    }
    await script(conn);
  });
  const client = await connect(server.url, {
    token: ADMIN_TOKEN,
    reconnect: { initialDelayMs: 5, maxDelayMs: 20 },
  });
  const status = client.status();
  const subscribing = client.subscribe(["a", "b"]);
  await until(status, (e) => e.type === "reconnect", "a reconnect event");
  await within(subscribing, "the subscription after reconnecting");
  const again = seen[0]!.map((r) => r.command);
  assert.deepEqual(again.slice(0, 3), ["auth", "ping", "subscribe"]);
  assert.equal(seen[0]![0]!.data, ADMIN_TOKEN);
  await client.close();
});

Deno.test("a token refused on reconnecting closes the client with that error", async () => {
  await using server = new FakeServer(async (conn, index) => {
    if (index === 0) {
      await handshake(conn);
      await conn.request(); // a ping: then the line drops
      return;
    }
    const auth = await conn.request();
    await conn.request();
    await conn.send({
      command: "auth",
      error: ERROR_TEXT.invalid_token,
      id: auth.id,
    });
    await conn.hangup();
  });
  const client = await connect(server.url, {
    token: "revoked-token-1",
    reconnect: { initialDelayMs: 5, maxDelayMs: 20 },
  });
  await assert.rejects(client.ping(), isError("invalid_token"));
  const error = await within(client.closed, "the client to close");
  assert.ok(error instanceof MistError);
  assert.equal(error.code, "invalid_token");
});

// ---- WebSocket and TLS transports --------------------------------------------

Deno.test("over WebSocket: the token in the X-AUTH-TOKEN header, messages both ways with TCP clients", async () => {
  await using server = await tcpServer();
  await using bridge = new WebSocketBridge(server.addresses[0]!, {
    token: ADMIN_TOKEN,
  });
  await using ws = await connect(bridge.url, { token: ADMIN_TOKEN });
  await using tcp = await connect(server.addresses[0]!);
  assert.equal(ws.mode, "ids");
  assert.equal(ws.server, `${bridge.url}/subscribe/websocket`);
  assert.deepEqual(bridge.tokens, [ADMIN_TOKEN]);
  assert.deepEqual(bridge.paths, ["/subscribe/websocket"]);

  const fromTcp = await ws.subscribe(["a"]);
  const fromWs = await tcp.subscribe(["b"]);
  await tcp.publish(["a"], "tcp → ws\nwith a newline");
  await ws.publish(["b", "c"], "ws → tcp");
  assert.deepEqual(
    await next(fromTcp[Symbol.asyncIterator]()),
    {
      command: "publish",
      tags: ["a"],
      data: "tcp → ws\nwith a newline",
    } satisfies Delivery,
  );
  assert.equal((await next(fromWs[Symbol.asyncIterator]())).data, "ws → tcp");
  assert.deepEqual(await ws.list(), [["a"]]);
  await assert.rejects(
    ws.request({ command: "nope" }),
    isError("unknown_command"),
  );
});

Deno.test("over WebSocket: a 401 before the upgrade is an invalid token", async () => {
  await using server = await tcpServer();
  await using bridge = new WebSocketBridge(server.addresses[0]!, {
    token: ADMIN_TOKEN,
  });
  await assert.rejects(
    connect(bridge.url, { token: "wrong-token-5555" }),
    isError("invalid_token"),
  );
  await assert.rejects(connect(bridge.url), isError("invalid_token"));
});
