/**
 * The `ws://` transport (src/client/ws_transport.ts) against the real server's
 * `ws://` listener: frames both ways, the token header, closing from either
 * side, a frame over the limit.
 */

import assert from "node:assert/strict";
import { openAuthenticator } from "../../src/auth/builtin.ts";
import { MistError } from "../../src/protocol/errors.ts";
import type { ServeOptions } from "../../src/server/options.ts";
import { type MistServer, serve } from "../../src/server/server.ts";
import type {
  Transport,
  TransportHandler,
  TransportOptions,
} from "../../src/client/transport.ts";
import { openWebSocketTransport } from "../../src/client/ws_transport.ts";
import { closedPort } from "../_fake_server.ts";
import { eventually, within } from "../_helpers.ts";

const ADMIN_TOKEN = "admin-secret-0001";

function wsServer(options: ServeOptions = {}): Promise<MistServer> {
  return serve({ listeners: ["ws://127.0.0.1:0"], ...options });
}

/** A handler that keeps every frame as text and counts the oversize ones. */
class Frames implements TransportHandler {
  readonly texts: string[] = [];
  oversized = 0;
  frame(frame: string | Uint8Array): void {
    this.texts.push(
      typeof frame === "string" ? frame : new TextDecoder().decode(frame),
    );
  }
  oversize(): void {
    this.oversized++;
  }
  /** The messages received, parsed. */
  get messages(): { command: string; tags?: string[]; data?: string }[] {
    return this.texts.map((text) => JSON.parse(text));
  }
  /** The data of the messages of a command. */
  data(command: string): (string | undefined)[] {
    return this.messages.filter((m) => m.command === command).map((m) =>
      m.data
    );
  }
  /** Waits for `count` messages of a command, bounded. */
  async waitFor(command: string, count = 1): Promise<void> {
    await eventually(
      () => this.data(command).length >= count,
      `${count} ${command} frame(s)`,
      5000,
    );
  }
}

function open(
  server: MistServer,
  handler: TransportHandler,
  options: Partial<TransportOptions> = {},
): Promise<Transport> {
  return openWebSocketTransport(new URL(server.addresses[0]!), {
    maxFrameBytes: 1024 * 1024,
    signal: AbortSignal.timeout(5000),
    ...options,
  }, handler);
}

const subscribe = (tags: string[]) =>
  JSON.stringify({ command: "subscribe", tags });
const PING = JSON.stringify({ command: "ping" });

Deno.test("openWebSocketTransport() sends frames in order and hands each frame received to frame()", async () => {
  await using server = await wsServer();
  const frames = new Frames();
  const transport = await open(server, frames);
  try {
    assert.equal(transport.presentsToken, false);
    transport.send([subscribe(["a"]), subscribe(["b", "c"]), PING]);
    await frames.waitFor("ping");
    // The pong came after both subscriptions were applied.
    server.publish(["a"], "one");
    server.publish(["c", "b"], "two");
    await frames.waitFor("publish", 2);
    assert.deepEqual(frames.data("ping"), ["pong"]);
    assert.deepEqual(frames.data("publish"), ["one", "two"]);
    assert.equal(frames.oversized, 0);
  } finally {
    transport.close();
    assert.equal(await within(transport.closed, "closed", 5000), undefined);
  }
});

Deno.test("openWebSocketTransport() skips a frame over maxFrameBytes and reports it with oversize()", async () => {
  await using server = await wsServer();
  const frames = new Frames();
  const transport = await open(server, frames, { maxFrameBytes: 200 });
  try {
    transport.send([subscribe(["a"]), PING]);
    await frames.waitFor("ping");
    server.publish(["a"], "before");
    server.publish(["a"], "x".repeat(500));
    // Over the limit in UTF-8 bytes, under it in UTF-16 code units.
    server.publish(["a"], "é".repeat(90));
    server.publish(["a"], "after");
    await frames.waitFor("publish", 2);
    await eventually(() => frames.oversized === 2, "two oversize frames", 5000);
    assert.deepEqual(frames.data("publish"), ["before", "after"]);
    // The connection stays usable.
    transport.send([PING]);
    await frames.waitFor("ping", 2);
  } finally {
    transport.close();
    await within(transport.closed, "closed", 5000);
  }
});

Deno.test("openWebSocketTransport() presents the token in X-AUTH-TOKEN, and a refused one fails with invalid token", async () => {
  await using server = await wsServer({
    authenticator: await openAuthenticator("memory://"),
    token: ADMIN_TOKEN,
  });
  const frames = new Frames();
  const transport = await open(server, frames, { token: ADMIN_TOKEN });
  try {
    assert.equal(transport.presentsToken, true);
    // Only the admin may read a token's tags: the header made this the admin.
    transport.send([JSON.stringify({ command: "tags", data: "nobody-token" })]);
    await eventually(() => frames.texts.length > 0, "the tags reply", 5000);
    assert.doesNotMatch(frames.texts[0]!, /forbidden/);
  } finally {
    transport.close();
    await within(transport.closed, "closed", 5000);
  }

  await assert.rejects(
    open(server, new Frames(), { token: "wrong-token-4242" }),
    (err: unknown) => {
      assert.ok(err instanceof MistError, String(err));
      assert.equal(err.code, "invalid_token");
      assert.doesNotMatch(err.message, /wrong-token-4242/);
      return true;
    },
  );
});

Deno.test("Transport.close() ends the connection cleanly, once; send() after it does nothing", async () => {
  await using server = await wsServer();
  const frames = new Frames();
  const transport = await open(server, frames);
  transport.close();
  transport.close();
  transport.send([PING]);
  assert.equal(await within(transport.closed, "closed", 5000), undefined);
  transport.send([PING]);
  assert.deepEqual(frames.texts, []);
});

Deno.test("Transport.closed resolves when the server closes the connection", async () => {
  const server = await wsServer();
  const frames = new Frames();
  const transport = await open(server, frames);
  await server.close();
  const ended = await within(transport.closed, "closed", 5000);
  assert.ok(ended === undefined || ended instanceof Error, String(ended));
  await server.finished;
});

Deno.test("openWebSocketTransport() rejects with the signal's reason when aborted", async (t) => {
  await using server = await wsServer();
  await t.step("before connecting", async () => {
    const reason = new Error("stop");
    const controller = new AbortController();
    controller.abort(reason);
    await assert.rejects(
      open(server, new Frames(), { signal: controller.signal }),
      (err: unknown) => err === reason,
    );
  });
  await t.step("while connecting", async () => {
    const reason = new Error("stop now");
    const controller = new AbortController();
    const opening = open(server, new Frames(), { signal: controller.signal });
    controller.abort(reason);
    await assert.rejects(opening, (err: unknown) => err === reason);
  });
});

Deno.test("openWebSocketTransport() rejects with the network's error when nothing listens", async () => {
  await assert.rejects(
    openWebSocketTransport(new URL(`ws://127.0.0.1:${closedPort()}`), {
      maxFrameBytes: 1024,
      signal: AbortSignal.timeout(5000),
    }, new Frames()),
    Error,
  );
});

/**
 * A WebSocket server of the test's own for line mode (the mist server gets
 * it in another change): it records the subprotocols offered and every frame
 * received, and accepts `mist.lines` only when `accept` is set. `reply` is
 * what it sends back once for a frame holding `ping`.
 */
class LineModeServer implements AsyncDisposable {
  readonly offered: string[] = [];
  readonly received: string[] = [];
  readonly #server: Deno.HttpServer<Deno.NetAddr>;

  constructor(accept: boolean, reply: string[]) {
    this.#server = Deno.serve({
      hostname: "127.0.0.1",
      port: 0,
      onListen: () => {},
    }, (request) => {
      this.offered.push(request.headers.get("sec-websocket-protocol") ?? "");
      const { socket, response } = Deno.upgradeWebSocket(
        request,
        accept ? { protocol: "mist.lines" } : {},
      );
      socket.onmessage = (event) => {
        this.received.push(String(event.data));
        if (String(event.data).includes('"ping"')) {
          for (const frame of reply) socket.send(frame);
        }
      };
      return response;
    });
  }

  get url(): URL {
    return new URL(`ws://127.0.0.1:${this.#server.addr.port}/`);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.#server.shutdown();
  }
}

function openAt(url: URL, handler: TransportHandler): Promise<Transport> {
  return openWebSocketTransport(url, {
    maxFrameBytes: 1024,
    signal: AbortSignal.timeout(5000),
  }, handler);
}

const delivery = (data: string) =>
  JSON.stringify({ command: "publish", tags: ["a"], data });

Deno.test("openWebSocketTransport() in line mode splits every frame on newlines and packs what it sends", async () => {
  await using server = new LineModeServer(true, [
    `${delivery("one")}\n${delivery("two")}\n`,
    // The last message of a frame may lack its newline; empty lines are skipped.
    `${delivery("three")}\n\n${delivery("x".repeat(2000))}\n${
      delivery("four")
    }`,
    `${JSON.stringify({ command: "ping", tags: [], data: "pong" })}\n`,
  ]);
  const frames = new Frames();
  const transport = await openAt(server.url, frames);
  try {
    transport.send([subscribe(["a"]), subscribe(["b"]), PING]);
    await frames.waitFor("ping");
    assert.deepEqual(frames.data("publish"), ["one", "two", "three", "four"]);
    // The 2000-byte message was over maxFrameBytes: skipped on its own.
    assert.equal(frames.oversized, 1);
    assert.deepEqual(server.offered, ["mist.lines"]);
    // The three messages went in one frame, each ended by a newline.
    assert.deepEqual(server.received, [
      `${subscribe(["a"])}\n${subscribe(["b"])}\n${PING}\n`,
    ]);
  } finally {
    transport.close();
    assert.equal(await within(transport.closed, "closed", 5000), undefined);
  }
});

Deno.test("openWebSocketTransport() keeps one message per frame when the server does not accept line mode", async () => {
  const pong = JSON.stringify({ command: "ping", tags: [], data: "pong" });
  // Without line mode a newline inside a frame is not a separator.
  await using server = new LineModeServer(false, [
    delivery("one").replace(",", ",\n"),
    pong,
  ]);
  const frames = new Frames();
  const transport = await openAt(server.url, frames);
  try {
    transport.send([subscribe(["a"]), PING]);
    await frames.waitFor("ping");
    assert.deepEqual(frames.data("publish"), ["one"]);
    assert.deepEqual(server.offered, ["mist.lines"]);
    assert.deepEqual(server.received, [subscribe(["a"]), PING]);
  } finally {
    transport.close();
    assert.equal(await within(transport.closed, "closed", 5000), undefined);
  }
});
