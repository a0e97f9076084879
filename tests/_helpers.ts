/**
 * The test kit's front: servers on port 0 and their fixtures, raw protocol
 * clients (TCP lines, WebSocket, event stream) that share one inbox, and the
 * kit's waits (re-exported from `src/testing/eventually.ts`). The program as a
 * subprocess is in `_program.ts`, the fake server in `_fake_server.ts`, the
 * proxy in `_tcp_proxy.ts`, the §2–§7 suite in `_protocol_suite.ts`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { LineSplitter, OVERSIZE } from "../src/protocol/framing.ts";
import type { Message } from "../src/protocol/codec.ts";
import { writeAll } from "../src/_util/io.ts";
import { Changes, eventually } from "../src/testing/eventually.ts";
import {
  type MistServer,
  serve,
  type ServeOptions,
} from "../src/server/server.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Starts a server with one TCP listener on a free port. */
export function tcpServer(options: ServeOptions = {}): Promise<MistServer> {
  return serve({ listeners: ["tcp://127.0.0.1:0"], ...options });
}

/**
 * Custom commands for the tests of `serve({ commands })`: `echo` replies with
 * the request's data.
 */
export const ECHO_COMMANDS = {
  echo: (_session, request) => ({
    command: "echo",
    data: request.data ?? "",
  }),
} satisfies ServeOptions["commands"];

/** The `host:port` of a listener URL. */
export function hostPort(url: string): { hostname: string; port: number } {
  const parsed = new URL(url);
  return {
    hostname: parsed.hostname.replace(/^\[(.*)\]$/, "$1"),
    port: Number(parsed.port),
  };
}

/**
 * Each line a connection sends, without its newline, until it ends; a line
 * longer than `maxBytes` comes as `OVERSIZE`, unbuffered. Read errors are
 * thrown to the caller.
 *
 * @param conn the connection
 * @param maxBytes the longest line kept
 */
export async function* readLines(
  conn: Deno.Conn,
  maxBytes = 1024 * 1024,
): AsyncGenerator<Uint8Array | typeof OVERSIZE> {
  const splitter = new LineSplitter(maxBytes);
  const buffer = new Uint8Array(64 * 1024);
  while (true) {
    const n = await conn.read(buffer);
    if (n === null) return;
    yield* splitter.split(buffer.subarray(0, n));
  }
}

/** A message received, or how the connection ended. */
type Received = Message | { closed: true };

/**
 * What every test client shares: an inbox of parsed messages, and the ways to
 * wait on it.
 */
export abstract class ProtocolClient implements AsyncDisposable {
  readonly #inbox: Received[] = [];
  readonly #changes = new Changes();

  /** Sends raw text, or an object as one JSON message. */
  abstract send(message: string | object | Uint8Array): Promise<void>;
  /**
   * Sends each text as one message of the transport, in order: a line on
   * TCP, a text frame on WebSocket.
   */
  abstract sendFrames(frames: readonly string[]): Promise<void>;
  /** Waits until the server closes the connection. */
  abstract ended(): Promise<void>;
  /** Closes the connection and waits for it to end. */
  abstract close(): Promise<void>;

  /** Adds what arrived. */
  protected push(item: Received): void {
    this.#inbox.push(item);
    this.#changes.notify();
  }

  /** The next message received (fails after `timeoutMs` or when the connection closed). */
  async next(timeoutMs = 10_000): Promise<Message> {
    await eventually(() => this.#inbox.length > 0, "a message received", {
      timeoutMs,
      changes: this.#changes,
    });
    const item = this.#inbox.shift()!;
    if ("closed" in item) {
      this.#inbox.unshift(item);
      assert.fail("connection closed");
    }
    return item;
  }

  /** Sends a request and returns the next message received. */
  async request(message: string | object): Promise<Message> {
    await this.send(message);
    return await this.next();
  }

  /**
   * Pings and returns every message received before the pong: everything
   * queued to this connection before the ping was handled.
   */
  async sync(): Promise<Message[]> {
    await this.send({ command: "ping", id: "sync" });
    const before: Message[] = [];
    while (true) {
      const message = await this.next();
      if (message.id === "sync") return before;
      before.push(message);
    }
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * A raw TCP client of the line protocol: sends whatever it is told, parses
 * every line it receives, and never hides a malformed one.
 */
export class LineClient extends ProtocolClient {
  readonly conn: Deno.Conn;
  readonly #reading: Promise<void>;

  /** Speaks the line protocol over an open connection (TCP or TLS). */
  constructor(conn: Deno.Conn) {
    super();
    this.conn = conn;
    this.#reading = this.#read();
  }

  /** Connects to a `tcp://` listener URL. */
  static async connect(url: string): Promise<LineClient> {
    const conn = await Deno.connect(hostPort(url));
    conn.setNoDelay(true);
    return new LineClient(conn);
  }

  async #read(): Promise<void> {
    try {
      for await (const line of readLines(this.conn, 64 * 1024 * 1024)) {
        assert.notEqual(line, OVERSIZE);
        this.push(JSON.parse(decoder.decode(line as Uint8Array)));
      }
    } catch (err) {
      if (
        !(err instanceof Deno.errors.BadResource ||
          err instanceof Deno.errors.Interrupted)
      ) throw err;
    } finally {
      this.push({ closed: true });
    }
  }

  /** Sends raw text, or an object as one JSON line. */
  async send(message: string | object | Uint8Array): Promise<void> {
    await writeAll(
      this.conn,
      message instanceof Uint8Array ? message : encoder.encode(
        typeof message === "string" ? message : JSON.stringify(message) + "\n",
      ),
    );
  }

  /** Sends each text as one line, all in one write. */
  sendFrames(frames: readonly string[]): Promise<void> {
    return this.send(frames.map((frame) => `${frame}\n`).join(""));
  }

  /** Waits until the server closes the connection. */
  async ended(): Promise<void> {
    await this.#reading;
  }

  /** Closes the connection and waits for the reader. */
  async close(): Promise<void> {
    try {
      this.conn.close();
    } catch {
      // Already closed.
    }
    await this.#reading;
  }
}

/**
 * A client over Deno's own WebSocket: one JSON message per text frame, or in
 * line mode (`mist.lines`) newline-ended lines packed into text frames.
 */
export class WsClient extends ProtocolClient {
  readonly socket: WebSocket;
  readonly #closed = Promise.withResolvers<void>();
  readonly #lines: boolean;

  private constructor(socket: WebSocket, lines: boolean) {
    super();
    this.socket = socket;
    this.#lines = lines;
    socket.onmessage = (event) => {
      if (!lines) return this.push(JSON.parse(event.data));
      const text = event.data as string;
      assert.ok(text.endsWith("\n"), "every line-mode frame ends with \\n");
      for (const line of text.split("\n")) {
        if (line !== "") this.push(JSON.parse(line));
      }
    };
    socket.onclose = () => {
      this.push({ closed: true });
      this.#closed.resolve();
    };
  }

  /**
   * Connects to a `ws://` URL (path `/subscribe/websocket` when it has none).
   *
   * @param url the listener URL, or a full WebSocket URL
   * @param headers request headers (e.g. `X-AUTH-TOKEN`)
   * @param lines whether to speak line mode (the server must accept it)
   */
  static async connect(
    url: string,
    headers: Record<string, string> = {},
    lines = false,
  ): Promise<WsClient> {
    const target = new URL(url);
    target.protocol = target.protocol === "https:"
      ? "wss:"
      : target.protocol === "http:"
      ? "ws:"
      : target.protocol;
    if (target.pathname === "/" && !url.endsWith("/")) {
      target.pathname = "/subscribe/websocket";
    }
    const socket = new WebSocket(target.href, {
      headers,
      ...(lines ? { protocols: ["mist.lines"] } : {}),
    });
    const opened = Promise.withResolvers<void>();
    socket.onopen = () => opened.resolve();
    socket.onerror = (event) =>
      opened.reject(
        new Error(`WebSocket failed: ${(event as ErrorEvent).message}`),
      );
    await opened.promise;
    if (lines) {
      assert.equal(
        socket.protocol,
        "mist.lines",
        "the server accepts line mode",
      );
    }
    return new WsClient(socket, lines);
  }

  /** Sends raw text or bytes, or an object as one JSON text frame (a line, in line mode). */
  send(message: string | object | Uint8Array): Promise<void> {
    if (message instanceof Uint8Array) {
      this.socket.send(message);
    } else {
      const text = typeof message === "string"
        ? message
        : JSON.stringify(message);
      this.socket.send(this.#lines ? text + "\n" : text);
    }
    return Promise.resolve();
  }

  /** Sends each text as one text frame; in line mode all of them as lines of one frame. */
  sendFrames(frames: readonly string[]): Promise<void> {
    if (this.#lines) {
      this.socket.send(frames.map((frame) => frame + "\n").join(""));
    } else {
      for (const frame of frames) this.socket.send(frame);
    }
    return Promise.resolve();
  }

  /** Waits until the connection closed. */
  ended(): Promise<void> {
    return this.#closed.promise;
  }

  /** Closes the connection and waits for it to end. */
  async close(): Promise<void> {
    if (this.socket.readyState === WebSocket.OPEN) this.socket.close();
    await this.#closed.promise;
  }
}

/**
 * A WebSocket client written over a bare connection (TCP or TLS), for what
 * Deno's WebSocket cannot do in a test: stop reading, or trust a test CA.
 */
export class RawWebSocket {
  readonly conn: Deno.Conn;
  #buffer: Uint8Array;

  private constructor(conn: Deno.Conn, rest: Uint8Array) {
    this.conn = conn;
    this.#buffer = rest;
  }

  /** Performs the upgrade handshake on a connection; fails unless it gets 101. */
  static async handshake(
    conn: Deno.Conn,
    path = "/subscribe/websocket",
    headers: Record<string, string> = {},
  ): Promise<RawWebSocket> {
    const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`)
      .join("");
    await writeAll(
      conn,
      encoder.encode(
        `GET ${path} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n` +
          `Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n` +
          `Sec-WebSocket-Version: 13\r\n${extra}\r\n`,
      ),
    );
    let received: Uint8Array = new Uint8Array(0);
    while (true) {
      const chunk = new Uint8Array(4096);
      const n = await conn.read(chunk);
      if (n === null) assert.fail("closed during the handshake");
      received = concat(received, chunk.subarray(0, n));
      const text = decoder.decode(received);
      const end = text.indexOf("\r\n\r\n");
      if (end >= 0) {
        assert.match(text, /^HTTP\/1\.1 101/, text.split("\r\n")[0]);
        const headerBytes = encoder.encode(text.slice(0, end + 4)).length;
        return new RawWebSocket(conn, received.subarray(headerBytes));
      }
    }
  }

  /** Sends one masked text frame. */
  async sendText(text: string): Promise<void> {
    const payload = encoder.encode(text);
    const mask = crypto.getRandomValues(new Uint8Array(4));
    const length = payload.length;
    const header = length < 126
      ? new Uint8Array([0x81, 0x80 | length])
      : length < 65536
      ? new Uint8Array([0x81, 0x80 | 126, length >> 8, length & 0xff])
      : (() => {
        const h = new Uint8Array(10);
        h[0] = 0x81;
        h[1] = 0x80 | 127;
        new DataView(h.buffer).setBigUint64(2, BigInt(length));
        return h;
      })();
    const masked = payload.map((byte, i) => byte ^ mask[i % 4]!);
    await writeAll(this.conn, concat(concat(header, mask), masked));
  }

  /** Reads the next text message; `undefined` once the server closes. */
  async readText(): Promise<string | undefined> {
    while (true) {
      const frame = this.#frame();
      if (frame !== undefined) {
        const { opcode, payload } = frame;
        if (opcode === 0x1) return decoder.decode(payload);
        if (opcode === 0x8) return undefined;
        continue; // ping, pong: not what the test waits for
      }
      const chunk = new Uint8Array(64 * 1024);
      const n = await this.conn.read(chunk);
      if (n === null) return undefined;
      this.#buffer = concat(this.#buffer, chunk.subarray(0, n));
    }
  }

  #frame(): { opcode: number; payload: Uint8Array } | undefined {
    const b = this.#buffer;
    if (b.length < 2) return undefined;
    let length = b[1]! & 0x7f;
    let offset = 2;
    if (length === 126) {
      if (b.length < 4) return undefined;
      length = (b[2]! << 8) | b[3]!;
      offset = 4;
    } else if (length === 127) {
      if (b.length < 10) return undefined;
      length = Number(
        new DataView(b.buffer, b.byteOffset + 2, 8).getBigUint64(0),
      );
      offset = 10;
    }
    if (b.length < offset + length) return undefined;
    const payload = b.slice(offset, offset + length);
    this.#buffer = b.slice(offset + length);
    return { opcode: b[0]! & 0x0f, payload };
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** An event-stream client: `GET /subscribe?...`, each `data:` event parsed. */
export class EventStreamClient implements AsyncDisposable {
  readonly response: Response;
  readonly comments: string[] = [];
  readonly #reader: ReadableStreamDefaultReader<string>;
  #buffer = "";

  private constructor(response: Response) {
    this.response = response;
    this.#reader = response.body!.pipeThrough(new TextDecoderStream())
      .getReader();
  }

  /** Opens a stream; fails unless the server answers 200. */
  static async open(
    url: string,
    init: RequestInit = {},
  ): Promise<EventStreamClient> {
    const response = await fetch(url, init);
    if (response.status !== 200) {
      const body = await response.text();
      assert.fail(`event stream refused: ${response.status} ${body}`);
    }
    const client = new EventStreamClient(response);
    // The server opens with a comment once the subscriptions are in place.
    assert.equal(await client.nextComment(), "subscribed");
    return client;
  }

  async #event(): Promise<string> {
    while (true) {
      const end = this.#buffer.indexOf("\n\n");
      if (end >= 0) {
        const event = this.#buffer.slice(0, end);
        this.#buffer = this.#buffer.slice(end + 2);
        return event;
      }
      const { value, done } = await this.#reader.read();
      if (done) assert.fail("event stream ended");
      this.#buffer += value;
    }
  }

  /** The next data event's message (comments are collected on the way). */
  async next(): Promise<Message> {
    while (true) {
      const event = await this.#event();
      if (event.startsWith(":")) {
        this.comments.push(event.slice(1).trim());
        continue;
      }
      assert.ok(event.startsWith("data: "), event);
      return JSON.parse(event.slice("data: ".length));
    }
  }

  /** The next comment. */
  async nextComment(): Promise<string> {
    const event = await this.#event();
    assert.ok(event.startsWith(":"), `expected a comment, got ${event}`);
    return event.slice(1).trim();
  }

  /** Stops reading and closes the stream. */
  async close(): Promise<void> {
    await this.#reader.cancel().catch(() => {});
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** Fetches a URL and reads its whole body as text. */
export async function fetchText(
  url: string,
  init: RequestInit = {},
): Promise<{ status: number; body: string; headers: Headers }> {
  const response = await fetch(url, init);
  return {
    status: response.status,
    body: await response.text(),
    headers: response.headers,
  };
}

/** Fetches a URL and parses its body as JSON. */
export async function fetchJson(
  url: string,
  init: RequestInit = {},
): Promise<{ status: number; body: unknown }> {
  const { status, body } = await fetchText(url, init);
  return { status, body: JSON.parse(body) };
}

/** A `POST` of a JSON body. */
export function post(body: string): RequestInit {
  return {
    method: "POST",
    body,
    headers: { "content-type": "application/json" },
  };
}

/** The first bound address of a scheme. */
export function addressOf(server: MistServer, scheme: string): string {
  const url = server.addresses.find((a) => a.startsWith(`${scheme}://`));
  assert.ok(url, `no ${scheme} listener in ${server.addresses}`);
  return url;
}

/** Starts a server with TCP, HTTP and WebSocket listeners on free ports. */
export function allServer(options: ServeOptions = {}): Promise<MistServer> {
  return serve({
    listeners: ["tcp://127.0.0.1:0", "http://127.0.0.1:0", "ws://127.0.0.1:0"],
    ...options,
  });
}

/**
 * Publishes `count` numbered messages of about 1 KB to a tag, 256 at a time,
 * and checks that a reading subscriber gets each in order before the next
 * batch goes: the publisher is paced by the reader that keeps up, never by one
 * that stopped reading.
 */
export async function publishThrough(
  publisher: ProtocolClient,
  reader: ProtocolClient,
  tag: string,
  count: number,
): Promise<void> {
  const payload = "x".repeat(1000);
  for (let i = 0; i < count; i += 256) {
    let lines = "";
    for (let j = i; j < Math.min(i + 256, count); j++) {
      lines += JSON.stringify({
        command: "publish",
        tags: [tag],
        data: `${j} ${payload}`,
      }) + "\n";
    }
    await publisher.send(lines);
    for (let j = i; j < Math.min(i + 256, count); j++) {
      const message = await reader.next();
      assert.equal(
        message.data?.split(" ")[0],
        `${j}`,
        JSON.stringify(message).slice(0, 80),
      );
    }
  }
  // The publisher's own requests are answered while a slow reader is stalled.
  assert.deepEqual(await publisher.sync(), []);
}

export { eventually, next, until, within } from "../src/testing/eventually.ts";
export { sleep } from "../src/_util/deadline.ts";
export { writeAll } from "../src/_util/io.ts";

/** Writes a temporary file and returns its path. */
export async function tempFile(
  text: string,
  suffix = ".yaml",
): Promise<string> {
  const path = await Deno.makeTempFile({ prefix: "mist-test-", suffix });
  await Deno.writeTextFile(path, text);
  return path;
}
