import assert from "node:assert/strict";
import { openMemory } from "../auth/memory.ts";
import { MistError } from "../protocol/errors.ts";
import { serve } from "../server/server.ts";
import {
  type ConnectionHandler,
  type HandshakeOptions,
  networkErrorText,
  openConnection,
} from "./handshake.ts";
import { within } from "../testing/eventually.ts";
import { RequestTracker, type ServerConnection } from "./requests.ts";
import {
  registerTransport,
  type Transport,
  type TransportHandler,
} from "./transport.ts";

/** A transport whose server is a function of the frames sent. */
class ScriptedTransport implements Transport {
  readonly presentsToken: boolean;
  readonly sent: string[] = [];
  closes = 0;
  readonly #closed = Promise.withResolvers<Error | undefined>();
  readonly closed = this.#closed.promise;
  readonly #handler: TransportHandler;
  readonly #script: Script;

  constructor(
    handler: TransportHandler,
    script: Script,
    presentsToken: boolean,
  ) {
    this.#handler = handler;
    this.#script = script;
    this.presentsToken = presentsToken;
  }

  send(frames: readonly string[]): void {
    this.sent.push(...frames);
    for (const frame of frames) this.#script(JSON.parse(frame), this);
  }

  /** The server writes a message. */
  reply(message: object): void {
    queueMicrotask(() => this.#handler.frame(JSON.stringify(message)));
  }

  /** The server ends the connection. */
  end(error?: Error): void {
    this.#closed.resolve(error);
  }

  close(): void {
    this.closes++;
    this.#closed.resolve(undefined);
  }
}

type Script = (
  request: { command: string; id?: number },
  transport: ScriptedTransport,
) => void;

/** What the next `script://` transport does, and the transports opened. */
let script: Script = () => {};
let presentsToken = false;
const opened: ScriptedTransport[] = [];
registerTransport("script", (_url, _options, handler) => {
  const transport = new ScriptedTransport(handler, script, presentsToken);
  opened.push(transport);
  return Promise.resolve(transport);
});

/** Answers every request as a server that speaks ids. */
const withIds: Script = (request, transport) =>
  transport.reply({
    command: request.command,
    tags: [],
    data: request.command === "ping" ? "pong" : "",
    id: request.id,
  });

/** Answers every request as a server that knows no ids. */
const withoutIds: Script = (request, transport) =>
  transport.reply({
    command: request.command,
    tags: [],
    data: request.command === "ping" ? "pong" : "",
  });

/** A connection handler that, like the connector, fails what a closed connection left. */
function handler(requests: RequestTracker): ConnectionHandler {
  return {
    frame: (connection: ServerConnection, frame) => {
      const text = typeof frame === "string"
        ? frame
        : new TextDecoder().decode(frame);
      connection.correlator.accept(JSON.parse(text));
    },
    oversize: () => {},
    closed: (connection) => {
      requests.abandon(
        connection.correlator.abandon(),
        new MistError("connection_closed"),
        false,
      );
    },
  };
}

function options(
  url: string,
  more: Partial<HandshakeOptions> = {},
): HandshakeOptions {
  return {
    url: new URL(url),
    server: url,
    token: undefined,
    caCerts: undefined,
    clientCert: undefined,
    maxFrameBytes: 1 << 20,
    mode: "auto",
    timeoutMs: 10_000,
    requests: new RequestTracker({
      server: url,
      requestTimeoutMs: 10_000,
      whenDisconnected: "fail",
      connection: () => undefined,
    }),
    signal: new AbortController().signal,
    ...more,
  };
}

async function open(o: HandshakeOptions): Promise<ServerConnection> {
  return await openConnection(o, handler(o.requests));
}

function failure(code: string, message: string | RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof MistError, String(err));
    assert.equal(err.code, code);
    if (typeof message === "string") assert.equal(err.message, message);
    else assert.match(err.message, message);
    return true;
  };
}

function lastOpened(): ScriptedTransport {
  return opened.at(-1)!;
}

Deno.test("`openConnection()` connects to a real server and learns it answers ids", async () => {
  await using server = await serve({ listeners: ["tcp://127.0.0.1:0"] });
  const connection = await open(options(server.addresses[0]!));
  assert.notEqual(connection.transport, undefined);
  assert.equal(connection.correlator.mode, "ids");
  assert.equal(connection.lost, false);
  connection.transport!.close();
  await connection.transport!.closed;
});

Deno.test("`openConnection()` in mode legacy uses ping barriers from the start", async () => {
  await using server = await serve({ listeners: ["tcp://127.0.0.1:0"] });
  const connection = await open(
    options(server.addresses[0]!, { mode: "legacy" }),
  );
  assert.equal(connection.correlator.mode, "legacy");
  connection.transport!.close();
  await connection.transport!.closed;
});

Deno.test("`openConnection()` fails with the server's refusal of the token, and releases the connection", async () => {
  const authenticator = await openMemory(new URL("memory://"));
  await using server = await serve({
    listeners: ["tcp://127.0.0.1:0"],
    authenticator,
    token: "admin-token",
  });
  await assert.rejects(
    open(options(server.addresses[0]!, { token: "wrong" })),
    failure("invalid_token", /^invalid token/),
  );
});

Deno.test("`openConnection()` sends auth then ping, or only ping", async (t) => {
  const table: [string, string | undefined, boolean, string[]][] = [
    ["no token", undefined, false, ["ping"]],
    ["a token", "secret", false, ["auth", "ping"]],
    ["a token the transport presents", "secret", true, ["ping"]],
  ];
  for (const [name, token, presents, commands] of table) {
    await t.step(name, async () => {
      script = withIds;
      presentsToken = presents;
      try {
        const connection = await open(
          options("script://h", token === undefined ? {} : { token }),
        );
        const transport = lastOpened();
        assert.deepEqual(
          transport.sent.map((frame) => JSON.parse(frame).command),
          commands,
        );
        if (token !== undefined && !presents) {
          assert.equal(JSON.parse(transport.sent[0]!).data, token);
        }
        connection.transport!.close();
      } finally {
        presentsToken = false;
      }
    });
  }
});

Deno.test("`openConnection()` in mode auto accepts a server without ids", async () => {
  script = withoutIds;
  const connection = await open(options("script://h"));
  assert.equal(connection.correlator.mode, "legacy");
  connection.transport!.close();
});

Deno.test("`openConnection()` in mode ids refuses a server without ids, and closes it", async () => {
  script = withoutIds;
  await assert.rejects(
    open(options("script://h", { mode: "ids" })),
    failure(
      "protocol_error",
      'protocol error: script://h does not answer correlation ids; connect with mode "auto" or "legacy"',
    ),
  );
  assert.ok(lastOpened().closes >= 1);
});

Deno.test("`openConnection()` fails in time when the server never answers, and closes it", async () => {
  script = () => {};
  await assert.rejects(
    open(options("script://h", { timeoutMs: 20 })),
    failure(
      "connection_failed",
      /script:\/\/h: no answer to the handshake within 20 ms$/,
    ),
  );
  assert.ok(lastOpened().closes >= 1);
});

Deno.test("`openConnection()` says so when the server closes during the handshake", async () => {
  script = (_request, transport) => transport.end();
  await assert.rejects(
    open(options("script://h")),
    failure(
      "connection_failed",
      /script:\/\/h: the server closed the connection during the handshake$/,
    ),
  );
});

Deno.test("`openConnection()` fails with the signal's reason when already aborted", async () => {
  script = withIds;
  const reason = new MistError("client_closed");
  await assert.rejects(
    open(options("script://h", { signal: AbortSignal.abort(reason) })),
    (err) => err === reason,
  );
});

Deno.test("`openConnection()` fails with the signal's reason when aborted mid-handshake", async () => {
  const controller = new AbortController();
  const reason = new MistError("client_closed");
  script = () => queueMicrotask(() => controller.abort(reason));
  // The handshake's own timeout is far beyond the bound: the abort must end it.
  await assert.rejects(
    within(
      open(options("script://h", {
        signal: controller.signal,
        timeoutMs: 60_000,
      })),
      "the aborted handshake",
    ),
    (err) => err === reason,
  );
  assert.ok(lastOpened().closes >= 1);
});

Deno.test("`openConnection()` names the server when it cannot reach it", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  const url = `tcp://127.0.0.1:${port}`;
  await assert.rejects(
    open(options(url)),
    failure("connection_failed", `cannot connect: ${url}: connection refused`),
  );
});

Deno.test("`openConnection()` refuses a scheme no transport is registered for", async () => {
  await assert.rejects(
    open(options("nothing://h")),
    failure("connection_failed", /Unknown transport scheme "nothing"/),
  );
});

Deno.test("`networkErrorText()` puts network errors in words", async (t) => {
  function named(name: string, message = "os error"): Error {
    const error = new Error(message);
    error.name = name;
    return error;
  }
  const table: [string, unknown, string][] = [
    [
      "refused",
      new Deno.errors.ConnectionRefused("os 111"),
      "connection refused",
    ],
    [
      "reset",
      new Deno.errors.ConnectionReset("os 104"),
      "connection reset by the server",
    ],
    ["timed out", new Deno.errors.TimedOut("os 110"), "timed out"],
    ["aborted", named("AbortError"), "aborted"],
    ["another error", named("Error", "no route to host"), "no route to host"],
    ["a MistError", new MistError("timeout", "late"), "timed out: late"],
    ["not an Error", "plain", "plain"],
  ];
  for (const [name, err, expected] of table) {
    await t.step(name, () => assert.equal(networkErrorText(err), expected));
  }
});
