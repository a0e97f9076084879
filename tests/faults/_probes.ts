/**
 * Short reproductions of issue 11's other rows, for bench/faults.ts: each
 * against a running {@linkcode FaultServer} of any tree, each returning the
 * figure as text. Their tests are elsewhere (tests/faults/README.md); these
 * only measure, so that the old tree and the new can be put side by side.
 *
 * @module
 */

import { writeAll } from "../../src/_util/io.ts";
import { sleep } from "../../src/_util/deadline.ts";
import {
  type FaultServer,
  hostPort,
  readUntil,
  upgradeRequest,
} from "./_fault_server.ts";

const encoder = new TextEncoder();
const MiB = 1024 * 1024;

const mib = (bytes: number) => `${(bytes / MiB).toFixed(0)} MiB`;

function closeAll(conns: Iterable<Deno.Conn>): void {
  for (const conn of conns) {
    try {
      conn.close();
    } catch {
      // Closed already.
    }
  }
}

async function answers(server: FaultServer): Promise<boolean> {
  try {
    const conn = await Deno.connect({
      ...hostPort(server.url("tcp")),
      signal: AbortSignal.timeout(1000),
    });
    try {
      await writeAll(conn, encoder.encode(`{"command":"ping"}\n`));
      await readUntil(conn, "pong");
    } finally {
      conn.close();
    }
    const response = await fetch(`${server.url("http")}/ping`, {
      signal: AbortSignal.timeout(1000),
    });
    return (await response.text()).startsWith("pong");
  } catch {
    return false;
  }
}

function openFiles(pid: number): number {
  return [...Deno.readDirSync(`/proc/${pid}/fd`)].length;
}

/** Row 1: descriptors run out (prlimit), a flood on tcp:// and http://, then freed. */
export async function emfile(server: FaultServer): Promise<string> {
  const pid = server.child.pid;
  const limit = openFiles(pid) + 16;
  await new Deno.Command("prlimit", {
    args: ["--pid", String(pid), `--nofile=${limit}:${limit}`],
  }).output();
  const flood: Deno.Conn[] = [];
  try {
    for (let i = 0; i < 40; i++) {
      for (const url of [server.url("tcp"), server.url("http")]) {
        try {
          flood.push(
            await Deno.connect({
              ...hostPort(url),
              signal: AbortSignal.timeout(300),
            }),
          );
        } catch {
          // The accept queue is full.
        }
      }
    }
    // Something must try to accept while descriptors are out.
    await fetch(`${server.url("http")}/ping`, {
      signal: AbortSignal.timeout(500),
    }).then((r) => r.body?.cancel(), () => {});
    await sleep(500);
  } finally {
    closeAll(flood);
  }
  if (!server.alive) return `process exited (${server.status?.code})`;
  const start = performance.now();
  while (performance.now() - start < 15_000) {
    if (await answers(server)) {
      return `survived; tcp:// and http:// answer again after ${
        Math.round(performance.now() - start)
      } ms`;
    }
    if (!server.alive) return `process exited (${server.status?.code})`;
    await sleep(200);
  }
  return "survived, but tcp:// or http:// still not answering after 15 s";
}

/** Row 2: connections that never send their request head to ws:// or http://. */
export async function silentHeads(
  server: FaultServer,
  count: number,
  waitMs: number,
  scheme: "ws" | "http" = "ws",
): Promise<string> {
  const conns = await Promise.all(
    Array.from(
      { length: count },
      () => Deno.connect(hostPort(server.url(scheme))),
    ),
  );
  let closed = 0;
  let done = false; // reads ended by our own close below do not count
  const reads = conns.map(async (conn) => {
    try {
      if (await conn.read(new Uint8Array(1024)) === null && !done) closed++;
    } catch {
      if (!done) closed++;
    }
  });
  await sleep(waitMs);
  done = true;
  closeAll(conns);
  await Promise.all(reads);
  return `${closed} of ${count} closed by the server within ${waitMs / 1000} s`;
}

/** Rows 4 and 5: one connection makes `count` subscriptions of 64 tags of 1,000 bytes, then `list`. */
export async function subscriptionFlood(
  server: FaultServer,
  count: number,
): Promise<string> {
  const before = await server.rss();
  const conn = await Deno.connect(hostPort(server.url("tcp")));
  try {
    const request = (i: number) =>
      JSON.stringify({
        command: "subscribe",
        tags: Array.from(
          { length: 64 },
          (_, t) => `${String(i).padStart(6, "0")}${t}`.padEnd(1000, "x"),
        ),
      }) + "\n";
    // Read the replies while writing: a server that stops reading a client
    // who does not read its replies must not stall the probe.
    const reading = (async () => {
      const buffer = new Uint8Array(64 * 1024);
      const decoder = new TextDecoder();
      let refused = 0;
      let tail = "";
      while (true) {
        const n = await conn.read(buffer);
        if (n === null) throw new Error("closed during the flood");
        const text = tail + decoder.decode(buffer.subarray(0, n));
        refused += text.split('"error":').length - 1;
        if (text.includes('"pong"')) return refused;
        tail = text.slice(-16).replaceAll('"error":', "");
      }
    })();
    for (let i = 0; i < count; i += 100) {
      let batch = "";
      for (let j = i; j < Math.min(count, i + 100); j++) batch += request(j);
      await writeAll(conn, encoder.encode(batch));
    }
    await writeAll(conn, encoder.encode(`{"command":"ping"}\n`));
    const refused = await reading;
    const grown = (await server.rss()) - before;
    await writeAll(conn, encoder.encode(`{"command":"list"}\n`));
    const list = (await readUntil(conn, "\n")).split("\n")[0]!;
    const listed = list.includes('"error"')
      ? `list: ${list.slice(0, 60)}`
      : `list answered (${mib(list.length)})`;
    return `RSS +${mib(grown)}, ${refused} of ${count} refused; ${listed}`;
  } finally {
    conn.close();
  }
}

/** Row 6: `clients` WebSockets each send 59 MiB of one 60 MiB frame and hold it. */
export async function hugeFrames(
  server: FaultServer,
  scheme: "ws" | "http",
  clients: number,
): Promise<string> {
  const before = await server.rss();
  const conns: Deno.Conn[] = [];
  try {
    for (let i = 0; i < clients; i++) {
      const conn = await Deno.connect(hostPort(server.url(scheme)));
      conns.push(conn);
      await writeAll(
        conn,
        upgradeRequest(),
      );
      await readUntil(conn, "\r\n\r\n");
      const header = new Uint8Array(14);
      header[0] = 0x81;
      header[1] = 0x80 | 127;
      new DataView(header.buffer).setBigUint64(2, BigInt(60 * MiB));
      // header[10..14]: a mask of zeros
      await writeAll(conn, header);
      const piece = new Uint8Array(MiB).fill(0x61);
      for (let sent = 0; sent < 59; sent++) {
        try {
          await writeAll(conn, piece);
        } catch {
          break; // the server closed it: the frame was refused
        }
      }
    }
    await sleep(1000);
    return `RSS +${mib((await server.rss()) - before)}`;
  } finally {
    closeAll(conns);
  }
}

/** Row 10: 50 `POST /publish` that announce 1,000 bytes, send 14 and hang up. */
export async function abortedPosts(server: FaultServer): Promise<string> {
  const seen = server.lines.length;
  for (let i = 0; i < 50; i++) {
    const conn = await Deno.connect(hostPort(server.url("http")));
    await writeAll(
      conn,
      encoder.encode(
        "POST /publish?tags=t HTTP/1.1\r\nHost: localhost\r\n" +
          'Content-Length: 1000\r\n\r\n{"data":"abcd"',
      ),
    );
    await sleep(5);
    conn.close();
  }
  await sleep(1000);
  const lines = server.lines.slice(seen);
  const errors = lines.filter((l) => /ERROR/.test(l)).length;
  return `${errors} ERROR lines, ${lines.length} lines in all`;
}

/** Row 11: the correlation id `1e400`. */
export async function infiniteId(server: FaultServer): Promise<string> {
  const conn = await Deno.connect(hostPort(server.url("tcp")));
  try {
    await writeAll(conn, encoder.encode(`{"command":"ping","id":1e400}\n`));
    return (await readUntil(conn, "\n")).split("\n")[0]!;
  } finally {
    conn.close();
  }
}

/** Row 13: a foreign page's WebSocket upgrade and `no-cors` publish. */
export async function foreignOrigin(server: FaultServer): Promise<string> {
  const origin = "http://evil.example";
  const conn = await Deno.connect(hostPort(server.url("ws")));
  let upgrade: string;
  try {
    await writeAll(
      conn,
      upgradeRequest(`Origin: ${origin}\r\n`),
    );
    upgrade = (await readUntil(conn, "\r\n")).split("\r\n")[0]!;
  } finally {
    conn.close();
  }
  const response = await fetch(`${server.url("http")}/publish?tags=t`, {
    method: "POST",
    headers: { origin, "content-type": "text/plain" },
    body: '{"tags":["t"],"data":"x"}',
  });
  await response.body?.cancel();
  return `ws:// upgrade: ${
    upgrade.split(" ")[1]
  }; POST /publish: ${response.status}`;
}

/** Row 15: SIGHUP, then (on a new process) two SIGINTs during a drain held by a stalled subscriber. */
export async function sighup(server: FaultServer): Promise<string> {
  server.kill("SIGHUP");
  await sleep(1000);
  return server.alive
    ? "survived SIGHUP"
    : `exited ${server.status?.code} on SIGHUP`;
}

/** Row 16: slow-consumer drops (a stalled subscriber, a 24 MB burst, then it reads) are logged. */
export async function dropsLogged(server: FaultServer): Promise<string> {
  const seen = server.lines.length;
  const url = server.url("tcp");
  const slow = await Deno.connect(hostPort(url));
  try {
    await writeAll(
      slow,
      encoder.encode(
        `{"command":"subscribe","tags":["d"]}\n{"command":"ping"}\n`,
      ),
    );
    await readUntil(slow, "pong");
    const pub = await Deno.connect(hostPort(url));
    const line = encoder.encode(
      `{"command":"publish","tags":["d"],"data":"${"x".repeat(1_000_000)}"}\n`,
    );
    for (let i = 0; i < 24; i++) await writeAll(pub, line);
    await writeAll(pub, encoder.encode(`{"command":"ping"}\n`));
    await readUntil(pub, "pong");
    pub.close();
    // Now it reads again: the queue drains and the drop is reported.
    await readUntil(slow, '"dropped"').catch(() => {});
    await sleep(500);
  } finally {
    slow.close();
  }
  const logged = server.lines.slice(seen).filter((l) =>
    /drop|slow consumer/i.test(l)
  );
  return `${logged.length} log lines about drops`;
}
