/**
 * Issue 11's fault table, measured: each row's reproduction against the
 * program of one or more trees, a fresh `deno run -A DIR/cli.ts --server` per
 * row, and the figure it gives (RSS growth, CPU, time to recover, whether the
 * process survived). Not part of `deno task bench`.
 *
 *     deno run -A bench/faults.ts --tree /work/wt-old --tree .
 *
 * A row that needs a flag a tree lacks runs without it ("n/a" when there is
 * nothing close). Rows that need Redis or the client library are left to
 * their tests (tests/faults/README.md).
 *
 * @module
 */

import { writeAllSync } from "../src/_util/io.ts";
import {
  FaultServer,
  stalledSparse,
  stalledTcp,
  stalledWs,
  vanished,
  wsChurn,
} from "../tests/faults/_rows.ts";
import {
  abortedPosts,
  dropsLogged,
  emfile,
  foreignOrigin,
  hugeFrames,
  infiniteId,
  sighup,
  silentHeads,
  subscriptionFlood,
} from "../tests/faults/_probes.ts";

const MiB = 1024 * 1024;
const mib = (bytes: number) => `${(bytes / MiB).toFixed(0)} MiB`;

function say(text: string): void {
  writeAllSync(Deno.stdout, new TextEncoder().encode(text + "\n"));
}

const trees: string[] = [];
const only: string[] = [];
for (let i = 0; i < Deno.args.length; i++) {
  if (Deno.args[i] === "--tree") trees.push(Deno.realPathSync(Deno.args[++i]!));
  else if (Deno.args[i] === "--row") only.push(Deno.args[++i]!);
}
if (trees.length === 0) {
  say("usage: deno run -A bench/faults.ts --tree DIR [--tree DIR] [--row N]");
  Deno.exit(2);
}

/** One tree: its cli.ts and the server flags its help names. */
interface Tree {
  dir: string;
  cli: string;
  has(flag: string): boolean;
}

async function tree(dir: string): Promise<Tree> {
  const cli = `${dir}/cli.ts`;
  const { stdout } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", cli, "--server", "--help"],
    stderr: "null",
  }).output();
  const help = new TextDecoder().decode(stdout);
  return { dir, cli, has: (flag) => help.includes(`--${flag}`) };
}

type Measure = (tree: Tree) => Promise<string>;

/** Runs `measure` on a fresh server of the tree; the figure, and whether it survived. */
function onServer(
  flags: (tree: Tree) => string[],
  measure: (server: FaultServer, tree: Tree) => Promise<string>,
): Measure {
  return async (tree) => {
    await using server = await FaultServer.start(tree.cli, flags(tree));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<string>((resolve) => {
      timer = setTimeout(
        () => resolve(`no figure within ${ROW_TIMEOUT_MS / 1000} s`),
        ROW_TIMEOUT_MS,
      );
    });
    try {
      const figure = await Promise.race([measure(server, tree), late]);
      return server.alive ? figure : `${figure}; process EXITED`;
    } finally {
      clearTimeout(timer);
    }
  };
}

/** A row that takes longer is cut short (its server is killed) and says so. */
const ROW_TIMEOUT_MS = 60_000;

const none = () => [];
const ROWS: [string, Measure][] = [
  ["1 EMFILE flood on tcp:// and http://", onServer(none, emfile)],
  ...(["ws", "http"] as const).map((scheme): [string, Measure] => [
    `2 100 connections that never send a request head (${scheme}://)`,
    onServer(
      (t) => t.has("request-timeout") ? ["--request-timeout", "1"] : [],
      (s, t) =>
        silentHeads(s, 100, 3000, scheme).then((f) =>
          t.has("request-timeout") ? `${f} (request-timeout 1)` : f
        ),
    ),
  ]),
  [
    "3 600 TCP subscribers stop reading, 16 MB burst",
    onServer(none, async (s) => {
      const r = await stalledTcp(s, 600, 16, 1_000_000);
      return `RSS +${mib(r.rssGrowth)}`;
    }),
  ],
  [
    "4/5 one connection: 1,500 subscribes of 64 × 1,000-byte tags, then list",
    onServer(none, (s) => subscriptionFlood(s, 1500)),
  ],
  [
    "6 8 WebSockets send 59 MiB of a 60 MiB frame (ws://)",
    onServer(none, (s) => hugeFrames(s, "ws", 8)),
  ],
  [
    "6 8 WebSockets send 59 MiB of a 60 MiB frame (http:// upgrade)",
    onServer(none, (s) => hugeFrames(s, "http", 8)),
  ],
  [
    "7 300 WebSocket subscribers stalled (ws://), then 2 s idle",
    onServer(none, async (s) => {
      const r = await stalledWs(s, 300, 2000, "ws");
      return `${r.idleCpuPercent.toFixed(0)} % of a core idle; RSS +${
        mib(r.rssGrowth)
      }`;
    }),
  ],
  [
    "7 300 WebSocket subscribers stalled (http:// upgrade), then 2 s idle",
    onServer(none, async (s) => {
      const r = await stalledWs(s, 300, 2000, "http");
      return `${r.idleCpuPercent.toFixed(0)} % of a core idle; RSS +${
        mib(r.rssGrowth)
      }`;
    }),
  ],
  [
    "8 4,000 WebSockets connect, ping, close (with a close frame, or hang up)",
    async (t) => {
      await using server = await FaultServer.startCollectable(t.dir);
      const figures = [];
      for (const scheme of ["ws", "http"] as const) {
        for (const close of ["frame", "drop"] as const) {
          const r = await wsChurn(server, 4000, true, scheme, close);
          figures.push(
            `${scheme} ${close}: heap after GC +${
              (r.heapGrowth! / MiB).toFixed(1)
            } MiB, RSS +${mib(r.rssGrowth)}, ${r.open ?? "?"} left open`,
          );
        }
      }
      return figures.join("; ");
    },
  ],
  [
    "9 100 subscribers behind a proxy gone silent",
    onServer(
      (t) => t.has("idle-timeout") ? ["--idle-timeout", "1"] : [],
      async (s, t) => {
        const r = await vanished(s, 100, 5000);
        const how = t.has("idle-timeout") ? " (idle-timeout 1)" : "";
        return r.recoveredMs === undefined
          ? `${r.metricOpen} still counted after 5 s${how}`
          : `all closed after ${(r.recoveredMs / 1000).toFixed(1)} s${how}; ` +
            `who: ${r.whoOpen ?? "n/a"}, /metrics: ${r.metricOpen}`;
      },
    ),
  ],
  ["10 50 POST /publish cut short", onServer(none, abortedPosts)],
  ["11 id 1e400", onServer(none, infiniteId)],
  [
    "12 node cut off from Redis while a grant is revoked",
    () =>
      Promise.resolve("n/a here (Redis): tests/cluster/cluster_relink_test.ts"),
  ],
  ["13 foreign Origin, auth off", onServer(none, foreignOrigin)],
  [
    "14 a revoked subscription, client side",
    () =>
      Promise.resolve(
        "n/a here (client library): src/client/subscription_registry_test.ts",
      ),
  ],
  ["15 SIGHUP", onServer(none, sighup)],
  ["16 slow-consumer drops logged", onServer(none, dropsLogged)],
  [
    "17 a TCP subscriber of 1 message in 25 stops reading; 2 million publishes",
    onServer(none, async (s) => {
      const r = await stalledSparse(s, 2_000_000, 25);
      return `RSS +${mib(r.rssGrowth)}, ${mib(r.queuedBytes ?? 0)} queued`;
    }),
  ],
];

const loaded = await Promise.all(trees.map(tree));
say(`| row | ${loaded.map((t) => t.dir).join(" | ")} |`);
say(`| --- |${loaded.map(() => " --- |").join("")}`);
for (const [name, measure] of ROWS) {
  if (only.length > 0 && !only.some((n) => name.startsWith(`${n} `))) continue;
  const cells = [];
  for (const t of loaded) {
    try {
      cells.push(await measure(t));
    } catch (error) {
      cells.push(`failed: ${(error as Error).message.split("\n")[0]}`);
    }
  }
  say(`| ${name} | ${cells.join(" | ")} |`);
}
// A row cut short may leave its sockets waiting: do not wait for them.
Deno.exit(0);
