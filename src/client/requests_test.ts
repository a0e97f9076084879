import assert from "node:assert/strict";
import { settlesWithin } from "../_util/deadline.ts";
import type { Message } from "../protocol/codec.ts";
import { MistError } from "../protocol/errors.ts";
import {
  RequestTracker,
  type RequestTrackerOptions,
  type ServerConnection,
} from "./requests.ts";
import type { Transport } from "./transport.ts";

/** A transport that records what is sent on it. */
class FakeTransport implements Transport {
  readonly presentsToken = false;
  readonly sent: string[] = [];
  readonly closed: Promise<Error | undefined> = new Promise(() => {});
  send(frames: readonly string[]): void {
    this.sent.push(...frames);
  }
  close(): void {}
}

/** A tracker, with a connection it can be given and taken. */
function tracker(
  options: Partial<RequestTrackerOptions> = {},
): {
  requests: RequestTracker;
  connect: (
    legacy?: boolean,
  ) => { link: ServerConnection; transport: FakeTransport };
  disconnect: () => void;
} {
  let current: ServerConnection | undefined;
  const requests = new RequestTracker({
    server: "tcp://example:1",
    requestTimeoutMs: 10_000,
    whenDisconnected: "wait",
    connection: () => current,
    ...options,
  });
  return {
    requests,
    connect(legacy = false) {
      const link = requests.newConnection(legacy);
      const transport = new FakeTransport();
      link.transport = transport;
      current = link;
      return { link, transport };
    },
    disconnect() {
      current = undefined;
    },
  };
}

function ids(sent: string[]): unknown[] {
  return sent.map((text) => JSON.parse(text).id);
}

function mistError(code: string, message?: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof MistError, String(err));
    assert.equal(err.code, code);
    if (message) assert.match(err.message, message);
    return true;
  };
}

Deno.test("`RequestTracker.send()` sends on the connection and settles with the reply of its id", async () => {
  const { requests, connect } = tracker();
  const { link, transport } = connect();
  assert.equal(requests.connected, true);
  const reply = requests.send({ command: "list" });
  assert.deepEqual(transport.sent, ['{"command":"list","id":1}']);
  const answer: Message = { command: "list", tags: [], data: "[]", id: 1 };
  assert.equal(link.correlator.accept(answer), true);
  assert.deepEqual(await reply, answer);
});

Deno.test("`RequestTracker` ids keep counting across connections", () => {
  const { requests, connect } = tracker();
  const first = connect();
  requests.send({ command: "ping" }).catch(() => {});
  const second = connect();
  requests.send({ command: "ping" }).catch(() => {});
  assert.deepEqual([
    ...ids(first.transport.sent),
    ...ids(second.transport.sent),
  ], [1, 2]);
  requests.rejectAll(new MistError("client_closed"));
});

Deno.test("`RequestTracker.send()` without a connection waits, then goes out on `flushWaiting()`", async () => {
  const { requests, connect } = tracker({ whenDisconnected: "wait" });
  assert.equal(requests.connected, false);
  const reply = requests.send({ command: "ping" });
  const { link, transport } = connect();
  assert.deepEqual(transport.sent, []);
  requests.flushWaiting();
  assert.equal(transport.sent.length, 1);
  const id = JSON.parse(transport.sent[0]!).id;
  link.correlator.accept({ command: "ping", tags: [], data: "pong", id });
  assert.equal((await reply)?.data, "pong");
});

Deno.test("`RequestTracker.send()` without a connection fails at once when told to", async () => {
  const { requests } = tracker({ whenDisconnected: "fail" });
  await assert.rejects(
    requests.send({ command: "ping" }),
    mistError("not_connected", /reconnecting to tcp:\/\/example:1/),
  );
});

Deno.test("`RequestTracker` fails a request not answered in time, naming its command", async () => {
  const { requests, connect } = tracker({ requestTimeoutMs: 5 });
  connect();
  await assert.rejects(
    requests.send({ command: "tags" }),
    mistError("timeout", /no answer to "tags" within 5 ms/),
  );
});

Deno.test("`RequestTracker` times out a request still waiting for a connection, and never sends it", async () => {
  const { requests, connect } = tracker({ requestTimeoutMs: 5 });
  await assert.rejects(
    requests.send({ command: "ping" }),
    mistError("timeout"),
  );
  const { transport } = connect();
  requests.flushWaiting();
  assert.deepEqual(transport.sent, []);
});

Deno.test("`RequestTracker.create()` takes its own timeout and is not sent", async () => {
  const { requests, connect } = tracker();
  const { transport } = connect();
  const pending = requests.create({ command: "auth", data: "t" }, {
    timeoutMs: 5,
  });
  assert.equal(pending.internal, true);
  assert.deepEqual(transport.sent, []);
  await assert.rejects(pending.promise, mistError("timeout", /within 5 ms/));
  assert.equal(pending.settled, true);
});

Deno.test("`RequestTracker` settles a request once: the first of reply, error or timeout wins", async () => {
  const { requests } = tracker();
  const pending = requests.create({ command: "ping" }, { internal: false });
  pending.resolve({ command: "ping", data: "first" });
  pending.reject(new MistError("timeout"));
  pending.resolve({ command: "ping", data: "second" });
  assert.deepEqual(await pending.promise, { command: "ping", data: "first" });
});

Deno.test("`RequestTracker.abandon()` repeats only the user's repeatable requests, when waiting", async (t) => {
  const table: [string, string, boolean, "wait" | "fail", boolean, boolean][] =
    [
      // name, command, internal, whenDisconnected, repeat, repeated
      ["a ping", "ping", false, "wait", true, true],
      ["a subscribe", "subscribe", false, "wait", true, true],
      ["a list", "list", false, "wait", true, true],
      ["a tags", "tags", false, "wait", true, true],
      ["an unsubscribe", "unsubscribe", false, "wait", true, true],
      ["a publish", "publish", false, "wait", true, false],
      ["a register", "register", false, "wait", true, false],
      ["an internal subscribe", "subscribe", true, "wait", true, false],
      ["a ping when failing", "ping", false, "fail", true, false],
      ["a ping when not repeating", "ping", false, "wait", false, false],
    ];
  for (
    const [name, command, internal, whenDisconnected, repeat, repeated] of table
  ) {
    await t.step(`${name}: ${repeated ? "repeated" : "failed"}`, async () => {
      const { requests, connect } = tracker({ whenDisconnected });
      const first = connect();
      const request = { command, tags: ["a"], data: "" };
      const reply = internal
        ? requests.sendInternal(request)
        : requests.send(request);
      const reason = new MistError("connection_closed");
      requests.abandon(first.link.correlator.abandon(), reason, repeat);
      const second = connect();
      requests.flushWaiting();
      if (repeated) {
        assert.equal(second.transport.sent.length, 1);
        const id = JSON.parse(second.transport.sent[0]!).id;
        second.link.correlator.accept({ command, tags: ["a"], id });
        assert.equal((await reply)?.command, command);
      } else {
        assert.deepEqual(second.transport.sent, []);
        await assert.rejects(reply, (err) => err === reason);
      }
    });
  }
});

Deno.test("`RequestTracker.abandon()` sends the repeated requests first, in the order sent", () => {
  const { requests, connect } = tracker();
  const first = connect();
  requests.send({ command: "ping", data: "1" }).catch(() => {});
  requests.send({ command: "list", data: "2" }).catch(() => {});
  const abandoned = first.link.correlator.abandon();
  requests.abandon(abandoned, new MistError("connection_closed"), true);
  const second = connect();
  requests.flushWaiting();
  assert.deepEqual(
    second.transport.sent.map((text) => JSON.parse(text).command),
    ["ping", "list"],
  );
  requests.rejectAll(new MistError("client_closed"));
});

Deno.test("`RequestTracker.refuseNew()` refuses new requests and lets the others finish", async () => {
  const { requests, connect } = tracker();
  const { link } = connect();
  const before = requests.send({ command: "list" });
  requests.refuseNew();
  assert.throws(() => requests.checkOpen(), mistError("client_closed"));
  await assert.rejects(
    requests.send({ command: "list" }),
    mistError("client_closed"),
  );
  const settled = requests.settled();
  assert.equal(await settlesWithin(settled, 1), false, "one still open");
  link.correlator.accept({ command: "list", tags: [], data: "[]", id: 1 });
  assert.equal((await before)?.data, "[]");
  assert.equal(await settlesWithin(settled, 10_000), true);
});

Deno.test("`RequestTracker.settled()` does not wait for the client's own requests", async () => {
  // The internal request would not time out before the bound below.
  const { requests, connect } = tracker({ requestTimeoutMs: 60_000 });
  connect();
  requests.sendInternal({ command: "subscribe", tags: ["a"] });
  assert.equal(await settlesWithin(requests.settled(), 10_000), true);
  requests.rejectAll(new MistError("client_closed"));
});

Deno.test("`RequestTracker.rejectAll()` fails every request, sent or waiting, and refuses new ones", async () => {
  const { requests, connect, disconnect } = tracker();
  connect();
  const sent = requests.send({ command: "list" });
  disconnect();
  const waiting = requests.send({ command: "ping" });
  const error = new MistError("client_closed");
  requests.rejectAll(error);
  await assert.rejects(sent, (err) => err === error);
  await assert.rejects(waiting, (err) => err === error);
  await assert.rejects(
    requests.send({ command: "ping" }),
    mistError("client_closed"),
  );
  const { transport } = connect();
  requests.flushWaiting();
  assert.deepEqual(transport.sent, []);
});
