import assert from "node:assert/strict";
import { MistError } from "../protocol/errors.ts";
import { serve } from "../server/server.ts";
import { within } from "../testing/eventually.ts";
import type { ReconnectOptions } from "./backoff.ts";
import { Connector } from "./connector.ts";
import { type ConnectOptions, resolveOptions } from "./options.ts";
import { RequestTracker } from "./requests.ts";
import { type ClientEvent, StatusFeed } from "./status.ts";
import { SubscriptionRegistry } from "./subscription_registry.ts";
import {
  registerTransport,
  type Transport,
  type TransportHandler,
} from "./transport.ts";

interface Request {
  command: string;
  id?: number;
  tags?: string[];
  data?: string;
}

/** One connection to the fake server. */
class FakeTransport implements Transport {
  readonly presentsToken = false;
  readonly sent: Request[] = [];
  readonly #handler: TransportHandler;
  readonly #server: FakeServer;
  readonly #closed = Promise.withResolvers<Error | undefined>();
  readonly closed = this.#closed.promise;

  constructor(handler: TransportHandler, server: FakeServer) {
    this.#handler = handler;
    this.#server = server;
  }

  send(frames: readonly string[]): void {
    for (const frame of frames) {
      const request = JSON.parse(frame) as Request;
      this.sent.push(request);
      const reply = this.#server.answer(request);
      if (reply !== undefined) this.write(reply);
    }
  }

  /** The server writes a message. */
  write(message: object): void {
    queueMicrotask(() => this.#handler.frame(JSON.stringify(message)));
  }

  /** The server writes raw text. */
  writeRaw(text: string): void {
    queueMicrotask(() => this.#handler.frame(text));
  }

  /** The server wrote a frame too long to read. */
  oversize(): void {
    this.#handler.oversize();
  }

  /** The connection breaks. */
  end(error?: Error): void {
    this.#closed.resolve(error);
  }

  close(): void {
    this.#closed.resolve(undefined);
  }
}

/** A server behind the `fake://` transport, scripted per test. */
class FakeServer {
  readonly transports: FakeTransport[] = [];
  /** How many of the next connections are refused. */
  refuse = 0;
  /** What the server answers (ids, pong to pings, `""` data otherwise). */
  answer: (request: Request) => object | undefined = (request) => ({
    command: request.command,
    tags: request.tags ?? [],
    data: request.command === "ping" ? "pong" : "",
    id: request.id,
  });
  readonly #opened: (() => void)[] = [];

  open(handler: TransportHandler): Promise<Transport> {
    if (this.refuse > 0) {
      this.refuse--;
      return Promise.reject(new Deno.errors.ConnectionRefused("refused"));
    }
    const transport = new FakeTransport(handler, this);
    this.transports.push(transport);
    for (const wake of this.#opened.splice(0)) wake();
    return Promise.resolve(transport);
  }

  /** Waits for the nth connection (1-based). */
  async connection(n: number): Promise<FakeTransport> {
    while (this.transports.length < n) {
      await within(
        new Promise<void>((resolve) => this.#opened.push(resolve)),
        `connection ${n}`,
      );
    }
    return this.transports[n - 1]!;
  }

  get last(): FakeTransport {
    return this.transports.at(-1)!;
  }
}

let server = new FakeServer();
registerTransport("fake", (_url, _options, handler) => server.open(handler));

/** A connector and the client parts it serves, as `MistClient` wires them (no reconnect unless asked). */
function client(url: string, options: ConnectOptions = {}) {
  const resolved = resolveOptions({ reconnect: false, ...options });
  const events = new StatusFeed();
  const status = events.reader();
  const holder: { connector?: Connector } = {};
  const requests = new RequestTracker({
    ...resolved,
    server: url,
    connection: () => holder.connector!.current,
  });
  const subscriptions = new SubscriptionRegistry({
    ...resolved,
    requests,
    events,
  });
  const connector = new Connector({
    url: new URL(url),
    server: url,
    options: resolved,
    requests,
    subscriptions,
    events,
  });
  holder.connector = connector;
  return { connector, requests, subscriptions, status };
}

async function nextEvent(
  status: AsyncIterableIterator<ClientEvent>,
): Promise<ClientEvent> {
  const { value, done } = await within(status.next(), "a status event");
  assert.equal(done, false, "the status feed ended");
  return value as ClientEvent;
}

const quick: ReconnectOptions = { initialDelayMs: 1, maxDelayMs: 1, jitter: 0 };

function fresh(): FakeServer {
  return server = new FakeServer();
}

Deno.test("`Connector.open()` connects to a real server; `shutdown()` closes", async () => {
  await using mist = await serve({ listeners: ["tcp://127.0.0.1:0"] });
  const { connector, requests, status } = client(mist.addresses[0]!);
  assert.equal(connector.state, "connecting");
  await connector.open();
  assert.equal(connector.state, "connected");
  assert.equal(connector.mode, "ids");
  assert.notEqual(connector.current, undefined);
  assert.equal((await requests.send({ command: "ping" }))?.data, "pong");
  await connector.shutdown(undefined);
  assert.equal(connector.state, "closed");
  assert.equal(connector.current, undefined);
  assert.equal(await connector.closed, undefined);
  assert.equal((await status.next()).done, true, "status iterators end");
});

Deno.test("`Connector.open()` fails on an unreachable server, and closes with the error", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  const { connector, requests } = client(`tcp://127.0.0.1:${port}`);
  const failed = await connector.open().then(
    () => assert.fail("it connected"),
    (err: unknown) => err,
  );
  assert.ok(failed instanceof MistError);
  assert.equal(failed.code, "connection_failed");
  assert.equal(connector.state, "closed");
  assert.equal(await connector.closed, failed);
  await assert.rejects(requests.send({ command: "ping" }), {
    name: "MistError",
  });
});

Deno.test("`Connector.open()` throws the signal's reason when it was aborted already", async () => {
  fresh();
  const reason = new Error("never mind");
  const { connector } = client("fake://h", {
    signal: AbortSignal.abort(reason),
  });
  await assert.rejects(connector.open(), (err) => err === reason);
  assert.deepEqual(server.transports, []);
});

Deno.test("`Connector` closes when the client's signal aborts", async () => {
  fresh();
  const controller = new AbortController();
  const { connector } = client("fake://h", { signal: controller.signal });
  await connector.open();
  controller.abort();
  assert.equal(await within(connector.closed, "closed"), undefined);
  assert.equal(connector.state, "closed");
});

Deno.test("`Connector` without reconnect closes when the connection is lost", async () => {
  fresh();
  const { connector, requests, status } = client("fake://h");
  await connector.open();
  server.answer = () => undefined; // the next request stays unanswered
  const pending = requests.send({ command: "list" });
  server.last.end(new Deno.errors.ConnectionReset("reset"));
  const event = await nextEvent(status);
  assert.equal(event.type, "disconnect");
  assert.equal(
    event.type === "disconnect" && event.error.message,
    "connection closed: lost the connection to fake://h: connection reset by the server",
  );
  const error = await within(connector.closed, "closed");
  assert.ok(error instanceof MistError);
  assert.equal(error.code, "connection_closed");
  assert.equal(connector.state, "closed");
  await assert.rejects(pending, (err) => err === error);
});

Deno.test("`Connector` reconnects after a loss, re-subscribes and tells each step", async () => {
  fresh();
  const { connector, subscriptions, status } = client("fake://h", {
    reconnect: quick,
  });
  await connector.open();
  const subscription = await subscriptions.subscribe(["news"], {});
  server.last.end();
  assert.equal((await nextEvent(status)).type, "disconnect");
  assert.equal(connector.state, "reconnecting");
  assert.deepEqual(await nextEvent(status), {
    type: "reconnecting",
    attempt: 1,
    delayMs: 1,
  });
  const reconnected = await nextEvent(status);
  assert.equal(reconnected.type, "reconnect");
  assert.equal(reconnected.type === "reconnect" && reconnected.attempts, 1);
  assert.equal(connector.state, "connected");
  const second = await server.connection(2);
  assert.deepEqual(
    second.sent.map((r) => [r.command, r.tags]),
    [["ping", undefined], ["subscribe", ["news"]]],
  );
  second.write({ command: "publish", tags: ["news"], data: "again" });
  const iterator = subscription[Symbol.asyncIterator]();
  assert.equal(
    (await within(iterator.next(), "a delivery")).value?.data,
    "again",
  );
  await connector.shutdown(undefined);
});

Deno.test("`Connector` retries refused reconnects and gives up after `maxAttempts`", async () => {
  fresh();
  const { connector, status } = client("fake://h", {
    reconnect: { ...quick, maxAttempts: 2 },
  });
  await connector.open();
  server.refuse = 10;
  server.last.end();
  const types: string[] = [];
  for (let i = 0; i < 3; i++) {
    const event = await nextEvent(status);
    types.push(
      event.type === "reconnecting"
        ? `${event.type} ${event.attempt}`
        : event.type,
    );
  }
  assert.deepEqual(types, ["disconnect", "reconnecting 1", "reconnecting 2"]);
  const error = await within(connector.closed, "closed");
  assert.ok(error instanceof MistError);
  assert.equal(
    error.message,
    "cannot connect: fake://h: gave up after 2 attempts to reconnect",
  );
  const rest: ClientEvent[] = [];
  for await (const event of status) rest.push(event);
  assert.deepEqual(rest, [], "no third attempt");
});

Deno.test("`Connector` stops reconnecting when the server refuses the token", async () => {
  fresh();
  const { connector, status } = client("fake://h", {
    reconnect: quick,
    token: "t",
  });
  await connector.open();
  const answer = server.answer;
  server.answer = (request) =>
    request.command === "auth"
      ? { command: "auth", error: "invalid token", id: request.id }
      : answer(request);
  server.last.end();
  assert.equal((await nextEvent(status)).type, "disconnect");
  assert.equal((await nextEvent(status)).type, "reconnecting");
  const error = await within(connector.closed, "closed");
  assert.ok(error instanceof MistError);
  assert.equal(error.code, "invalid_token");
  assert.equal(server.transports.length, 2, "no attempt after the refusal");
});

Deno.test("`Connector` turns notices and bad frames into status events", async (t) => {
  fresh();
  const { connector, status } = client("fake://h");
  await connector.open();
  const transport = server.last;
  const table: [string, () => void, (e: ClientEvent) => void][] = [
    [
      "a dropped notice",
      () => transport.write({ command: "dropped", data: "5" }),
      (e) => assert.deepEqual(e, { type: "dropped", count: 5 }),
    ],
    [
      "a dropped notice without a count",
      () => transport.write({ command: "dropped", data: "many" }),
      (e) => assert.deepEqual(e, { type: "dropped", count: 0 }),
    ],
    [
      "an unexpected message",
      () => transport.write({ command: "surprise", data: "" }),
      (e) => {
        assert.equal(e.type, "error");
        assert.equal(
          e.type === "error" && e.error.message,
          'protocol error: unexpected "surprise" message from the server',
        );
      },
    ],
    [
      "an oversize frame",
      () => transport.oversize(),
      (e) => {
        assert.equal(e.type, "error");
        assert.match(
          e.type === "error" ? e.error.message : "",
          /a frame from the server was longer than \d+ bytes; skipped/,
        );
      },
    ],
    [
      "a frame that is not JSON",
      () => transport.writeRaw("{nope"),
      (e) => {
        assert.equal(e.type, "error");
        assert.equal(e.type === "error" && e.error.code, "protocol_error");
      },
    ],
  ];
  for (const [name, send, check] of table) {
    await t.step(name, async () => {
      send();
      check(await nextEvent(status));
    });
  }
  await connector.shutdown(undefined);
});

Deno.test("`Connector.drain()` refuses new requests, waits for those made, then closes", async () => {
  fresh();
  const { connector, requests } = client("fake://h");
  await connector.open();
  const answer = server.answer;
  let held: Request | undefined;
  server.answer = (request) => {
    held = request;
    return undefined;
  };
  const pending = requests.send({ command: "list" });
  const draining = connector.drain();
  await assert.rejects(requests.send({ command: "ping" }), {
    message: "client closed",
  });
  assert.equal(connector.state, "connected", "still open for what was made");
  server.last.write(answer(held!)!);
  assert.equal((await pending)?.command, "list");
  await within(draining, "drained");
  assert.equal(connector.state, "closed");
  await within(connector.drain(), "a second drain, once closed");
});

Deno.test("`Connector.shutdown()` is idempotent: the first call decides", async () => {
  fresh();
  const { connector } = client("fake://h");
  await connector.open();
  const first = connector.shutdown(new Error("first"));
  const second = connector.shutdown(new Error("second"));
  assert.equal(first, second);
  await first;
  assert.equal((await connector.closed)?.message, "first");
});
