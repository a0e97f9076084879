/**
 * The connections of `mist bench`'s workers: raw TCP, TLS and WebSocket
 * sockets (the WebSocket client is `bench_ws.ts`), the line scanner that
 * counts deliveries and reads only the payload's timestamp, and the two
 * dialects (mist's JSON lines, Redis's RESP for `bench:compare`).
 *
 * @module
 */

import { Histogram } from "./bench_report.ts";
import {
  clientFrames,
  controlFrame,
  dial,
  FrameParser,
  upgrade,
  writeAll,
} from "./bench_ws.ts";

/** What a worker is asked to do. */
export interface Job {
  role: "publish" | "subscribe";
  protocol: "mist" | "resp";
  url: string;
  /** WebSocket: "auto" offers line mode, "on" requires it, "off" does not offer it. */
  wsLines: "auto" | "on" | "off";
  token?: string;
  caCerts?: string[];
  /** Subscribers: the tags of each connection's subscriptions (one tag each). */
  subscriptions: string[][];
  /** Publisher: the tags it cycles through, one per message. */
  publishTags: string[];
  payloadBytes: number;
  /** Messages per second; 0 for as fast as the pacing allows. */
  rate: number;
  durationMs: number;
  /** Subscribers: parse the timestamp of one delivery in this many. */
  sampleEvery: number;
  /**
   * One slot per subscriber worker where it keeps its deliveries counted
   * (`BigInt64Array`), so the publisher stays at most a window ahead of the
   * slowest of them.
   */
  progress: SharedArrayBuffer;
  /** Subscribers: their slot. */
  slot: number;
  /** Publisher: the deliveries each slot's worker gets per publish. */
  shares: number[];
}

/** What a worker reports. */
export type Report =
  | { type: "ready"; wsLines: boolean }
  | { type: "progress"; sent: number; received: number; dropped: number }
  | {
    type: "done";
    sent: number;
    received: number;
    dropped: number;
    answered: number;
    histogram: [number, number][];
    max: number;
  }
  | { type: "error"; message: string };

export const encoder = new TextEncoder();
export const decoder = new TextDecoder();
/** The timestamp in a payload: `@` + 17 characters (ms, 3 decimals) + `@`. */
export const STAMP = 17;
const AT = 0x40;
/** A line head shorter than this is carried over to the next read. */
const HEAD = 192;

/**
 * The clock of every stamp, in ms: `performance.now()` alone counts from each
 * Worker's own start, so a stamp written by the publisher's Worker and read
 * by a subscriber's would be off by the gap between their starts;
 * `timeOrigin` (the wall time of that start) makes them one clock.
 */
export const now = (): number => performance.timeOrigin + performance.now();

/** The stamp of `ms` as the publisher writes it: STAMP characters, µs kept. */
export function stampText(ms: number = now()): string {
  return ms.toFixed(3).padStart(STAMP, "0").slice(-STAMP);
}

/** Counts of one thread. */
export class Counts {
  sent = 0;
  received = 0;
  dropped = 0;
  pongs = 0;
  readonly histogram = new Histogram();
  /** Where `received` is published for the publisher to read. */
  shared: { view: BigInt64Array; slot: number } | undefined;
  #tick = 0;
  #wake: (() => void) | undefined;
  constructor(readonly sampleEvery: number) {}
  /** Connections the server ended before we closed them. */
  ended = 0;
  /** Publishes `received` to the shared slot (after each read). */
  share(): void {
    if (this.shared) {
      Atomics.store(
        this.shared.view,
        this.shared.slot,
        BigInt(this.received),
      );
    }
  }
  pong(): void {
    this.pongs++;
    this.#wake?.();
  }
  end(): void {
    this.ended++;
    this.#wake?.();
  }
  /** Waits until `test()` holds, woken by each pong; bounded by `ms`. */
  async until(test: () => boolean, ms: number, what: string): Promise<void> {
    const end = Date.now() + ms;
    while (!test()) {
      if (this.ended > 0) throw new Error("the server closed a connection");
      const left = end - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 50));
        this.#wake = () => {
          clearTimeout(timer);
          this.#wake = undefined;
          resolve();
        };
      });
    }
  }
  /** Whether this delivery's timestamp should be read. */
  sample(): boolean {
    if (++this.#tick < this.sampleEvery) return false;
    this.#tick = 0;
    return true;
  }
  stamp(ms: number): void {
    if (ms > 0) this.histogram.record((now() - ms) * 1000);
  }
}

/** The stamp after the `@` at `at`, or 0 when there is none. */
export function stampOf(bytes: Uint8Array, at: number, end: number): number {
  if (at < 0 || at + STAMP >= end) return 0;
  let text = "";
  for (let i = at + 1; i <= at + STAMP; i++) {
    text += String.fromCharCode(bytes[i]!);
  }
  return Number(text);
}

/** Reads one line's head; one classifier per protocol. */
export type LineHandler = (
  bytes: Uint8Array,
  start: number,
  end: number,
) => void;

export function mistLine(counts: Counts): LineHandler {
  return (b, s, e) => {
    // `{"command":"` is 12 bytes: the command's first letters follow.
    const c = b[s + 12];
    if (c === 0x70 && b[s + 13] === 0x75) { // publish
      counts.received++;
      if (counts.sample()) counts.stamp(stampOf(b, b.indexOf(AT, s), e));
    } else if (c === 0x70) { // ping
      counts.pong();
    } else if (c === 0x64) { // dropped
      const line = decoder.decode(b.subarray(s, e));
      counts.dropped += Number(/"data":"(\d+)"/.exec(line)?.[1] ?? 0);
    }
  };
}

export function respLine(counts: Counts): LineHandler {
  let payloadIn = 0;
  let sampling = false;
  return (b, s, e) => {
    const length = e - s;
    if (payloadIn > 0 && --payloadIn === 0) {
      if (sampling) counts.stamp(stampOf(b, s, e));
      return;
    }
    if (length === 8 && b[s] === 0x6d) { // message\r
      counts.received++;
      payloadIn = 4;
      sampling = counts.sample();
    } else if (
      (length === 5 && b[s] === 0x70 && b[s + 1] === 0x6f) || // pong\r
      (length === 6 && b[s] === 0x2b && b[s + 1] === 0x50) // +PONG\r
    ) {
      counts.pong();
    }
  };
}

/** Splits reads into lines without copying, carrying only short line heads. */
export class LineScanner {
  #carry: Uint8Array | undefined;
  #mid = false;
  constructor(readonly onLine: LineHandler) {}

  push(chunk: Uint8Array): void {
    let buf = chunk;
    if (this.#carry !== undefined) {
      buf = new Uint8Array(this.#carry.length + chunk.length);
      buf.set(this.#carry);
      buf.set(chunk, this.#carry.length);
      this.#carry = undefined;
    }
    let pos = 0;
    if (this.#mid) {
      const nl = buf.indexOf(10);
      if (nl === -1) return;
      pos = nl + 1;
      this.#mid = false;
    }
    while (pos < buf.length) {
      const nl = buf.indexOf(10, pos);
      if (nl === -1) {
        if (buf.length - pos < HEAD) this.#carry = buf.slice(pos);
        else {
          this.onLine(buf, pos, buf.length);
          this.#mid = true;
        }
        return;
      }
      this.onLine(buf, pos, nl);
      pos = nl + 1;
    }
  }
}

/** One open connection, whatever carries it. */
export interface Wire {
  /** Whether a WebSocket speaks line mode (`mist.lines`). */
  readonly lines: boolean;
  /**
   * Writes whole messages, each ended by `\n`; `ends` are the offsets just
   * past each `\n` (WebSocket frames them; TCP writes the bytes as they are).
   * Resolves when the socket has taken them.
   */
  write(batch: Uint8Array, ends: readonly number[]): Promise<void>;
  close(): void;
}

/** Messages (each ended by `\n`) as one batch and the offsets of their ends. */
export function batchOf(texts: readonly string[]): [Uint8Array, number[]] {
  const batch = encoder.encode(texts.join(""));
  const ends: number[] = [];
  let end = 0;
  for (const text of texts) ends.push(end += encoder.encode(text).length);
  return [batch, ends];
}

/**
 * Counts the mist messages of a line-mode WebSocket frame, each ended by
 * `\n`: decoded once, then scanned as a string (a `Uint8Array.indexOf` a line
 * cost line-mode fan-out about a third of its deliveries/s).
 */
export function mistFrame(counts: Counts): LineHandler {
  const line = (t: string, s: number, e: number) => {
    const c = t.charCodeAt(s + 12);
    if (c === 0x70 && t.charCodeAt(s + 13) === 0x75) { // publish
      counts.received++;
      if (counts.sample()) {
        const at = t.indexOf("@", s);
        if (at !== -1 && at + STAMP < e) {
          counts.stamp(Number(t.slice(at + 1, at + 1 + STAMP)));
        }
      }
    } else if (c === 0x70) { // ping
      counts.pong();
    } else if (c === 0x64) { // dropped
      counts.dropped += Number(
        /"data":"(\d+)"/.exec(t.slice(s, e))?.[1] ?? 0,
      );
    }
  };
  return (b, s, e) => {
    const frame = decoder.decode(b.subarray(s, e));
    let start = 0;
    for (let end; (end = frame.indexOf("\n", start)) !== -1; start = end + 1) {
      if (end > start) line(frame, start, end);
    }
    if (start < frame.length) line(frame, start, frame.length);
  };
}

export async function openWire(job: Job, counts: Counts): Promise<Wire> {
  const url = new URL(job.url);
  const handler = job.protocol === "resp" ? respLine(counts) : mistLine(counts);
  const ws = url.protocol === "ws:" || url.protocol === "wss:";
  let conn: Deno.Conn;
  let lines = false;
  let push: (chunk: Uint8Array) => void;
  /** What came after the upgrade's response head: the first frames. */
  let first: Uint8Array = new Uint8Array(0);
  let closed = false;
  if (ws) {
    const upgraded = await upgrade(url, job);
    ({ conn, lines } = upgraded);
    const parser = new FrameParser({
      // Plain framing: one message a frame, no newline.
      message: lines ? mistFrame(counts) : handler,
      ping: (payload) => {
        writeAll(conn, controlFrame(0xa, payload)).catch(() => {});
      },
      close: () => {
        if (!closed) counts.end();
        wire.close();
      },
    });
    push = (chunk) => parser.push(chunk);
    first = upgraded.rest;
  } else {
    conn = await dial(url, job.caCerts);
    const scanner = new LineScanner(handler);
    push = (chunk) => scanner.push(chunk);
  }
  const wire: Wire = {
    lines,
    write(batch, ends) {
      return writeAll(conn, ws ? clientFrames(batch, ends, lines) : batch);
    },
    close() {
      if (closed) return;
      closed = true;
      try {
        conn.close();
      } catch {
        // Already closed.
      }
    },
  };
  (async () => {
    const buf = new Uint8Array(256 * 1024);
    try {
      if (first.length > 0) push(first);
      for (let n; (n = await conn.read(buf)) !== null;) {
        push(buf.subarray(0, n));
        counts.share();
      }
    } catch {
      // Ended: counted below.
    }
    if (!closed) counts.end();
  })();
  if (job.token !== undefined && !ws) {
    const auth = job.protocol === "resp"
      ? resp(["AUTH", job.token])
      : JSON.stringify({ command: "auth", data: job.token }) + "\n";
    await wire.write(...batchOf([auth]));
  }
  return wire;
}

/** A RESP command. */
export function resp(words: string[]): string {
  return `*${words.length}\r\n${
    words.map((w) => `$${encoder.encode(w).length}\r\n${w}\r\n`).join("")
  }`;
}

/** The ping of a protocol, ended as its frames are. */
export function pingFrame(protocol: Job["protocol"]): string {
  return protocol === "resp" ? resp(["PING"]) : '{"command":"ping"}\n';
}
