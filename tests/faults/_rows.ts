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
import {
  type FaultServer,
  hostPort,
  openInBatches,
  readUntil,
  upgradeRequest,
} from "./_fault_server.ts";

export { FaultServer } from "./_fault_server.ts";

const encoder = new TextEncoder();

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
    await openInBatches(subscribers, () => tcpSubscriber(url, "burst"), conns);
    const before = await server.rss();
    await burst(url, "burst", count, size);
    const peak = await peakRss(server, 2000);
    const queuedBytes = await server.metric("mist_queue_bytes");
    return { rssGrowth: peak - before, queuedBytes };
  } finally {
    closeAll(conns);
  }
}

/** What {@linkcode stalledSparse} measured. */
export interface StalledSparse {
  /** Peak RSS after the publishes minus RSS before them, in bytes. */
  rssGrowth: number;
  /** `mist_queue_bytes` once they were all read (undefined on a tree without it). */
  queuedBytes: number | undefined;
}

/**
 * Row 17: one TCP subscriber of a tag stops reading; `count` publishes of
 * 100 bytes follow, one in `every` to its tag, the others to a tag nobody
 * holds. Its few queued messages must not keep alive everything published
 * beside them.
 */
export async function stalledSparse(
  server: FaultServer,
  count: number,
  every: number,
): Promise<StalledSparse> {
  const url = server.url("tcp");
  const stalled = await tcpSubscriber(url, "sparse");
  const publisher = await Deno.connect(hostPort(url));
  try {
    const before = await server.rss();
    const line = (tag: string) =>
      encoder.encode(
        `{"command":"publish","tags":["${tag}"],"data":"${"x".repeat(100)}"}\n`,
      );
    const [sparse, common] = [line("sparse"), line("common")];
    const batch = new Uint8Array(1000 * sparse.length);
    for (let i = 0; i < 1000; i++) {
      batch.set(i % every === 0 ? sparse : common, i * sparse.length);
    }
    const peak = peakRssWhile(server, async () => {
      for (let sent = 0; sent < count; sent += 1000) {
        await writeAll(publisher, batch);
      }
      await writeAll(publisher, encoder.encode(`{"command":"ping"}\n`));
      await readUntil(publisher, "pong");
    });
    const rssGrowth = Math.max(await peak, await server.rss()) - before;
    const queuedBytes = await server.metric("mist_queue_bytes");
    return { rssGrowth, queuedBytes };
  } finally {
    closeAll([stalled, publisher]);
  }
}

/** The highest RSS seen while `work` runs, sampled every 100 ms. */
async function peakRssWhile(
  server: FaultServer,
  work: () => Promise<void>,
): Promise<number> {
  let done = false;
  const working = work().finally(() => done = true);
  let peak = 0;
  while (!done) {
    peak = Math.max(peak, await server.rss());
    await Promise.race([sleep(100), working]);
  }
  await working;
  return peak;
}

/** A raw WebSocket on a `ws://` listener, subscribed to a tag, confirmed by a pong. */
async function wsSubscriber(url: string, tag: string): Promise<Deno.TcpConn> {
  const conn = await Deno.connect(hostPort(url));
  await writeAll(
    conn,
    upgradeRequest(),
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

/**
 * Row 7: `subscribers` WebSocket subscribers on `ws://` (or the `http://`
 * upgrade) stop reading after a burst; then the server idles.
 */
export async function stalledWs(
  server: FaultServer,
  subscribers: number,
  idleMs = 2000,
  scheme: "ws" | "http" = "ws",
): Promise<StalledWs> {
  const url = server.url(scheme);
  const conns: Deno.Conn[] = [];
  try {
    await openInBatches(subscribers, () => wsSubscriber(url, "stall"), conns);
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

/**
 * How a churned WebSocket client leaves: `frame`, a browser's WebSocket that
 * sends a close frame and waits for the server's; `drop`, a raw client that
 * hangs up its TCP connection without a close frame (a tab killed, a network
 * gone): on Deno's `upgradeWebSocket` only the close frame cancels its
 * idle-timeout ping timer, which holds the closed socket until it fires.
 */
export type ChurnClose = "frame" | "drop";

async function churn(
  url: string,
  total: number,
  close: ChurnClose = "frame",
  parallel = 8,
): Promise<void> {
  let started = 0;
  const one = async () => {
    while (started < total) {
      started++;
      if (close === "drop") {
        await pingAndDrop(url);
        continue;
      }
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

/** A raw WebSocket client: upgrade, ping, pong, then a TCP close without a close frame. */
async function pingAndDrop(url: string): Promise<void> {
  const conn = await Deno.connect(hostPort(url));
  try {
    await writeAll(
      conn,
      upgradeRequest(),
    );
    await readUntil(conn, "\r\n\r\n");
    // One masked text frame (mask 0: the payload as is).
    const ping = encoder.encode(`{"command":"ping"}`);
    await writeAll(
      conn,
      new Uint8Array([0x81, 0x80 | ping.length, 0, 0, 0, 0, ...ping]),
    );
    await readUntil(conn, "pong");
  } finally {
    conn.close();
  }
}

/**
 * Row 8: `total` WebSocket clients connect to the `ws://` listener (or the
 * `http://` listener's upgrade), ping and close, as `close` says.
 */
export async function wsChurn(
  server: FaultServer,
  total: number,
  collectable = false,
  scheme: "ws" | "http" = "ws",
  close: ChurnClose = "frame",
): Promise<WsChurn> {
  const url = server.url(scheme).replace(/^http/, "ws");
  await churn(url, 500, close); // warm-up: code, caches and pools settle
  await sleep(500);
  const rss0 = await server.rss();
  const heap = () =>
    collectable ? server.heapAfterGc() : server.metric("mist_heap_used_bytes");
  const heap0 = await heap();
  await churn(url, total, close);
  await sleep(2000);
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
