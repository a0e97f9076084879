/**
 * Test helpers for the client: a scripted fake mist server, for what the real
 * one never does (malformed frames, silence, abrupt disconnects), and fronts
 * on a real server that change what it looks like from outside. Every error
 * text they send comes from `ERROR_TEXT`, so they cannot drift from the server.
 *
 * @module
 */

import assert from "node:assert/strict";
import { OVERSIZE } from "../src/protocol/framing.ts";
import type { Message } from "../src/protocol/codec.ts";
import { ERROR_TEXT, MistError } from "../src/protocol/errors.ts";
import { writeAll } from "../src/_util/io.ts";
import { Changes, eventually } from "../src/testing/eventually.ts";
import { hostPort, readLines } from "./_helpers.ts";
import { closeQuietly, TcpProxy } from "./_tcp_proxy.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** One connection to a {@linkcode FakeServer}, driven by its script. */
export class FakeConnection {
  readonly conn: Deno.TcpConn;
  readonly #lines: (string | null)[] = [];
  readonly #changes = new Changes();
  readonly reading: Promise<void>;

  constructor(conn: Deno.TcpConn) {
    this.conn = conn;
    conn.setNoDelay(true);
    this.reading = this.#read();
  }

  async #read(): Promise<void> {
    try {
      for await (const line of readLines(this.conn)) {
        assert.notEqual(line, OVERSIZE);
        this.#lines.push(decoder.decode(line as Uint8Array));
        this.#changes.notify();
      }
    } catch {
      // Closed by the script or reset by the client.
    } finally {
      this.#lines.push(null);
      this.#changes.notify();
    }
  }

  /** The next request the client sent, parsed (fails when it hung up). */
  async request(ms = 10_000): Promise<Message> {
    const line = await this.#nextLine(ms);
    assert.notEqual(line, null, "the client hung up");
    return JSON.parse(line!);
  }

  /** Resolves when the client has hung up, with what it sent meanwhile. */
  async hangup(ms = 10_000): Promise<string[]> {
    const sent: string[] = [];
    while (true) {
      const line = await this.#nextLine(ms);
      if (line === null) return sent;
      sent.push(line);
    }
  }

  async #nextLine(ms: number): Promise<string | null> {
    await eventually(() => this.#lines.length > 0, "a line from the client", {
      timeoutMs: ms,
      changes: this.#changes,
    });
    const line = this.#lines[0]!;
    if (line !== null) this.#lines.shift();
    return line;
  }

  /** Sends raw text as is (no newline added). */
  async raw(text: string | Uint8Array): Promise<void> {
    await writeAll(
      this.conn,
      typeof text === "string" ? encoder.encode(text) : text,
    );
  }

  /** Sends one message as a line. */
  send(message: object): Promise<void> {
    return this.raw(JSON.stringify(message) + "\n");
  }

  /** Answers a request as mist does (docs/protocol.md §5): its reply or an ack, with its id. */
  ack(request: Message, reply?: Message): Promise<void> {
    return this.send(
      reply !== undefined
        ? { ...reply, ...(request.id !== undefined ? { id: request.id } : {}) }
        : {
          command: request.command,
          id: request.id,
          tags: request.tags ?? [],
          data: "ok",
        },
    );
  }

  /** Closes the connection. */
  close(): void {
    closeQuietly(this.conn);
  }
}

/**
 * A fake mist server on 127.0.0.1: each connection runs the script, which
 * reads requests and answers however the test wants.
 */
export class FakeServer implements AsyncDisposable {
  readonly listener: Deno.TcpListener;
  readonly url: string;
  readonly connections: FakeConnection[] = [];
  readonly #scripts = new Set<Promise<void>>();
  readonly #accepting: Promise<void>;
  readonly errors: unknown[] = [];

  constructor(
    script: (conn: FakeConnection, index: number) => Promise<void>,
    port = 0,
  ) {
    const listener = Deno.listen({ hostname: "127.0.0.1", port });
    this.listener = listener;
    this.url = `tcp://127.0.0.1:${listener.addr.port}`;
    this.#accepting = (async () => {
      try {
        for await (const conn of listener) {
          const connection = new FakeConnection(conn);
          const index = this.connections.push(connection) - 1;
          const run: Promise<void> = script(connection, index)
            .catch((err) => {
              this.errors.push(err);
            })
            .finally(async () => {
              connection.close();
              await connection.reading;
              this.#scripts.delete(run);
            });
          this.#scripts.add(run);
        }
      } catch {
        // Listener closed.
      }
    })();
  }

  /** Stops accepting; open connections stay until their scripts end. */
  stopListening(): void {
    try {
      this.listener.close();
    } catch {
      // Already closed.
    }
  }

  /** Stops listening, ends every connection and waits for the scripts. */
  async close(): Promise<void> {
    this.stopListening();
    await this.#accepting;
    for (const connection of this.connections) connection.close();
    while (this.#scripts.size > 0) await Promise.all(this.#scripts);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
    if (this.errors.length > 0) throw this.errors[0];
  }
}

/**
 * A script that plays a mist server the simple way: answers ping, list, tags
 * and acknowledges everything else (with ids), or, with `acks: false`, behaves
 * like the original mist (no ids, no acks).
 */
export function basicScript(
  options: { acks?: boolean; onRequest?: (request: Message) => void } = {},
): (conn: FakeConnection) => Promise<void> {
  const acks = options.acks ?? true;
  return async (conn) => {
    while (true) {
      const request = await nextOrEnd(conn);
      if (request === null) return;
      options.onRequest?.(request);
      const { id: _, ...bare } = request;
      const answer = (reply?: Message) =>
        acks ? conn.ack(request, reply) : reply ? conn.send(reply) : undefined;
      switch (bare.command) {
        case "ping":
          await answer({ command: "ping", tags: [], data: "pong" });
          break;
        case "list":
          await answer({ command: "list", tags: [], data: "[]" });
          break;
        default:
          await answer();
      }
    }
  };
}

async function nextOrEnd(conn: FakeConnection): Promise<Message | null> {
  try {
    return await conn.request(60_000);
  } catch {
    return null;
  }
}

/**
 * A WebSocket front for a real TCP server: each WebSocket is bridged to its own
 * TCP connection, one text frame per line. Unlike mist's own WebSocket
 * listener, it records the token and path of each upgrade, and with `token`
 * refuses with 401 every upgrade that does not carry exactly that token in
 * its header (mist lets a connection without one authenticate later).
 */
export class WebSocketBridge implements AsyncDisposable {
  readonly #server: Deno.HttpServer<Deno.NetAddr>;
  readonly #bridges = new Set<Promise<void>>();
  /** The `X-AUTH-TOKEN` header of each upgrade, in order. */
  readonly tokens: (string | null)[] = [];
  /** The path of each upgrade. */
  readonly paths: string[] = [];
  readonly url: string;

  constructor(target: string, options: { token?: string } = {}) {
    this.#server = Deno.serve({
      hostname: "127.0.0.1",
      port: 0,
      onListen: () => {},
    }, (request) => {
      const token = request.headers.get("x-auth-token");
      this.tokens.push(token);
      this.paths.push(new URL(request.url).pathname);
      if (options.token !== undefined && token !== options.token) {
        return Response.json({
          command: "",
          error: new MistError("invalid_token").message,
        }, { status: 401 });
      }
      const { socket, response } = Deno.upgradeWebSocket(request);
      const done: Promise<void> = this.#bridge(socket, target).finally(() =>
        this.#bridges.delete(done)
      );
      this.#bridges.add(done);
      return response;
    });
    this.url = `ws://127.0.0.1:${this.#server.addr.port}`;
  }

  async #bridge(socket: WebSocket, target: string): Promise<void> {
    const closed = Promise.withResolvers<void>();
    socket.onclose = () => closed.resolve();
    const connecting = Deno.connect(hostPort(target));
    // Frames are written in order, once the TCP side is up.
    let writes: Promise<unknown> = connecting;
    socket.onmessage = (event) => {
      writes = writes.then(async () => {
        await writeAll(await connecting, encoder.encode(`${event.data}\n`));
      }).catch(() => {});
    };
    let conn: Deno.TcpConn;
    try {
      conn = await connecting;
      conn.setNoDelay(true);
    } catch {
      socket.close();
      await closed.promise;
      return;
    }
    const reading = (async () => {
      try {
        for await (const line of readLines(conn)) {
          if (line !== OVERSIZE && socket.readyState === WebSocket.OPEN) {
            socket.send(decoder.decode(line));
          }
        }
      } catch {
        // Closed below.
      } finally {
        if (socket.readyState <= WebSocket.OPEN) socket.close();
      }
    })();
    await closed.promise;
    await writes;
    closeQuietly(conn);
    await reading;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.#server.shutdown();
    while (this.#bridges.size > 0) await Promise.all(this.#bridges);
  }
}

/** A port nothing listens on: bound, then released. */
export function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  return port;
}

/**
 * The original mist's behaviour in front of a real server: a TCP proxy that
 * strips `id` from every request, so the server never acknowledges anything
 * and replies exactly as the original did. Records each request as received.
 */
export class LegacyProxy implements AsyncDisposable {
  readonly #proxy: TcpProxy;
  /** Every request line, as the client sent it. */
  readonly requests: string[] = [];
  readonly url: string;

  constructor(target: string) {
    this.#proxy = new TcpProxy(hostPort(target), {
      upstream: (client, server) => this.#stripIds(client, server),
    });
    this.url = `tcp://127.0.0.1:${this.#proxy.port}`;
  }

  async #stripIds(client: Deno.Conn, server: Deno.Conn): Promise<void> {
    for await (const line of readLines(client)) {
      if (line === OVERSIZE) continue;
      const text = decoder.decode(line);
      this.requests.push(text);
      let forward = text;
      try {
        const { id: _, ...rest } = JSON.parse(text);
        forward = JSON.stringify(rest);
      } catch {
        // Not JSON: forwarded as is, the server answers it.
      }
      await writeAll(server, encoder.encode(forward + "\n"));
    }
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.#proxy.close();
  }
}

/** The admin token of {@linkcode authScript}'s server. */
export const ADMIN_TOKEN = "admin-secret-0001";

/**
 * A script that plays a server with authentication on, docs/protocol.md §4 with
 * ids: the admin token is {@linkcode ADMIN_TOKEN}; `reader-token` exists.
 *
 * @param seen receives each connection's requests
 */
export function authScript(
  seen: Message[][] = [],
): (conn: FakeConnection) => Promise<void> {
  const tokens = new Map<string, Set<string>>([[
    "reader-token",
    new Set(["a"]),
  ]]);
  return async (conn: FakeConnection) => {
    const requests: Message[] = [];
    seen.push(requests);
    let admin = false;
    for (let i = 0;; i++) {
      let request: Message;
      try {
        request = await conn.request(60_000);
      } catch {
        return;
      }
      requests.push(request);
      const fail = (error: string): Promise<void> =>
        conn.send({
          command: request.command,
          ...(request.tags ? { tags: request.tags } : {}),
          error,
          id: request.id,
        });
      const token = request.data ?? "";
      switch (request.command) {
        case "auth":
          if (i > 0) await fail(ERROR_TEXT.auth_not_first);
          else if (token === ADMIN_TOKEN) {
            admin = true;
            await conn.ack(request);
          } else await fail(ERROR_TEXT.invalid_token);
          break;
        case "ping":
          await conn.ack(request, { command: "ping", tags: [], data: "pong" });
          break;
        case "register":
        case "unregister":
        case "set":
        case "unset":
        case "tags":
          if (!admin) {
            await fail(new MistError("forbidden", "admin only").message);
          } else if (request.command === "register") {
            if (tokens.has(token)) await fail(ERROR_TEXT.token_exists);
            else {
              tokens.set(token, new Set(request.tags));
              await conn.ack(request);
            }
          } else if (!tokens.has(token)) await fail(ERROR_TEXT.token_not_found);
          else if (request.command === "unregister") {
            tokens.delete(token);
            await conn.ack(request);
          } else if (request.command === "set") {
            for (const tag of request.tags ?? []) tokens.get(token)!.add(tag);
            await conn.ack(request);
          } else if (request.command === "unset") {
            for (const tag of request.tags ?? []) {
              tokens.get(token)!.delete(tag);
            }
            await conn.ack(request);
          } else {
            await conn.ack(request, {
              command: "tags",
              tags: [...tokens.get(token)!].sort(),
              data: token,
            });
          }
          break;
        default:
          await conn.ack(request);
      }
    }
  };
}
