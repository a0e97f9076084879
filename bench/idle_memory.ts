/**
 * Memory per idle subscribed TCP connection: starts a mist server in a
 * subprocess, opens N connections that each subscribe to a tag of their own
 * and confirm with a ping, holds them idle, and reports the server's RSS
 * (VmRSS, Linux) before and after, per connection.
 *
 *   deno run -A bench/idle_memory.ts [N=5000] [hold seconds=3] [-- server flags...]
 *
 * Extra arguments after `--` go to `deno run` before `cli.ts` (e.g.
 * `--v8-flags=--max-semi-space-size=2`). Needs `ulimit -n` above N.
 *
 * @module
 */

import { writeAllSync } from "../src/_util/io.ts";

const split = Deno.args.indexOf("--");
const own = split < 0 ? Deno.args : Deno.args.slice(0, split);
const extra = split < 0 ? [] : Deno.args.slice(split + 1);
const count = Number(own[0] ?? 5000);
const holdMs = Number(own[1] ?? 3) * 1000;

function freePort(): number {
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (probe.addr as Deno.NetAddr).port;
  probe.close();
  return port;
}

function rssKb(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const port = freePort();
const cli =
  new URL(Deno.env.get("IDLE_CLI") ?? "../cli.ts", import.meta.url).pathname;
const server = new Deno.Command(Deno.execPath(), {
  args: [
    "run",
    "-A",
    ...extra,
    cli,
    "--server",
    "--listeners",
    `tcp://127.0.0.1:${port}`,
  ],
  stdout: "null",
  stderr: "inherit",
}).spawn();

async function connect(): Promise<Deno.TcpConn> {
  for (let i = 0; i < 200; i++) {
    try {
      return await Deno.connect({ hostname: "127.0.0.1", port });
    } catch {
      await sleep(50);
    }
  }
  throw new Error("the server did not start");
}

const encoder = new TextEncoder();
/** Sends `lines`, the last a ping, and waits for its pong (a subscription without an id has no reply). */
async function exchange(conn: Deno.TcpConn, lines: string[]): Promise<void> {
  await conn.write(encoder.encode(lines.map((l) => l + "\n").join("")));
  const buffer = new Uint8Array(4096);
  let seen = 0;
  while (seen < 1) {
    const n = await conn.read(buffer);
    if (n === null) throw new Error("closed by the server");
    for (let i = 0; i < n; i++) if (buffer[i] === 10) seen++;
  }
}

const ping = JSON.stringify({ command: "ping" });
(await connect()).close();
await sleep(500);
const before = rssKb(server.pid);
const conns: Deno.TcpConn[] = [];
const started = performance.now();
for (let i = 0; i < count; i += 50) {
  const batch = await Promise.all(
    Array.from({ length: Math.min(50, count - i) }, async (_, j) => {
      const conn = await connect();
      const tag = `c${String(i + j).padStart(6, "0")}`;
      const sub = JSON.stringify({ command: "subscribe", tags: [tag] });
      await exchange(conn, [sub, ping]);
      return conn;
    }),
  );
  conns.push(...batch);
}
const openS = (performance.now() - started) / 1000;
await sleep(holdMs);
await Promise.all(conns.map((c) => exchange(c, [ping])));
const after = rssKb(server.pid);
writeAllSync(
  Deno.stdout,
  new TextEncoder().encode(
    JSON.stringify({
      conns: count,
      openS: Number(openS.toFixed(1)),
      rssBeforeMB: Number((before / 1024).toFixed(1)),
      rssAfterMB: Number((after / 1024).toFixed(1)),
      kbPerConn: Number(((after - before) / count).toFixed(2)),
      flags: extra,
    }) + "\n",
  ),
);
for (const c of conns) c.close();
server.kill();
await server.status;
