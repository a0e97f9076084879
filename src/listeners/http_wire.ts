/**
 * HTTP/1.1 on a socket, the bytes only (RFC 9112): the request head read with
 * a size cap, request bodies by `Content-Length` or chunked, read as the
 * route asks for them, and responses written with a `content-length` or, for
 * an event stream, chunked as the chunks come. The connection loop is
 * http_front.ts.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { writeAll } from "../_util/io.ts";
import type { ListenerStats } from "../server/transport.ts";

/** The longest request head read, in bytes; longer ones get `431`. */
export const MAX_HEAD_BYTES = 8 * 1024;
/** The longest chunk-size line or trailer line of a chunked body. */
const MAX_LINE_BYTES = 1024;
/** The most body bytes one read takes from the socket. */
const BODY_READ_BYTES = 64 * 1024;

const REASONS: Record<number, string> = {
  100: "Continue",
  101: "Switching Protocols",
  200: "OK",
  202: "Accepted",
  204: "No Content",
  303: "See Other",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  413: "Content Too Large",
  417: "Expectation Failed",
  426: "Upgrade Required",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  501: "Not Implemented",
  503: "Service Unavailable",
};

/** A request head. */
export interface Head {
  readonly method: string;
  /** The target, e.g. `/subscribe?tags=a`. */
  readonly target: string;
  readonly version: "1.0" | "1.1";
  readonly headers: Headers;
}

/** Why a request cannot be served: its status and error text. */
export class BadRequest extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

const CRLF = Buffer.from("\r\n");
const CRLFCRLF = Buffer.from("\r\n\r\n");
const NOTHING = new Uint8Array(0);

/** The reading side of one connection: what was read past what was asked. */
export class Wire {
  readonly #conn: Deno.Conn;
  readonly #stats: ListenerStats;
  // Most heads fit in 1 KiB; the buffer grows to the cap only for others.
  // Pooled: no backing store of its own left to the collector per connection.
  #buffer: Buffer = Buffer.allocUnsafe(1024);
  #start = 0;
  #end = 0;

  constructor(conn: Deno.Conn, stats: ListenerStats) {
    this.#conn = conn;
    this.#stats = stats;
  }

  /** Whether bytes past what was asked are waiting (a pipelined request). */
  get buffered(): number {
    return this.#end - this.#start;
  }

  /**
   * Reads the next request head; empty lines before it are skipped.
   *
   * @returns the head, or `undefined` when the client closed between requests
   * @throws {BadRequest} `431` past {@linkcode MAX_HEAD_BYTES}, `400` for a
   *   head that cannot be read
   */
  async head(): Promise<Head | undefined> {
    let from = this.#start;
    while (true) {
      while (
        this.#end - this.#start >= 2 && this.#buffer[this.#start] === 13 &&
        this.#buffer[this.#start + 1] === 10
      ) {
        this.#start += 2;
      }
      from = Math.max(from, this.#start);
      const at = this.#find(CRLFCRLF, from);
      if (at >= 0) {
        const text = this.#buffer.toString("latin1", this.#start, at);
        this.#start = at + 4;
        const head = parseHead(text);
        if (head === undefined) throw new BadRequest(400, "bad request");
        return head;
      }
      from = Math.max(this.#start, this.#end - 3);
      if (this.buffered >= MAX_HEAD_BYTES) {
        throw new BadRequest(431, "request head too large");
      }
      const before = this.#start;
      if (!await this.#fill(MAX_HEAD_BYTES)) {
        if (this.buffered === 0) return undefined;
        throw new BadRequest(400, "the request head was cut short");
      }
      from -= before - this.#start; // #fill may have moved the bytes
    }
  }

  /**
   * Takes up to `max` body bytes: those read already, else one read.
   *
   * @returns the bytes (a copy), or `null` at the end of the stream
   */
  async take(max: number): Promise<Uint8Array | null> {
    if (this.buffered > 0) {
      const n = Math.min(max, this.buffered);
      const bytes = new Uint8Array(
        this.#buffer.subarray(this.#start, this.#start + n),
      );
      this.#start += n;
      return bytes;
    }
    const bytes = new Uint8Array(Math.min(max, BODY_READ_BYTES));
    const n = await this.#conn.read(bytes);
    if (n === null) return null;
    this.#stats.bytesReceived += n;
    return bytes.subarray(0, n);
  }

  /** Reads one line (a chunk size, a trailer) of at most {@linkcode MAX_LINE_BYTES}. */
  async line(): Promise<string> {
    while (true) {
      const at = this.#find(CRLF, this.#start);
      if (at >= 0) {
        const text = this.#buffer.toString("latin1", this.#start, at);
        this.#start = at + 2;
        return text;
      }
      if (this.buffered > MAX_LINE_BYTES) {
        throw new BadRequest(400, "bad chunked body");
      }
      if (!await this.#fill(MAX_LINE_BYTES + 2)) {
        throw new BodyCutShort();
      }
    }
  }

  /** What was read past the last request (an upgraded client's first frames). */
  rest(): Uint8Array {
    // A copy: a view would keep the buffer for the connection's life.
    const rest = this.buffered === 0
      ? NOTHING
      : new Uint8Array(this.#buffer.subarray(this.#start, this.#end));
    this.#start = this.#end = 0;
    return rest;
  }

  #find(needle: Uint8Array, from: number): number {
    return this.#buffer.subarray(0, this.#end).indexOf(needle, from);
  }

  /** Reads more into the buffer, holding up to `cap` bytes; false at the end. */
  async #fill(cap: number): Promise<boolean> {
    if (this.#start > 0) {
      this.#buffer.copyWithin(0, this.#start, this.#end);
      this.#end -= this.#start;
      this.#start = 0;
    }
    if (this.#end === this.#buffer.length) {
      const larger = Buffer.alloc(
        Math.min(Math.max(2 * this.#buffer.length, cap), cap + 1024),
      );
      larger.set(this.#buffer.subarray(0, this.#end));
      this.#buffer = larger;
    }
    const n = await this.#conn.read(this.#buffer.subarray(this.#end));
    if (n === null) return false;
    this.#stats.bytesReceived += n;
    this.#end += n;
    return true;
  }
}

/** The client hung up in the middle of a body. */
export class BodyCutShort extends Error {
  constructor() {
    super("the client hung up before the body ended");
  }
}

const REQUEST_LINE = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+) (\S+) HTTP\/(1\.[01])$/;
const HEADER_LINE = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*(.*?)[ \t]*$/;

/**
 * Parses a request head (without its final empty line).
 *
 * @param text the head, in latin1
 * @returns the head, or `undefined` when it is not one
 */
export function parseHead(text: string): Head | undefined {
  const lines = text.split("\r\n");
  const request = REQUEST_LINE.exec(lines[0]!);
  if (request === null) return undefined;
  const [, method, target, version] = request;
  if (!target!.startsWith("/")) return undefined;
  const headers = new Headers();
  try {
    for (const line of lines.slice(1)) {
      const header = HEADER_LINE.exec(line);
      if (header === null) return undefined;
      headers.append(header[1]!, header[2]!);
    }
  } catch {
    return undefined; // a header value the platform refuses
  }
  return {
    method: method!,
    target: target!,
    version: version as "1.0" | "1.1",
    headers,
  };
}

/** A request body being read: its stream, and whether it was read to its end. */
export interface Body {
  readonly stream: ReadableStream<Uint8Array>;
  /** Whether every byte of the body was read (the next request follows). */
  readonly ended: boolean;
  /** The bytes of it not read yet, when its length is known; else `Infinity`. */
  readonly left: number;
  /** Whether the route asked for the body (`100 Continue` was sent). */
  readonly started: boolean;
  /**
   * Reads what the route left of the body, discarding it, up to `max` bytes.
   *
   * @returns whether the body ended (false: past `max`, or unreadable)
   */
  skip(max: number): Promise<boolean>;
}

/**
 * A request body as a stream, read from the wire only as it is pulled: nothing
 * of it is buffered here beyond one read.
 *
 * @param wire the connection's reading side
 * @param how how the body is delimited
 * @param first called on the first pull (to send `100 Continue`)
 * @returns the body
 */
export function readBody(
  wire: Wire,
  how: Framing,
  first: () => Promise<void>,
): Body {
  let left = how === "chunked" ? 0 : how.length;
  let ended = how !== "chunked" && left === 0;
  let started = false;
  /** The next bytes, `null` once the body has ended. */
  const next = async (): Promise<Uint8Array | null> => {
    if (how === "chunked") {
      while (left === 0) {
        const line = await wire.line();
        const size = /^([0-9a-fA-F]{1,12})[ \t]*(;.*)?$/.exec(line);
        if (size === null) throw new BadRequest(400, "bad chunked body");
        left = parseInt(size[1]!, 16);
        if (left === 0) {
          while (await wire.line() !== ""); // trailers, ignored
          return null;
        }
      }
    } else if (left === 0) {
      return null;
    }
    const bytes = await wire.take(left);
    if (bytes === null) throw new BodyCutShort();
    left -= bytes.length;
    if (how === "chunked" && left === 0 && await wire.line() !== "") {
      throw new BadRequest(400, "bad chunked body");
    }
    return bytes;
  };
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (!started) {
        started = true;
        await first();
      }
      const bytes = await next();
      if (bytes === null) {
        ended = true;
        controller.close();
      } else {
        controller.enqueue(bytes);
      }
    },
  }, { highWaterMark: 0 });
  return {
    stream,
    get ended() {
      return ended;
    },
    get started() {
      return started;
    },
    get left() {
      return ended ? 0 : how === "chunked" ? Infinity : left;
    },
    async skip(max: number): Promise<boolean> {
      started = true;
      let skipped = 0;
      try {
        while (!ended && skipped <= max) {
          const bytes = await next();
          if (bytes === null) ended = true;
          else skipped += bytes.length;
        }
      } catch {
        return false;
      }
      return ended;
    },
  };
}

/** How a request's body is delimited (RFC 9112 §6.3). */
export type Framing = { length: number } | "chunked";

/**
 * The framing of a request's body.
 *
 * @throws {BadRequest} `400` for both `Content-Length` and
 *   `Transfer-Encoding`, a length that is not one number, or a coding
 *   other than chunked (`501`): what request smuggling is made of
 */
export function framing(headers: Headers): Framing {
  const coding = headers.get("transfer-encoding");
  const length = headers.get("content-length");
  if (coding !== null) {
    if (length !== null) {
      throw new BadRequest(400, "both Content-Length and Transfer-Encoding");
    }
    if (coding.trim().toLowerCase() !== "chunked") {
      throw new BadRequest(501, "only the chunked transfer coding is served");
    }
    return "chunked";
  }
  if (length === null) return { length: 0 };
  // Repeated headers are joined with ", ": all must be the same number.
  const values = new Set(length.split(",").map((v) => v.trim()));
  const [value] = values;
  if (values.size !== 1 || !/^\d{1,15}$/.test(value!)) {
    throw new BadRequest(400, "bad Content-Length");
  }
  return { length: Number(value) };
}

/**
 * Whether a header lists a token (`Connection: keep-alive, Upgrade`).
 *
 * @param value the header's value
 * @param token the token, in lower case
 */
export function hasToken(value: string | null, token: string): boolean {
  return value !== null &&
    value.split(",").some((t) => t.trim().toLowerCase() === token);
}

/** Headers the front writes itself, never copied from a response. */
const FRAMING_HEADERS = new Set([
  "content-length",
  "transfer-encoding",
  "connection",
  "keep-alive",
]);

/**
 * The status line and headers of a response.
 *
 * @param status the status
 * @param headers the response's headers
 * @param extra the framing headers, e.g. `content-length: 5\r\n`
 */
export function headBytes(
  status: number,
  headers: Headers,
  extra: string,
): Buffer {
  let text = `HTTP/1.1 ${status} ${REASONS[status] ?? ""}\r\n`;
  for (const [name, value] of headers) {
    if (!FRAMING_HEADERS.has(name)) text += `${name}: ${value}\r\n`;
  }
  return Buffer.from(text + extra + "\r\n", "latin1");
}

/** How a response is written. */
export interface Writing {
  /** A response to `HEAD`: the head only. */
  head: boolean;
  /** Whether the connection stays open after it. */
  keepAlive: boolean;
  /** HTTP/1.0 asked for keep-alive, which then is said. */
  sayKeepAlive: boolean;
}

/**
 * Writes a response whose body is known whole: a `content-length`, one write.
 */
export async function writeFixed(
  conn: Deno.Conn,
  response: Response,
  how: Writing,
): Promise<void> {
  const body = response.body === null
    ? NOTHING
    : new Uint8Array(await response.arrayBuffer());
  const noBody = response.status === 204 || response.status === 304;
  const extra = (noBody ? "" : `content-length: ${body.length}\r\n`) +
    connectionHeader(how);
  const head = headBytes(response.status, response.headers, extra);
  await writeAll(
    conn,
    how.head || noBody || body.length === 0
      ? head
      : Buffer.concat([head, body]),
  );
}

/**
 * Writes a streamed response as its chunks come, each write awaited (a client
 * that does not read holds one chunk here, the rest waits upstream): chunked,
 * then the connection is closed. Ends when the stream ends or `gone` settles
 * (the client closed), whichever is first.
 */
export async function writeStreamed(
  conn: Deno.Conn,
  response: Response,
  chunked: boolean,
  gone: Promise<unknown>,
): Promise<void> {
  const reader = response.body!.getReader();
  gone.then(() => reader.cancel().catch(() => {}), () => {});
  await writeAll(
    conn,
    headBytes(
      response.status,
      response.headers,
      (chunked ? "transfer-encoding: chunked\r\n" : "") +
        "connection: close\r\n",
    ),
  );
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      if (value.length === 0) continue;
      await writeAll(
        conn,
        chunked
          ? Buffer.concat([
            Buffer.from(`${value.length.toString(16)}\r\n`, "latin1"),
            value,
            CRLF,
          ])
          : value,
      );
    }
    if (chunked) await writeAll(conn, Buffer.from("0\r\n\r\n", "latin1"));
  } finally {
    reader.cancel().catch(() => {});
  }
}

function connectionHeader(how: Writing): string {
  if (!how.keepAlive) return "connection: close\r\n";
  return how.sayKeepAlive ? "connection: keep-alive\r\n" : "";
}
