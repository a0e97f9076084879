/**
 * The WebSocket upgrade of the `http://` listener, on `Deno.upgradeWebSocket`:
 * one JSON message per text frame, or line mode (docs/protocol.md §1) when
 * the client offers `mist.lines`; the same connections and commands as TCP.
 * The `ws://` listener has its own sockets (ws_listener.ts).
 *
 * Deno gives no way to cap an incoming message below its own 64 MiB, to stop
 * reading a socket, or to learn when a socket has drained: a client may make
 * Deno buffer a message up to that size before `max-message-size` applies,
 * requests are buffered (bounded) while the connection is paused, and a
 * stalled socket is polled.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import type { Frame } from "../protocol/codec.ts";
import { MistError } from "../protocol/errors.ts";
import type { Connection } from "../server/connection.ts";
import type {
  ConnectionInfo,
  OpenOptions,
  Outlet,
} from "../server/transport.ts";
import type { ServerPort } from "../server/port.ts";
import {
  CLOSE_GOING_AWAY,
  CLOSE_POLICY_VIOLATION,
  lineGroups,
  LINES_PROTOCOL,
  splitLines,
} from "./ws_frames.ts";

/**
 * Past this many bytes waiting in the socket, the connection stops writing
 * (its own queue then fills and drops newer deliveries, docs/protocol.md §7).
 */
const HIGH_WATER_BYTES = 256 * 1024;
/** Writing resumes once the socket holds no more than this. */
const LOW_WATER_BYTES = 64 * 1024;
/** How often a stalled socket is looked at again, in milliseconds. */
const DRAIN_POLL_MS = 10;
/** The longest pause between two looks at a stalled socket. */
const DRAIN_POLL_MAX_MS = 1000;
/**
 * Requests that may wait while the connection is paused (a slow command, or
 * replies the client does not read), by count and by size; past either the
 * client is dropped: unlike TCP, a WebSocket cannot stop reading.
 */
const MAX_PENDING_REQUESTS = 4096;
const MAX_PENDING_CHARS = 1024 * 1024;

/**
 * Upgrades a request to a WebSocket whose connection speaks the mist protocol.
 *
 * @param request the HTTP request, which asks for an upgrade
 * @param server the server's side
 * @param info where the connection comes from
 * @param options the principal of a token presented with the request
 * @returns the upgrade response
 * @throws {TypeError} when the request is not a valid upgrade
 */
export function acceptWebSocket(
  request: Request,
  server: ServerPort,
  info: ConnectionInfo,
  options: OpenOptions,
): Response {
  // Deno accepts a protocol only from a list split on ", " exactly.
  const lines = request.headers.get("sec-websocket-protocol")?.split(", ")
    .includes(LINES_PROTOCOL) ?? false;
  const { socket, response } = Deno.upgradeWebSocket(request, {
    idleTimeout: 60,
    ...(lines ? { protocol: LINES_PROTOCOL } : {}),
  });
  const max = server.settings.limits.maxMessageBytes;
  socket.binaryType = "arraybuffer";
  let inbox: Inbox | undefined;
  socket.onopen = () => {
    const outlet = webSocketOutlet(socket, lines ? max : 0);
    const connection = server.open(outlet, info, options);
    inbox = new Inbox(connection, socket);
  };
  socket.onmessage = (event: MessageEvent) => {
    info.stats.bytesReceived += byteLength(event.data);
    if (lines && typeof event.data === "string") {
      for (const line of splitLines(event.data)) inbox?.push(line);
    } else {
      inbox?.push(event.data);
    }
  };
  socket.onclose = () => inbox?.connection.close();
  // An error is followed by a close event; nothing else to do.
  socket.onerror = () => {};
  return response;
}

/** Feeds frames to a connection one at a time, in order, while it is not paused. */
class Inbox {
  readonly connection: Connection;
  readonly #socket: WebSocket;
  readonly #pending: unknown[] = [];
  #pendingChars = 0;
  #paused = false;

  constructor(connection: Connection, socket: WebSocket) {
    this.connection = connection;
    this.#socket = socket;
  }

  push(data: unknown): void {
    const size = sizeOf(data);
    if (
      this.#pending.length >= MAX_PENDING_REQUESTS ||
      this.#pendingChars + size > MAX_PENDING_CHARS
    ) {
      this.#drop("too many requests waiting");
      return;
    }
    this.#pending.push(data);
    this.#pendingChars += size;
    if (!this.#paused) this.#run();
  }

  #run(): void {
    while (this.#pending.length > 0 && !this.connection.isClosed) {
      const data = this.#pending.shift();
      this.#pendingChars -= sizeOf(data);
      const wait = typeof data === "string"
        ? this.connection.receive(data)
        : this.connection.refuse(
          new MistError("invalid_message", "binary frames are not supported"),
        );
      if (wait !== undefined) {
        this.#paused = true;
        wait.finally(() => {
          this.#paused = false;
          this.#run();
        });
        return;
      }
    }
  }

  #drop(reason: string): void {
    this.#pending.length = 0;
    this.#pendingChars = 0;
    try {
      this.#socket.close(CLOSE_POLICY_VIOLATION, reason);
    } catch {
      // Already closing.
    }
    this.connection.close();
  }
}

/** The payload's size in bytes; a text frame's is its UTF-8 length. */
function byteLength(data: unknown): number {
  if (typeof data === "string") return Buffer.byteLength(data);
  return data instanceof ArrayBuffer ? data.byteLength : 0;
}

function sizeOf(data: unknown): number {
  if (typeof data === "string") return data.length;
  return data instanceof ArrayBuffer ? data.byteLength : 0;
}

/** The outlet; `linesMax` is the largest line-mode frame, 0 in plain mode. */
function webSocketOutlet(socket: WebSocket, linesMax: number): Outlet {
  return {
    write(frames: readonly Frame[]): void | Promise<void> {
      const texts = linesMax === 0 ? frames.map((f) => f.text) : packed(
        frames,
        linesMax,
      );
      return sendAll(socket, texts, 0);
    },
    close() {
      if (socket.readyState === WebSocket.OPEN) {
        socket.close(CLOSE_GOING_AWAY, "closing");
      }
    },
  };
}

/** Line mode: the frames' lines packed into as few texts as `max` allows. */
function packed(frames: readonly Frame[], max: number): string[] {
  const texts: string[] = [];
  let start = 0;
  for (const [end] of lineGroups(frames, max)) {
    let text = "";
    for (let i = start; i < end; i++) text += frames[i]!.text + "\n";
    texts.push(text);
    start = end;
  }
  return texts;
}

/**
 * Sends `texts` from `from` on, pausing whenever Deno's send buffer is past
 * the high-water mark: a stalled socket holds at most about that much of its
 * own, the rest stays in the shared frames of its queue.
 */
function sendAll(
  socket: WebSocket,
  texts: readonly string[],
  from: number,
): void | Promise<void> {
  for (let i = from; i < texts.length; i++) {
    if (socket.bufferedAmount > HIGH_WATER_BYTES) {
      return drained(socket).then(() => sendAll(socket, texts, i));
    }
    socket.send(texts[i]!);
  }
  if (socket.bufferedAmount > HIGH_WATER_BYTES) return drained(socket);
}

/**
 * Resolves once the socket's send buffer is down to the low-water mark.
 * Deno's WebSocket has no drain event, so it looks again after a pause that
 * doubles up to {@linkcode DRAIN_POLL_MAX_MS}: a socket that stays stalled
 * costs one look a second, not a hundred.
 */
async function drained(socket: WebSocket): Promise<void> {
  let pause = DRAIN_POLL_MS;
  while (
    socket.bufferedAmount > LOW_WATER_BYTES &&
    socket.readyState === WebSocket.OPEN
  ) {
    await new Promise((resolve) => setTimeout(resolve, pause));
    pause = Math.min(pause * 2, DRAIN_POLL_MAX_MS);
  }
  if (socket.readyState !== WebSocket.OPEN) {
    throw new Error("WebSocket closed");
  }
}
