/**
 * The client library against a real mist server over TCP (in-process, port 0).
 */

import assert from "node:assert/strict";
import {
  type ClientEvent,
  connect,
  type Delivery,
  MistError,
} from "../../mod.ts";
import { serve } from "../../src/server/server.ts";
import { closedPort } from "../_fake_server.ts";
import { ECHO_COMMANDS, next, tcpServer, until, within } from "../_helpers.ts";

const FAST_RECONNECT = { initialDelayMs: 10, maxDelayMs: 100 };

function delivery(tags: string[], data: string): Delivery {
  return { command: "publish", tags, data };
}

Deno.test("connect() pings, lists and knows the server acknowledges requests", async () => {
  await using server = await tcpServer();
  await using client = await connect(server.addresses[0]!);
  assert.equal(client.state, "connected");
  assert.equal(client.mode, "ids");
  assert.equal(client.server, server.addresses[0]);
  const rtt = await client.ping();
  assert.ok(rtt >= 0 && Number.isFinite(rtt));
  assert.deepEqual(await client.list(), []);
});

Deno.test("connect() takes the original's host:port form", async () => {
  await using server = await tcpServer();
  const { port } = new URL(server.addresses[0]!);
  await using client = await connect(`127.0.0.1:${port}`);
  assert.equal(client.server, `tcp://127.0.0.1:${port}`);
  await client.ping();
});

Deno.test("subscribe() resolves once applied, and deliveries reach every matching subscription", async () => {
  await using server = await tcpServer();
  const url = server.addresses[0]!;
  await using alice = await connect(url);
  await using bob = await connect(url);
  const all = alice.messages();
  const fish = await alice.subscribe(["onefish"]);
  const pair = await alice.subscribe(["twofish", "onefish", "twofish"]);
  const red = await alice.subscribe(["redfish"]);
  assert.deepEqual(pair.tags, ["onefish", "twofish"]);
  assert.deepEqual(await alice.list(), [["onefish"], ["onefish", "twofish"], [
    "redfish",
  ]]);

  await bob.publish(["twofish", "onefish"], "both");
  await bob.publish(["onefish"], "one");
  await bob.publish(["redfish"], "red");

  assert.deepEqual(
    await next(fish[Symbol.asyncIterator]()),
    delivery(["onefish", "twofish"], "both"),
  );
  assert.deepEqual(
    await next(fish[Symbol.asyncIterator]()),
    delivery(["onefish"], "one"),
  );
  assert.deepEqual(
    await next(pair[Symbol.asyncIterator]()),
    delivery(["onefish", "twofish"], "both"),
  );
  assert.deepEqual(
    await next(red[Symbol.asyncIterator]()),
    delivery(["redfish"], "red"),
  );
  // The client-wide stream gets each message once, however many subscriptions matched.
  assert.deepEqual(
    [await next(all), await next(all), await next(all)].map((m) => m.data),
    ["both", "one", "red"],
  );
  await alice.ping(); // everything bob published has arrived by now
  assert.equal(pair.dropped + fish.dropped + red.dropped, 0);
  await all.return?.();
});

Deno.test("for await over the client yields every delivery; a publisher never gets its own", async () => {
  await using server = await tcpServer();
  const url = server.addresses[0]!;
  await using alice = await connect(url);
  await using bob = await connect(url);
  await alice.subscribe(["room"]);
  await bob.subscribe(["room"]);
  const received: string[] = [];
  const reading = (async () => {
    for await (const msg of alice) {
      received.push(msg.data);
      if (received.length === 2) break;
    }
  })();
  await alice.publish(["room"], "from alice"); // not echoed to alice
  await bob.publish(["room"], "first");
  await bob.publish(["room"], "line one\nline two");
  await within(reading, "alice's loop");
  assert.deepEqual(received, ["first", "line one\nline two"]);
});

Deno.test("breaking out of a subscription unsubscribes it on the server", async () => {
  await using server = await tcpServer();
  const url = server.addresses[0]!;
  await using alice = await connect(url);
  await using bob = await connect(url);
  const sub = await alice.subscribe(["a"]);
  await bob.publish(["a"], "stop");
  for await (const msg of sub) {
    assert.equal(msg.data, "stop");
    break;
  }
  await within(sub.closed, "the subscription to end");
  assert.equal(sub.isClosed, true);
  // The unsubscription was sent before the list: requests keep their order.
  assert.deepEqual(await alice.list(), []);
});

Deno.test("two subscriptions to one tag set share the server's; the last one out unsubscribes", async () => {
  await using server = await tcpServer();
  await using client = await connect(server.addresses[0]!);
  const first = await client.subscribe(["a", "b"]);
  const second = await client.subscribe(["b", "a"]);
  assert.deepEqual(await client.list(), [["a", "b"]]);
  await first.unsubscribe();
  assert.equal(first.isClosed, true);
  assert.deepEqual(await client.list(), [["a", "b"]]);
  await second.unsubscribe();
  assert.deepEqual(await client.list(), []);
  await second.unsubscribe(); // idempotent
});

Deno.test("unsubscribe(tags) ends every subscription with exactly those tags", async () => {
  await using server = await tcpServer();
  await using client = await connect(server.addresses[0]!);
  const one = await client.subscribe(["x", "y"]);
  const two = await client.subscribe(["y", "x"]);
  const other = await client.subscribe(["x"]);
  await client.unsubscribe(["y", "x", "x"]);
  assert.equal(one.isClosed, true);
  assert.equal(two.isClosed, true);
  assert.equal(other.isClosed, false);
  assert.deepEqual(await client.list(), [["x"]]);
  assert.deepEqual(await one[Symbol.asyncIterator]().next(), {
    value: undefined,
    done: true,
  });
  await client.unsubscribe(["never", "subscribed"]); // not an error
});

Deno.test("an error reply rejects the call with a typed MistError carrying the server's text", async (t) => {
  await using server = await tcpServer({
    limits: { maxTags: 2, maxMessageBytes: 1024 },
  });
  await using client = await connect(server.addresses[0]!);
  await t.step("publish with too many tags", async () => {
    await assert.rejects(client.publish(["a", "b", "c"], "x"), (err) => {
      assert.ok(err instanceof MistError);
      assert.equal(err.code, "too_many_tags");
      assert.equal(err.message, "too many tags: 3 > 2");
      assert.equal(err.context?.command, "publish");
      return true;
    });
  });
  await t.step("subscribe refused: nothing is kept", async () => {
    await assert.rejects(client.subscribe(["a", "b", "c"]), {
      name: "MistError",
      code: "too_many_tags",
    });
    assert.deepEqual(await client.list(), []);
  });
  await t.step(
    "an admin command on a server without authentication",
    async () => {
      await assert.rejects(client.admin.register("some-token", ["a"]), {
        code: "forbidden",
        message: "forbidden: admin only",
      });
    },
  );
  await t.step("a custom command the server does not know", async () => {
    await assert.rejects(client.request({ command: "echo" }), {
      code: "unknown_command",
    });
  });
  await t.step(
    "a request too large to read (its error has no id)",
    async () => {
      const sending = client.publish(["a"], "x".repeat(2000));
      const after = client.ping();
      await assert.rejects(sending, { code: "too_large" });
      assert.ok((await after) >= 0);
    },
  );
  await t.step("the connection is still usable", async () => {
    await client.ping();
  });
});

Deno.test("request() sends custom commands and returns their reply", async () => {
  await using server = await tcpServer({
    commands: { ...ECHO_COMMANDS, quiet: () => {} },
  });
  await using client = await connect(server.addresses[0]!);
  assert.deepEqual(
    await client.request({ command: "echo", data: "hi", id: "mine" }),
    { command: "echo", data: "hi" },
  );
  assert.deepEqual(await client.request({ command: "quiet" }), {
    command: "quiet",
    tags: [],
    data: "ok",
  });
});

Deno.test("bad arguments are TypeErrors, thrown before anything is sent", async () => {
  await using server = await tcpServer();
  await using client = await connect(server.addresses[0]!);
  await assert.rejects(client.subscribe([]), TypeError);
  await assert.rejects(client.subscribe(["a", ""]), TypeError);
  await assert.rejects(
    client.publish("a" as unknown as string[], "x"),
    TypeError,
  );
  await assert.rejects(
    client.publish(["a"], 5 as unknown as string),
    TypeError,
  );
  await assert.rejects(client.admin.tags(""), TypeError);
  await assert.rejects(client.request({ command: "" }), TypeError);
  await assert.rejects(connect("udp://127.0.0.1:1"), TypeError);
  await assert.rejects(
    connect(server.addresses[0]!, { requestTimeoutMs: -1 }),
    RangeError,
  );
  await assert.rejects(
    connect(server.addresses[0]!, { reconnect: { jitter: 2 } }),
    RangeError,
  );
  await assert.rejects(
    connect(server.addresses[0]!, { mode: "fast" as "ids" }),
    TypeError,
  );
});

Deno.test("connect() fails fast and clearly when nothing listens", async () => {
  const port = closedPort();
  await assert.rejects(connect(`tcp://127.0.0.1:${port}`), (err) => {
    assert.ok(err instanceof MistError);
    assert.equal(err.code, "connection_failed");
    assert.equal(
      err.message,
      `cannot connect: tcp://127.0.0.1:${port}: connection refused`,
    );
    return true;
  });
});

Deno.test("a subscription nobody reads keeps at most its buffer and counts what it dropped", async () => {
  await using server = await tcpServer();
  const url = server.addresses[0]!;
  await using alice = await connect(url);
  await using bob = await connect(url);
  const status = alice.status();
  const sub = await alice.subscribe(["flood"], { maxPendingBytes: 1000 });
  const data = "x".repeat(100); // 100 + 5 + 64 = 169 bytes each: 5 fit
  for (let i = 0; i < 50; i++) await bob.publish(["flood"], data);
  await alice.ping();
  assert.equal(sub.dropped, 45);
  const { item } = await until(
    status,
    (e) => e.type === "slow",
    "a slow event",
  );
  assert.deepEqual(item, { type: "slow", tags: ["flood"] });
  let kept = 0;
  await sub.unsubscribe();
  for await (const _ of sub) kept++;
  assert.equal(kept, 5);
  await status.return?.();
});

Deno.test("close() fails waiting requests, ends subscriptions and iterators, and is idempotent", async () => {
  await using server = await tcpServer();
  const client = await connect(server.addresses[0]!);
  const sub = await client.subscribe(["a"]);
  const all = client.messages();
  const status = client.status();
  const pending = client.ping();
  const closing = client.close();
  await assert.rejects(pending, { name: "MistError", code: "client_closed" });
  await closing;
  await client.close();
  assert.equal(client.state, "closed");
  assert.equal(await client.closed, undefined);
  assert.equal(sub.isClosed, true);
  assert.deepEqual(await all.next(), { value: undefined, done: true });
  assert.deepEqual(await status.next(), { value: undefined, done: true });
  await assert.rejects(client.publish(["a"], "late"), {
    code: "client_closed",
  });
  await assert.rejects(client.subscribe(["a"]), { code: "client_closed" });
});

Deno.test("drain() and await using let requests made without waiting complete first", async () => {
  await using server = await tcpServer();
  const url = server.addresses[0]!;
  await using bob = await connect(url);
  const sub = await bob.subscribe(["d"]);
  {
    await using alice = await connect(url);
    for (let i = 0; i < 20; i++) void alice.publish(["d"], `${i}`);
  } // disposed: drained, then closed
  const got: string[] = [];
  const iterator = sub[Symbol.asyncIterator]();
  for (let i = 0; i < 20; i++) got.push((await next(iterator)).data);
  assert.deepEqual(got, Array.from({ length: 20 }, (_, i) => `${i}`));
});

Deno.test("an AbortSignal closes the client, and one already aborted stops connect()", async () => {
  await using server = await tcpServer();
  const controller = new AbortController();
  const client = await connect(server.addresses[0]!, {
    signal: controller.signal,
  });
  const sub = await client.subscribe(["a"]);
  controller.abort();
  assert.equal(await within(client.closed, "the client to close"), undefined);
  assert.equal(sub.isClosed, true);
  const reason = new Error("not now");
  await assert.rejects(
    connect(server.addresses[0]!, { signal: AbortSignal.abort(reason) }),
    reason,
  );
});

Deno.test("after the server restarts on the same port the client reconnects, subscribes again and receives", async () => {
  const first = await tcpServer();
  const url = first.addresses[0]!;
  const { port } = new URL(url);
  const client = await connect(url, { reconnect: FAST_RECONNECT });
  const status = client.status();
  const sub = await client.subscribe(["news", "world"]);
  const other = await client.subscribe(["sport"]);
  await first.close();

  const { item: lost } = await until(
    status,
    (e) => e.type === "disconnect",
    "a disconnect event",
  );
  assert.equal(
    lost.type === "disconnect" && lost.error.code,
    "connection_closed",
  );

  // A request made while disconnected waits for the connection.
  const listing = client.list();
  await using second = await serve({ listeners: [`tcp://127.0.0.1:${port}`] });
  const { item: back, skipped } = await until(
    status,
    (e) => e.type === "reconnect",
    "a reconnect event",
  );
  assert.ok(skipped.every((e) => e.type === "reconnecting"));
  assert.ok(back.type === "reconnect" && back.attempts >= 1 && back.gapMs >= 0);
  assert.equal(client.state, "connected");
  assert.deepEqual(await listing, [["news", "world"], ["sport"]]);

  await using publisher = await connect(second.addresses[0]!);
  await publisher.publish(["world", "news", "today"], "after the restart");
  assert.deepEqual(
    await next(sub[Symbol.asyncIterator](), "the message after the restart"),
    delivery(["news", "today", "world"], "after the restart"),
  );
  assert.equal(other.isClosed, false);
  await client.close();
  await status.return?.();
});

Deno.test('while reconnecting, whenDisconnected: "fail" fails requests at once', async () => {
  const server = await tcpServer();
  const client = await connect(server.addresses[0]!, {
    whenDisconnected: "fail",
    reconnect: { initialDelayMs: 60_000, maxDelayMs: 60_000 },
  });
  const status = client.status();
  await server.close();
  await until(status, (e) => e.type === "disconnect", "a disconnect event");
  assert.equal(client.state, "reconnecting");
  await assert.rejects(client.publish(["a"], "x"), {
    name: "MistError",
    code: "not_connected",
  });
  await client.close(); // also cuts the reconnect wait short
  await status.return?.();
});

Deno.test("while reconnecting, a waiting request times out instead of hanging", async () => {
  const server = await tcpServer();
  const client = await connect(server.addresses[0]!, {
    requestTimeoutMs: 100,
    reconnect: { initialDelayMs: 60_000, maxDelayMs: 60_000 },
  });
  const status = client.status();
  await server.close();
  await until(status, (e) => e.type === "disconnect", "a disconnect event");
  await assert.rejects(client.ping(), {
    code: "timeout",
    message: 'timed out: no answer to "ping" within 100 ms',
  });
  await client.close();
});

Deno.test("without reconnect, a lost connection closes the client with the reason", async () => {
  const server = await tcpServer();
  const client = await connect(server.addresses[0]!, { reconnect: false });
  const sub = await client.subscribe(["a"]);
  await server.close();
  const error = await within(client.closed, "the client to close");
  assert.ok(error instanceof MistError);
  assert.equal(error.code, "connection_closed");
  assert.equal(client.state, "closed");
  await assert.rejects(sub[Symbol.asyncIterator]().next(), error);
});

Deno.test("after maxAttempts failed reconnects the client gives up and closes", async () => {
  const server = await tcpServer();
  const client = await connect(server.addresses[0]!, {
    reconnect: { ...FAST_RECONNECT, maxAttempts: 3 },
  });
  const status = client.status();
  await server.close();
  const error = await within(client.closed, "the client to give up");
  assert.ok(error instanceof MistError);
  assert.equal(error.code, "connection_failed");
  assert.match(error.message, /gave up after 3 attempts/);
  const events: ClientEvent["type"][] = [];
  for await (const event of status) events.push(event.type);
  assert.deepEqual(events, [
    "disconnect",
    "reconnecting",
    "reconnecting",
    "reconnecting",
  ]);
});
