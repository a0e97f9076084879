/**
 * The reproductions of issue 11's table that need a whole server process:
 * each runs against `deno run -A DIR/cli.ts --server …` (any tree, old or
 * new), measures it from outside (/proc, /metrics, its log) and returns the
 * figure. tests/faults/faults_test.ts asserts on them; bench/faults.ts prints
 * them for two trees side by side.
 *
 * @module
 */

import { writeAll } from "../../src/_util/io.ts";
import { sleep } from "../../src/_util/deadline.ts";
import { TcpProxy } from "../_tcp_proxy.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const MiB = 1024 * 1024;

/** A `mist --server` of some tree, run as a subprocess. */
export class FaultServer implements AsyncDisposable {
  readonly child: Deno.ChildProcess;
  readonly lines: string[] = [];
  readonly #urls = new Map<string, string>();
  readonly #done: Promise<Deno.CommandStatus>;
  #exited: Deno.CommandStatus | undefined;

  private constructor(child: Deno.ChildProcess) {
    this.child = child;
    const collect = async (stream: ReadableStream<Uint8Array>) => {
      let rest = "";
      for await (const text of stream.pipeThrough(new TextDecoderStream())) {
        const parts = (rest + text).split("\n");
        rest = parts.pop()!;
        for (const line of parts) {
          this.lines.push(line);
          const m = line.match(/([A-Z]+) listener on (\S+)/);
          if (m) this.#urls.set(m[1]!.toLowerCase(), m[2]!);
        }
      }
    };
    const streams = Promise.all([collect(child.stdout), collect(child.stderr)]);
    this.#done = child.status.then(async (status) => {
      await streams;
      this.#exited = status;
      return status;
    });
  }

  /** Starts the server of the tree whose `cli.ts` is given, on port 0 of 127.0.0.1. */
  static start(
    cli: string,
    flags: string[] = [],
    schemes = ["tcp", "http", "ws"],
  ): Promise<FaultServer> {
    const listeners = schemes.map((s) => `${s}://127.0.0.1:0`).join(",");
    return FaultServer.#spawn(
      ["run", "-A", cli, "--server", "--listeners", listeners, ...flags],
      schemes,
    );
  }

  static async #spawn(args: string[], schemes: string[]): Promise<FaultServer> {
    const child = new Deno.Command(Deno.execPath(), {
      args,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const server = new FaultServer(child);
    for (let i = 0; i < 400 && server.#urls.size < schemes.length; i++) {
      if (server.#exited) break;
      await sleep(50);
    }
    if (server.#urls.size < schemes.length) {
      await server.stop();
      throw new Error(`the server did not start:\n${server.lines.join("\n")}`);
    }
    return server;
  }

  /**
   * Starts a tree's server through its library (tests/faults/_gc_serve.ts),
   * where {@linkcode heapAfterGc} works.
   */
  static startCollectable(dir: string): Promise<FaultServer> {
    const harness = new URL("./_gc_serve.ts", import.meta.url).pathname;
    return FaultServer.#spawn(
      [
        "run",
        "-A",
        "--v8-flags=--expose-gc",
        "--config", // the tree's import map, if it has one
        `${dir}/deno.json`,
        harness,
        dir,
      ],
      ["tcp", "http", "ws"],
    );
  }

  /** The heap in use after a full collection (only when {@linkcode startCollectable}). */
  async heapAfterGc(): Promise<number> {
    const seen = this.lines.length;
    this.kill("SIGUSR2");
    for (let i = 0; i < 200; i++) {
      const line = this.lines.slice(seen).find((l) => l.startsWith("heap "));
      if (line !== undefined) return Number(line.slice(5));
      await sleep(50);
    }
    throw new Error("no heap line after SIGUSR2");
  }

  /** The bound URL of a scheme's listener. */
  url(scheme: string): string {
    return this.#urls.get(scheme)!;
  }

  /** Whether the process is still running. */
  get alive(): boolean {
    return this.#exited === undefined;
  }

  /** Its exit status once it has exited. */
  get status(): Deno.CommandStatus | undefined {
    return this.#exited;
  }

  /** Resident memory in bytes, from /proc/PID/status. */
  async rss(): Promise<number> {
    const text = await Deno.readTextFile(`/proc/${this.child.pid}/status`);
    return Number(text.match(/VmRSS:\s+(\d+) kB/)![1]) * 1024;
  }

  /** CPU time (user + system) used so far, in seconds, from /proc/PID/stat. */
  async cpuSeconds(): Promise<number> {
    const text = await Deno.readTextFile(`/proc/${this.child.pid}/stat`);
    const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100; // USER_HZ
  }

  /** The sum of a metric's samples on /metrics; undefined if it has none. */
  async metric(name: string, label = ""): Promise<number | undefined> {
    const response = await fetch(`${this.url("http")}/metrics`);
    const text = await response.text();
    let sum: number | undefined;
    for (const line of text.split("\n")) {
      const m = line.match(/^(\w+)(?:\{[^}]*\})? (\S+)$/);
      if (m && m[1] === name && line.includes(label)) {
        sum = (sum ?? 0) + Number(m[2]);
      }
    }
    return sum;
  }

  /** Sends a signal, if it still runs. */
  kill(signal: Deno.Signal): void {
    try {
      this.child.kill(signal);
    } catch {
      // Already exited.
    }
  }

  /** Kills it (SIGKILL) and waits for the exit. */
  async stop(): Promise<void> {
    this.kill("SIGKILL");
    await this.#done;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

function hostPort(url: string): Deno.ConnectOptions {
  const { hostname, port } = new URL(url);
  return { hostname, port: Number(port) };
}

/** Reads from a connection until the text seen contains `needle` (bounded by size). */
async function readUntil(conn: Deno.Conn, needle: string): Promise<string> {
  const buffer = new Uint8Array(64 * 1024);
  let seen = "";
  while (!seen.includes(needle) && seen.length < 16 * MiB) {
    const n = await conn.read(buffer);
    if (n === null) throw new Error(`closed before ${needle}: ${seen}`);
    seen += decoder.decode(buffer.subarray(0, n));
  }
  return seen;
}

/** A TCP connection subscribed to a tag, its subscription confirmed by a pong. */
async function tcpSubscriber(url: string, tag: string): Promise<Deno.TcpConn> {
  const conn = await Deno.connect(hostPort(url));
  await writeAll(
    conn,
    encoder.encode(
      `{"command":"subscribe","tags":["${tag}"]}\n{"command":"ping"}\n`,
    ),
  );
  await readUntil(conn, "pong");
  return conn;
}

/** Publishes `count` messages of `size` bytes to a tag over TCP, then waits for a pong. */
async function burst(url: string, tag: string, count: number, size: number) {
  const conn = await Deno.connect(hostPort(url));
  try {
    const line = encoder.encode(
      `{"command":"publish","tags":["${tag}"],"data":"${"x".repeat(size)}"}\n`,
    );
    for (let i = 0; i < count; i++) await writeAll(conn, line);
    await writeAll(conn, encoder.encode(`{"command":"ping"}\n`));
    await readUntil(conn, "pong");
  } finally {
    conn.close();
  }
}

/** The highest RSS seen in `ms` milliseconds, sampled every 100 ms. */
async function peakRss(server: FaultServer, ms: number): Promise<number> {
  let peak = 0;
  for (let t = 0; t < ms; t += 100) {
    peak = Math.max(peak, await server.rss());
    await sleep(100);
  }
  return peak;
}

function closeAll(conns: Iterable<Deno.Conn>): void {
  for (const conn of conns) {
    try {
      conn.close();
    } catch {
      // Closed by the server.
    }
  }
}

/** What {@linkcode stalledTcp} measured. */
export interface StalledTcp {
  /** Peak RSS after the burst minus RSS before it, in bytes. */
  rssGrowth: number;
  /** `mist_queue_bytes` after the burst (undefined on a tree without it). */
  queuedBytes: number | undefined;
}

/** Row 3: `subscribers` TCP subscribers stop reading; one burst of `count` × `size` bytes to their tag. */
export async function stalledTcp(
  server: FaultServer,
  subscribers: number,
  count: number,
  size: number,
): Promise<StalledTcp> {
  const url = server.url("tcp");
  const conns: Deno.Conn[] = [];
  try {
    for (let i = 0; i < subscribers; i += 50) {
      const batch = Math.min(50, subscribers - i);
      conns.push(
        ...await Promise.all(
          Array.from({ length: batch }, () => tcpSubscriber(url, "burst")),
        ),
      );
    }
    const before = await server.rss();
    await burst(url, "burst", count, size);
    const peak = await peakRss(server, 2000);
    const queuedBytes = await server.metric("mist_queue_bytes");
    return { rssGrowth: peak - before, queuedBytes };
  } finally {
    closeAll(conns);
  }
}

/** A raw WebSocket on a `ws://` listener, subscribed to a tag, confirmed by a pong. */
async function wsSubscriber(url: string, tag: string): Promise<Deno.TcpConn> {
  const conn = await Deno.connect(hostPort(url));
  await writeAll(
    conn,
    encoder.encode(
      `GET /subscribe/websocket HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n` +
        `Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n` +
        `Sec-WebSocket-Version: 13\r\n\r\n`,
    ),
  );
  await readUntil(conn, "\r\n\r\n");
  for (
    const text of [
      `{"command":"subscribe","tags":["${tag}"]}`,
      `{"command":"ping"}`,
    ]
  ) {
    const payload = encoder.encode(text); // < 126 bytes; mask of zeros
    await writeAll(
      conn,
      new Uint8Array([0x81, 0x80 | payload.length, 0, 0, 0, 0, ...payload]),
    );
  }
  await readUntil(conn, "pong");
  return conn;
}

/** What {@linkcode stalledWs} measured. */
export interface StalledWs {
  /** CPU used over `idleMs` once the burst was queued, in % of one core. */
  idleCpuPercent: number;
  /** Peak RSS after the burst minus RSS before it, in bytes. */
  rssGrowth: number;
}

/** Row 7: `subscribers` WebSocket subscribers on `ws://` stop reading after a burst; then the server idles. */
export async function stalledWs(
  server: FaultServer,
  subscribers: number,
  idleMs = 2000,
): Promise<StalledWs> {
  const url = server.url("ws");
  const conns: Deno.Conn[] = [];
  try {
    for (let i = 0; i < subscribers; i += 50) {
      const batch = Math.min(50, subscribers - i);
      conns.push(
        ...await Promise.all(
          Array.from({ length: batch }, () => wsSubscriber(url, "stall")),
        ),
      );
    }
    const before = await server.rss();
    // Enough for every socket's kernel buffers to fill: all now stalled.
    await burst(server.url("tcp"), "stall", 8, 1_000_000);
    const peak = await peakRss(server, 1500);
    const cpu0 = await server.cpuSeconds();
    await sleep(idleMs);
    const cpu1 = await server.cpuSeconds();
    return {
      idleCpuPercent: ((cpu1 - cpu0) * 1000 / idleMs) * 100,
      rssGrowth: peak - before,
    };
  } finally {
    closeAll(conns);
  }
}

/** What {@linkcode wsChurn} measured. */
export interface WsChurn {
  /** RSS after the churn minus RSS after a warm-up, in bytes. */
  rssGrowth: number;
  /** Heap after minus before: after a full GC if `collectable`, else `mist_heap_used_bytes` (undefined without it). */
  heapGrowth: number | undefined;
  /** `mist_connections` after the churn (undefined without it). */
  open: number | undefined;
}

async function churn(url: string, total: number, parallel = 8): Promise<void> {
  let started = 0;
  const one = async () => {
    while (started < total) {
      started++;
      const socket = new WebSocket(`${url}/subscribe/websocket`);
      await new Promise<void>((resolve, reject) => {
        socket.onopen = () => socket.send(`{"command":"ping"}`);
        socket.onmessage = () => socket.close();
        socket.onclose = () => resolve();
        socket.onerror = () => reject(new Error("websocket error"));
      });
    }
  };
  await Promise.all(Array.from({ length: parallel }, one));
}

/**
 * Row 8: `total` WebSocket clients connect to the `ws://` listener (or the
 * `http://` listener's upgrade), ping and close.
 */
export async function wsChurn(
  server: FaultServer,
  total: number,
  collectable = false,
  scheme: "ws" | "http" = "ws",
): Promise<WsChurn> {
  const url = server.url(scheme).replace(/^http/, "ws");
  await churn(url, 500); // warm-up: code, caches and pools settle
  await sleep(500);
  const rss0 = await server.rss();
  const heap = () =>
    collectable ? server.heapAfterGc() : server.metric("mist_heap_used_bytes");
  const heap0 = await heap();
  await churn(url, total);
  await sleep(1000);
  const rss1 = await server.rss();
  const heap1 = await heap();
  const open = await server.metric("mist_connections");
  return {
    rssGrowth: rss1 - rss0,
    heapGrowth: heap0 === undefined || heap1 === undefined
      ? undefined
      : heap1 - heap0,
    // The /metrics request itself is one HTTP connection, not a WebSocket.
    open,
  };
}

/** What {@linkcode vanished} measured. */
export interface Vanished {
  /** Milliseconds until `who` counted none of them, or undefined if never within `waitMs`. */
  recoveredMs: number | undefined;
  /** Subscribers `who` counts at the end, the asking one included (undefined without `who`). */
  whoOpen: number | undefined;
  /** `mist_connections` of the tcp listener at the end. */
  metricOpen: number | undefined;
}

/** Subscribers `who` counts (the asking connection included); undefined without `who`. */
async function who(url: string): Promise<number | undefined> {
  const conn = await Deno.connect(hostPort(url));
  try {
    await writeAll(conn, encoder.encode(`{"command":"who"}\n`));
    const reply = JSON.parse((await readUntil(conn, "\n")).split("\n")[0]!);
    const m = String(reply.data).match(/connected: (\d+)/);
    return m ? Number(m[1]) : undefined;
  } finally {
    conn.close();
  }
}

/** Row 9: `count` subscribers behind a proxy that goes silent (no FIN, no RST). */
export async function vanished(
  server: FaultServer,
  count: number,
  waitMs: number,
): Promise<Vanished> {
  const url = server.url("tcp");
  await using proxy = new TcpProxy(hostPort(url));
  const via = `tcp://127.0.0.1:${proxy.port}`;
  const conns = await Promise.all(
    Array.from({ length: count }, () => tcpSubscriber(via, "gone")),
  );
  try {
    proxy.silenceExisting();
    const start = performance.now();
    const open = () => server.metric("mist_connections", 'listener="tcp://');
    let recoveredMs: number | undefined;
    while (performance.now() - start < waitMs) {
      if ((await open()) === 0) {
        recoveredMs = performance.now() - start;
        break;
      }
      await sleep(100);
    }
    const metricOpen = await open();
    const whoOpen = await who(url);
    return { recoveredMs, whoOpen, metricOpen };
  } finally {
    closeAll(conns);
  }
}
