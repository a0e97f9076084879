/**
 * The subscription flood of issue 11: connections that each subscribe over
 * and over to 64 distinct tags of 1,000 bytes (every request within the
 * default limits). Starts `mist --server` as a child process, floods it, and
 * prints what was accepted and refused and the server's resident memory
 * (now and peak, from /proc), so that the budget's bound shows in figures.
 *
 * ```sh
 * deno run -A bench/subscription_flood.ts --connections 8 --subscriptions 1000
 * deno run -A bench/subscription_flood.ts --cli ../other/cli.ts  # another build
 * deno run -A bench/subscription_flood.ts --heap 128  # the server's V8 heap capped (MiB)
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import { writeAll, writeAllSync } from "../src/_util/io.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    cli: {
      type: "string",
      default: new URL("../cli.ts", import.meta.url).pathname,
    },
    connections: { type: "string", default: "8" },
    subscriptions: { type: "string", default: "1000" },
    batch: { type: "string", default: "50" },
    heap: { type: "string" },
  },
});
const connections = Number(values.connections);
const subscriptions = Number(values.subscriptions);
const batch = Number(values.batch);

function print(text: string): void {
  writeAllSync(Deno.stdout, new TextEncoder().encode(text + "\n"));
}

function memory(pid: number): { rss: number; peak: number } {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kib = (field: string) =>
    Number(status.match(new RegExp(`${field}:\\s+(\\d+) kB`))?.[1] ?? 0);
  return { rss: kib("VmRSS") / 1024, peak: kib("VmHWM") / 1024 };
}

const server = new Deno.Command(Deno.execPath(), {
  args: [
    "run",
    "-A",
    ...(values.heap === undefined
      ? []
      : [`--v8-flags=--max-old-space-size=${values.heap}`]),
    values.cli!,
    "--server",
    "--listeners",
    "tcp://127.0.0.1:0",
  ],
  stdout: "null",
  stderr: "piped",
}).spawn();
const lines = server.stderr.pipeThrough(new TextDecoderStream()).getReader();
let head = "";
let port = 0;
while (port === 0) {
  const { value, done } = await lines.read();
  if (done) throw new Error(`the server ended: ${head}`);
  head += value;
  port = Number(head.match(/tcp:\/\/127\.0\.0\.1:(\d+)/)?.[1] ?? 0);
}
// Keep reading its log so that it never blocks on a full pipe.
(async () => {
  while (!(await lines.read()).done);
})();

const idle = memory(server.pid);
const encoder = new TextEncoder();
const BUDGET = "too many subscriptions: server budget reached";
let accepted = 0, refused = 0, listed = 0;
const errors = new Map<string, number>();
const started = performance.now();

async function flood(c: number): Promise<void> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const reader = conn.readable.getReader();
  const decoder = new TextDecoder();
  let pending = "";
  const replies = async (count: number, list = false) => {
    while (count > 0) {
      const { value, done } = await reader.read();
      if (done) throw new Error("the server closed a connection");
      pending += decoder.decode(value, { stream: true });
      let end: number;
      while ((end = pending.indexOf("\n")) >= 0) {
        const tail = pending.slice(Math.max(0, end - 120), end);
        pending = pending.slice(end + 1);
        count--;
        const error = tail.match(/"error":"([^"]*)"/)?.[1];
        if (list) listed += error === undefined ? 1 : 0;
        else if (error === undefined) accepted++;
        else {
          refused++;
          const kind = error.startsWith(BUDGET) ? BUDGET : error.split(":")[0]!;
          errors.set(kind, (errors.get(kind) ?? 0) + 1);
        }
      }
    }
  };
  for (let s = 0; s < subscriptions; s += batch) {
    let text = "";
    const n = Math.min(batch, subscriptions - s);
    for (let i = 0; i < n; i++) {
      const tags = Array.from(
        { length: 64 },
        (_, t) => `${c}-${s + i}-${t}-`.padEnd(1000, "x"),
      );
      text += JSON.stringify({ command: "subscribe", tags, id: s + i }) +
        "\n";
    }
    await writeAll(conn, encoder.encode(text));
    await replies(n);
  }
  await writeAll(conn, encoder.encode('{"command":"list","id":"l"}\n'));
  await replies(1, true);
  conn.close();
}

let outcome = "the server answered every request";
try {
  await Promise.all(Array.from({ length: connections }, (_, c) => flood(c)));
} catch (err) {
  outcome = `failed: ${err}`;
}
const seconds = (performance.now() - started) / 1000;
let after: { rss: number; peak: number } | string;
try {
  after = memory(server.pid);
  if (after.rss === 0) after = "the server is gone";
} catch {
  after = "the server is gone";
}
print(
  `${connections} connections × ${subscriptions} subscriptions of 64 × 1,000-byte tags`,
);
print(`  ${outcome}, in ${seconds.toFixed(1)} s; ${listed} list replies`);
print(
  `  accepted ${accepted}, refused ${refused} ${
    JSON.stringify(Object.fromEntries(errors))
  }`,
);
print(`  server RSS idle ${idle.rss.toFixed(0)} MiB`);
print(
  typeof after === "string"
    ? `  ${after}`
    : `  server RSS after ${after.rss.toFixed(0)} MiB, peak ${
      after.peak.toFixed(0)
    } MiB`,
);
try {
  server.kill("SIGTERM");
} catch {
  // Already gone.
}
await server.status;
