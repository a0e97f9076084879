/**
 * The WebSocket client of `mist bench`'s workers: RFC 6455 on a raw socket
 * (`Deno.connect`, TLS by `Deno.startTls`), with `TCP_NODELAY` set. Deno's
 * `WebSocket` clears `TCP_NODELAY` on its socket, so a publish written while
 * the previous one waits for its ACK sat in the kernel until the server's
 * delayed ACK (about 40 ms): the bench measured Nagle, not the server.
 *
 * Frames out are masked text frames, all of one write in one buffer; frames
 * in are parsed where they lie in the read and handed on as byte ranges.
 *
 * @module
 */

import {
  ACCEPT_GUID,
  headerLength,
  LINES_PROTOCOL,
  OP_TEXT,
  writeHeader,
} from "../listeners/ws_encode.ts";

/** The longest response head read before giving up. */
const MAX_HEAD = 16 * 1024;
/** The most bytes the client packs in a line-mode frame (a longer message alone). */
export const PACK = 64 * 1024;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Opens a TCP connection without Nagle's algorithm, then TLS if asked. */
export async function dial(
  url: URL,
  caCerts: string[] | undefined,
): Promise<Deno.Conn> {
  const hostname = url.hostname.replace(/^\[(.*)\]$/, "$1");
  const secure = url.protocol === "tls:" || url.protocol === "wss:";
  const port = Number(url.port) || (secure ? 443 : 80);
  const tcp = await Deno.connect({ hostname, port });
  tcp.setNoDelay(true);
  if (!secure) return tcp;
  return await Deno.startTls(tcp, {
    hostname,
    ...(caCerts ? { caCerts } : {}),
  });
}

/** Masks (or unmasks) `bytes[start, end)` in place with a 4-byte `key`. */
export function mask(
  bytes: Uint8Array,
  start: number,
  end: number,
  key: Uint8Array,
): void {
  for (let i = start; i < end; i++) bytes[i]! ^= key[(i - start) & 3]!;
}

/** Random masking keys, drawn from a pool refilled when used up. */
const pool = new Uint8Array(4096);
let drawn = pool.length;
function maskKey(): Uint8Array {
  if (drawn === pool.length) {
    crypto.getRandomValues(pool);
    drawn = 0;
  }
  drawn += 4;
  return pool.subarray(drawn - 4, drawn);
}

/**
 * Client frames (masked text) of messages each ended by `\n`: `ends` are the
 * offsets just past each `\n` in `batch`. Plain framing puts one message in a
 * frame without its `\n`; line mode packs whole messages up to PACK bytes.
 */
export function clientFrames(
  batch: Uint8Array,
  ends: readonly number[],
  lines: boolean,
): Uint8Array {
  const spans: [number, number][] = [];
  let from = 0;
  for (const end of ends) {
    if (!lines) spans.push([from, end - 1]);
    else {
      const last = spans.at(-1);
      if (last && last[1] === from && end - last[0] <= PACK) last[1] = end;
      else spans.push([from, end]);
    }
    from = end;
  }
  let size = 0;
  for (const [s, e] of spans) size += headerLength(e - s) + 4 + (e - s);
  const out = new Uint8Array(size);
  let pos = 0;
  for (const [s, e] of spans) {
    pos = maskedHeader(out, pos, OP_TEXT, e - s);
    const key = maskKey();
    out.set(key, pos);
    pos += 4;
    out.set(batch.subarray(s, e), pos);
    mask(out, pos, pos + e - s, key);
    pos += e - s;
  }
  return out;
}

/** Writes a masked frame's header up to its masking key; returns the offset after it. */
function maskedHeader(
  out: Uint8Array,
  pos: number,
  opcode: number,
  n: number,
): number {
  const end = writeHeader(out, opcode, n, pos);
  out[pos + 1]! |= 0x80;
  return end;
}

/** A masked control frame (close, pong). */
export function controlFrame(opcode: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(6 + payload.length);
  const pos = maskedHeader(out, 0, opcode, payload.length);
  const key = maskKey();
  out.set(key, pos);
  out.set(payload, pos + 4);
  mask(out, pos + 4, out.length, key);
  return out;
}

/** What a parser hands on. */
export interface FrameSink {
  /** A whole text or binary message, valid only during the call. */
  message(bytes: Uint8Array, start: number, end: number): void;
  /** A ping: answer with a pong of this payload. */
  ping(payload: Uint8Array): void;
  /** The server closed the connection. */
  close(): void;
}

/** Parses server frames from reads however they split them. */
export class FrameParser {
  #pending = new Uint8Array(0);
  #length = 0;
  /** A fragmented message so far. */
  #fragments: Uint8Array[] = [];
  constructor(readonly sink: FrameSink) {}

  push(chunk: Uint8Array): void {
    let buf = chunk;
    let length = chunk.length;
    if (this.#length > 0) {
      this.#reserve(this.#length + chunk.length);
      this.#pending.set(chunk, this.#length);
      buf = this.#pending;
      length = this.#length += chunk.length;
    }
    const used = this.#frames(buf, length);
    if (buf === this.#pending) {
      buf.copyWithin(0, used, length);
      this.#length = length - used;
    } else if (used < length) {
      this.#reserve(length - used);
      this.#pending.set(buf.subarray(used, length));
      this.#length = length - used;
    }
  }

  #reserve(size: number): void {
    if (this.#pending.length >= size) return;
    const grown = new Uint8Array(Math.max(size, this.#pending.length * 2));
    grown.set(this.#pending.subarray(0, this.#length));
    this.#pending = grown;
  }

  /** Handles the whole frames in `buf[0, length)`; returns the bytes used. */
  #frames(buf: Uint8Array, length: number): number {
    let pos = 0;
    while (length - pos >= 2) {
      const b0 = buf[pos]!;
      const b1 = buf[pos + 1]!;
      let n = b1 & 0x7f;
      let at = pos + 2;
      if (n === 126) {
        if (length - at < 2) break;
        n = (buf[at]! << 8) | buf[at + 1]!;
        at += 2;
      } else if (n === 127) {
        if (length - at < 8) break;
        n = Number(
          new DataView(buf.buffer, buf.byteOffset + at, 8).getBigUint64(0),
        );
        at += 8;
      }
      const masked = (b1 & 0x80) !== 0;
      const start = at + (masked ? 4 : 0);
      if (length - start < n) break;
      const end = start + n;
      if (masked) mask(buf, start, end, buf.slice(at, at + 4));
      this.#frame(b0, buf, start, end);
      pos = end;
    }
    return pos;
  }

  #frame(b0: number, buf: Uint8Array, start: number, end: number): void {
    const fin = (b0 & 0x80) !== 0;
    const opcode = b0 & 0x0f;
    if (opcode === 0x8) return this.sink.close();
    if (opcode === 0x9) return this.sink.ping(buf.slice(start, end));
    if (opcode === 0xa) return;
    if (fin && opcode !== 0 && this.#fragments.length === 0) {
      return this.sink.message(buf, start, end);
    }
    // Fragments (RFC 6455 §5.4): kept until the last.
    this.#fragments.push(buf.slice(start, end));
    if (!fin) return;
    const whole = new Uint8Array(
      this.#fragments.reduce((n, f) => n + f.length, 0),
    );
    let pos = 0;
    for (const f of this.#fragments) {
      whole.set(f, pos);
      pos += f.length;
    }
    this.#fragments = [];
    this.sink.message(whole, 0, whole.length);
  }
}

/** An upgraded connection and what the handshake left over. */
export interface Upgraded {
  conn: Deno.Conn;
  lines: boolean;
  /** Bytes after the response head: the first frames. */
  rest: Uint8Array;
}

/**
 * Opens a WebSocket: dials, sends the upgrade (offering `mist.lines` unless
 * `wsLines` is "off", with `X-AUTH-TOKEN` when there is a token) and checks
 * the `101` response and its `Sec-WebSocket-Accept`.
 */
export async function upgrade(
  url: URL,
  options: {
    wsLines: "auto" | "on" | "off";
    token?: string;
    caCerts?: string[];
  },
): Promise<Upgraded> {
  const conn = await dial(url, options.caCerts);
  try {
    const key = btoa(
      String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))),
    );
    const head = [
      `GET ${url.pathname}${url.search} HTTP/1.1`,
      `Host: ${url.host}`,
      "Upgrade: websocket",
      "Connection: Upgrade",
      `Sec-WebSocket-Key: ${key}`,
      "Sec-WebSocket-Version: 13",
      ...(options.wsLines !== "off"
        ? [`Sec-WebSocket-Protocol: ${LINES_PROTOCOL}`]
        : []),
      ...(options.token !== undefined
        ? [`X-AUTH-TOKEN: ${options.token}`]
        : []),
    ];
    await writeAll(conn, encoder.encode(head.join("\r\n") + "\r\n\r\n"));
    const { status, headers, rest } = await readHead(conn);
    if (!/^HTTP\/1\.1 101\b/.test(status)) {
      throw new Error(`the server refused the upgrade: ${status}`);
    }
    const accept = await crypto.subtle.digest(
      "SHA-1",
      encoder.encode(key + ACCEPT_GUID),
    );
    const expected = btoa(String.fromCharCode(...new Uint8Array(accept)));
    if (headers.get("sec-websocket-accept") !== expected) {
      throw new Error("the server's Sec-WebSocket-Accept is wrong");
    }
    const lines = headers.get("sec-websocket-protocol") === LINES_PROTOCOL;
    if (options.wsLines === "on" && !lines) {
      throw new Error("the server did not accept mist.lines");
    }
    return { conn, lines, rest };
  } catch (err) {
    conn.close();
    throw err;
  }
}

async function readHead(conn: Deno.Conn): Promise<{
  status: string;
  headers: Map<string, string>;
  rest: Uint8Array;
}> {
  let got = new Uint8Array(0);
  const buf = new Uint8Array(4096);
  for (;;) {
    const n = await conn.read(buf);
    if (n === null) throw new Error("the server closed during the upgrade");
    const joined = new Uint8Array(got.length + n);
    joined.set(got);
    joined.set(buf.subarray(0, n), got.length);
    got = joined;
    const end = headEnd(got);
    if (end !== -1) {
      const text = decoder.decode(got.subarray(0, end));
      const [status = "", ...fields] = text.split("\r\n");
      const headers = new Map<string, string>();
      for (const field of fields) {
        const colon = field.indexOf(":");
        if (colon > 0) {
          headers.set(
            field.slice(0, colon).trim().toLowerCase(),
            field.slice(colon + 1).trim(),
          );
        }
      }
      return { status, headers, rest: got.slice(end + 4) };
    }
    if (got.length > MAX_HEAD) {
      throw new Error("the upgrade response is too long");
    }
  }
}

/** Where `\r\n\r\n` starts in `bytes`, or -1. */
function headEnd(bytes: Uint8Array): number {
  for (let i = bytes.indexOf(13); i !== -1; i = bytes.indexOf(13, i + 1)) {
    if (bytes[i + 1] === 10 && bytes[i + 2] === 13 && bytes[i + 3] === 10) {
      return i;
    }
  }
  return -1;
}

/** Writes all of `bytes`. */
export async function writeAll(conn: Deno.Conn, bytes: Uint8Array) {
  let data = bytes;
  while (data.length > 0) data = data.subarray(await conn.write(data));
}
