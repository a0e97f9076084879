/**
 * Test helpers for the client: a scripted fake mist server, bridges that put a
 * WebSocket or TLS front on a real server, and bounded waits.
 *
 * @module
 */

import assert from "node:assert/strict";
import { LineSplitter, OVERSIZE } from "../src/protocol/framing.ts";
import type { Message } from "../src/protocol/codec.ts";
import { hostPort } from "./_helpers.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Waits for a promise, failing the test after `ms` instead of hanging.
 *
 * @param promise what to wait for
 * @param what names it in the failure
 * @param ms the most time to wait
 */
export async function within<T>(
  promise: Promise<T>,
  what: string,
  ms = 10_000,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what}: nothing within ${ms} ms`)),
      ms,
    );
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The next value of an async iterator, failing after `ms`.
 *
 * @param iterator the iterator
 * @param what names it in the failure
 */
export async function next<T>(
  iterator: AsyncIterator<T>,
  what = "the next item",
  ms = 10_000,
): Promise<T> {
  const result = await within(iterator.next(), what, ms);
  assert.equal(result.done, false, `${what}: the iterator ended`);
  return result.value as T;
}

/**
 * Reads an iterator until an item passes the test, failing after `ms`.
 *
 * @returns the item, and the ones skipped before it
 */
export async function until<T>(
  iterator: AsyncIterator<T>,
  test: (item: T) => boolean,
  what: string,
  ms = 10_000,
): Promise<{ item: T; skipped: T[] }> {
  const deadline = Date.now() + ms;
  const skipped: T[] = [];
  for (let i = 0; i < 10_000; i++) {
    const item = await next(
      iterator,
      what,
      Math.max(1, deadline - Date.now()),
    );
    if (test(item)) return { item, skipped };
    skipped.push(item);
  }
  assert.fail(`${what}: not among 10000 items`);
}

/** One connection to a {@linkcode FakeServer}, driven by its script. */
export class FakeConnection {
  readonly conn: Deno.TcpConn;
  readonly #lines: (string | null)[] = [];
  #waiter: (() => void) | undefined;
  readonly reading: Promise<void>;

  constructor(conn: Deno.TcpConn) {
    this.conn = conn;
    conn.setNoDelay(true);
    this.reading = this.#read();
  }

  async #read(): Promise<void> {
    const splitter = new LineSplitter(1024 * 1024);
    const buffer = new Uint8Array(64 * 1024);
    try {
      while (true) {
        const n = await this.conn.read(buffer);
        if (n === null) break;
        for (const line of splitter.split(buffer.subarray(0, n))) {
          assert.notEqual(line, OVERSIZE);
          this.#lines.push(decoder.decode(line as Uint8Array));
          this.#waiter?.();
        }
      }
    } catch {
      // Closed by the script or reset by the client.
    } finally {
      this.#lines.push(null);
      this.#waiter?.();
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
    const deadline = Date.now() + ms;
    while (this.#lines.length === 0) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) assert.fail("the client sent nothing in time");
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#waiter = resolve;
        timer = setTimeout(resolve, remaining);
      });
      clearTimeout(timer);
      this.#waiter = undefined;
    }
    const line = this.#lines[0]!;
    if (line !== null) this.#lines.shift();
    return line;
  }

  /** Sends raw text as is (no newline added). */
  async raw(text: string | Uint8Array): Promise<void> {
    const bytes = typeof text === "string" ? encoder.encode(text) : text;
    let offset = 0;
    while (offset < bytes.length) {
      offset += await this.conn.write(bytes.subarray(offset));
    }
  }

  /** Sends one message as a line. */
  send(message: object): Promise<void> {
    return this.raw(JSON.stringify(message) + "\n");
  }

  /** Answers a request as mist does (PROTOCOL.md §5): its reply or an ack, with its id. */
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
    try {
      this.conn.close();
    } catch {
      // Already closed.
    }
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
 * TCP connection, one text frame per line, so the client's WebSocket transport
 * can be tested end to end before mist has a WebSocket listener.
 */
export class WebSocketBridge implements AsyncDisposable {
  readonly #server: Deno.HttpServer<Deno.NetAddr>;
  readonly #bridges = new Set<Promise<void>>();
  /** The `X-AUTH-TOKEN` header of each upgrade, in order. */
  readonly tokens: (string | null)[] = [];
  /** The path of each upgrade. */
  readonly paths: string[] = [];
  readonly url: string;

  constructor(
    target: string,
    options: { token?: string; cert?: string; key?: string } = {},
  ) {
    const tls = options.cert !== undefined && options.key !== undefined
      ? { cert: options.cert, key: options.key }
      : {};
    this.#server = Deno.serve({
      hostname: "127.0.0.1",
      port: 0,
      onListen: () => {},
      ...tls,
    }, (request) => {
      const token = request.headers.get("x-auth-token");
      this.tokens.push(token);
      this.paths.push(new URL(request.url).pathname);
      if (options.token !== undefined && token !== options.token) {
        return new Response("unauthorized\n", { status: 401 });
      }
      const { socket, response } = Deno.upgradeWebSocket(request);
      const done: Promise<void> = this.#bridge(socket, target).finally(() =>
        this.#bridges.delete(done)
      );
      this.#bridges.add(done);
      return response;
    });
    const scheme = options.cert !== undefined ? "wss" : "ws";
    this.url = `${scheme}://127.0.0.1:${this.#server.addr.port}`;
  }

  async #bridge(socket: WebSocket, target: string): Promise<void> {
    const closed = Promise.withResolvers<void>();
    socket.onclose = () => closed.resolve();
    const connecting = Deno.connect(hostPort(target));
    // Frames are written in order, once the TCP side is up.
    let writes: Promise<unknown> = connecting;
    socket.onmessage = (event) => {
      writes = writes.then(async () => {
        const conn = await connecting;
        const bytes = encoder.encode(`${event.data}\n`);
        let offset = 0;
        while (offset < bytes.length) {
          offset += await conn.write(bytes.subarray(offset));
        }
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
    const pump = (async () => {
      const splitter = new LineSplitter(1024 * 1024);
      const buffer = new Uint8Array(64 * 1024);
      try {
        while (true) {
          const n = await conn.read(buffer);
          if (n === null) break;
          for (const line of splitter.split(buffer.subarray(0, n))) {
            if (line !== OVERSIZE && socket.readyState === WebSocket.OPEN) {
              socket.send(decoder.decode(line));
            }
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
    try {
      conn.close();
    } catch {
      // Already closed.
    }
    await pump;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.#server.shutdown();
    while (this.#bridges.size > 0) await Promise.all(this.#bridges);
  }
}

/**
 * A TLS front for a real TCP server: each TLS connection is piped to its own
 * TCP connection.
 */
export class TlsBridge implements AsyncDisposable {
  readonly #listener: Deno.TlsListener;
  readonly #pipes = new Set<Promise<void>>();
  readonly #accepting: Promise<void>;
  readonly url: string;

  constructor(target: string, cert: string, key: string) {
    const listener = Deno.listenTls({
      hostname: "127.0.0.1",
      port: 0,
      cert,
      key,
    });
    this.#listener = listener;
    this.url = `tls://127.0.0.1:${listener.addr.port}`;
    this.#accepting = (async () => {
      try {
        for await (const tls of listener) {
          const done: Promise<void> = this.#pipe(tls, target).finally(() =>
            this.#pipes.delete(done)
          );
          this.#pipes.add(done);
        }
      } catch {
        // Listener closed.
      }
    })();
  }

  async #pipe(tls: Deno.TlsConn, target: string): Promise<void> {
    let tcp: Deno.TcpConn;
    try {
      await tls.handshake();
      tcp = await Deno.connect(hostPort(target));
      tcp.setNoDelay(true);
    } catch {
      tls.close();
      return;
    }
    const copy = async (from: Deno.Conn, to: Deno.Conn) => {
      const buffer = new Uint8Array(64 * 1024);
      try {
        while (true) {
          const n = await from.read(buffer);
          if (n === null) break;
          let offset = 0;
          while (offset < n) {
            offset += await to.write(buffer.subarray(offset, n));
          }
        }
      } catch {
        // One side closed.
      } finally {
        for (const conn of [from, to]) {
          try {
            conn.close();
          } catch {
            // Already closed.
          }
        }
      }
    };
    await Promise.all([copy(tls, tcp), copy(tcp, tls)]);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.#listener.close();
    await this.#accepting;
    while (this.#pipes.size > 0) await Promise.all(this.#pipes);
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
  readonly #listener: Deno.TcpListener;
  readonly #pipes = new Set<Promise<void>>();
  readonly #accepting: Promise<void>;
  readonly #conns = new Set<Deno.Conn>();
  /** Every request line, as the client sent it. */
  readonly requests: string[] = [];
  readonly url: string;

  constructor(target: string) {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.#listener = listener;
    this.url = `tcp://127.0.0.1:${listener.addr.port}`;
    this.#accepting = (async () => {
      try {
        for await (const conn of listener) {
          const done: Promise<void> = this.#pipe(conn, target).finally(() =>
            this.#pipes.delete(done)
          );
          this.#pipes.add(done);
        }
      } catch {
        // Listener closed.
      }
    })();
  }

  async #pipe(client: Deno.TcpConn, target: string): Promise<void> {
    const server = await Deno.connect(hostPort(target));
    client.setNoDelay(true);
    server.setNoDelay(true);
    this.#conns.add(client).add(server);
    const closeBoth = () => {
      for (const conn of [client, server]) {
        this.#conns.delete(conn);
        try {
          conn.close();
        } catch {
          // Already closed.
        }
      }
    };
    const upstream = (async () => {
      const splitter = new LineSplitter(1024 * 1024);
      const buffer = new Uint8Array(64 * 1024);
      try {
        while (true) {
          const n = await client.read(buffer);
          if (n === null) break;
          for (const line of splitter.split(buffer.subarray(0, n))) {
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
            const bytes = encoder.encode(forward + "\n");
            let offset = 0;
            while (offset < bytes.length) {
              offset += await server.write(bytes.subarray(offset));
            }
          }
        }
      } catch {
        // One side closed.
      } finally {
        closeBoth();
      }
    })();
    const downstream = (async () => {
      const buffer = new Uint8Array(64 * 1024);
      try {
        while (true) {
          const n = await server.read(buffer);
          if (n === null) break;
          let offset = 0;
          while (offset < n) {
            offset += await client.write(buffer.subarray(offset, n));
          }
        }
      } catch {
        // One side closed.
      } finally {
        closeBoth();
      }
    })();
    await Promise.all([upstream, downstream]);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.#listener.close();
    await this.#accepting;
    for (const conn of [...this.#conns]) {
      try {
        conn.close();
      } catch {
        // Already closed.
      }
    }
    while (this.#pipes.size > 0) await Promise.all(this.#pipes);
  }
}

/** The admin token of {@linkcode authScript}'s server. */
export const ADMIN_TOKEN = "admin-secret-0001";

/**
 * A script that plays a server with authentication on, PROTOCOL.md §4 with
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
          if (i > 0) await fail("auth must be the first command");
          else if (token === ADMIN_TOKEN) {
            admin = true;
            await conn.ack(request);
          } else await fail("invalid token");
          break;
        case "ping":
          await conn.ack(request, { command: "ping", tags: [], data: "pong" });
          break;
        case "register":
        case "unregister":
        case "set":
        case "unset":
        case "tags":
          if (!admin) await fail("forbidden: admin only");
          else if (request.command === "register") {
            if (tokens.has(token)) await fail("token already exists");
            else {
              tokens.set(token, new Set(request.tags));
              await conn.ack(request);
            }
          } else if (!tokens.has(token)) await fail("token not found");
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
