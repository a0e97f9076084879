/**
 * The reading side of HTTP/1.1 on a socket (RFC 9112): the request head read
 * with a size cap, and the bytes past it, which bodies (http_body.ts) and the
 * next pipelined request read. Responses are http_reply.ts; the connection
 * loop is http_front.ts.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { readInTurn } from "../_util/turn.ts";
import type { ListenerStats } from "../server/transport.ts";
import type { ByteConn } from "./listener.ts";

/** The longest request head read, in bytes; longer ones get `431`. */
export const MAX_HEAD_BYTES = 8 * 1024;
/** The longest chunk-size line or trailer line of a chunked body. */
const MAX_LINE_BYTES = 1024;
/** The most body bytes one read takes from the socket. */
const BODY_READ_BYTES = 64 * 1024;

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
  readonly #conn: ByteConn;
  readonly #stats: ListenerStats;
  // Most heads fit in 1 KiB; the buffer grows to the cap only for others.
  // Pooled: no backing store of its own left to the collector per connection.
  #buffer: Buffer = Buffer.allocUnsafe(1024);
  #start = 0;
  #end = 0;

  constructor(conn: ByteConn, stats: ListenerStats) {
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
    const turn = readInTurn(n);
    if (turn !== undefined) await turn;
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
    // A client that pipelines requests is read no faster than the others.
    const turn = readInTurn(n);
    if (turn !== undefined) await turn;
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
