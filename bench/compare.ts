/**
 * `deno task bench:compare`: the scenarios of `mist bench`, through the same
 * load generator (src/cli/bench.ts and its workers), against a mist server
 * and a redis-server this script starts on free ports, one after the other
 * in one sitting; prints a table of the figures and their ratios. Redis is
 * spoken through the workers' small RESP dialect (SUBSCRIBE, PUBLISH, PING).
 * Without `redis-server` on the PATH (or `MIST_REDIS_SERVER`) only mist runs.
 *
 * ```sh
 * deno task bench:compare [--duration 3] [--scenarios fanout,routing,latency,idle]
 * ```
 *
 * Not a `*_bench.ts` file: `deno task bench` does not run it.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { writeAllSync } from "../src/_util/io.ts";
import { type BenchOptions, runBench } from "../src/cli/bench.ts";
import { type BenchResult, SCENARIOS, table } from "../src/cli/bench_report.ts";

function print(text: string): void {
  writeAllSync(Deno.stdout, text);
}

const { values } = parseArgs({
  args: Deno.args,
  options: {
    duration: { type: "string", default: "3" },
    scenarios: { type: "string", default: SCENARIOS.join(",") },
    json: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  },
});
if (values.help) {
  print(
    `Usage: deno task bench:compare [--duration S] [--scenarios a,b] [--json]
  --duration S     seconds per scenario and server (default 3)
  --scenarios L    which of ${SCENARIOS.join(", ")} (default all)
  --json           print the results as one JSON document
`,
  );
  Deno.exit(0);
}
const durationS = Number(values.duration);
const scenarios = values.scenarios.split(",").map((s) => s.trim());
if (!(durationS > 0) || scenarios.some((s) => !SCENARIOS.includes(s))) {
  print(`bench:compare: bad --duration or --scenarios\n`);
  Deno.exit(2);
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close();
  return port;
}

async function waitForPort(port: number, child: Deno.ChildProcess) {
  const end = Date.now() + 30_000;
  let exited = false;
  child.status.then(() => exited = true);
  while (Date.now() < end && !exited) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  throw new Error(`nothing answered on port ${port}`);
}

function redisBinary(): string | undefined {
  const candidate = Deno.env.get("MIST_REDIS_SERVER") ?? "redis-server";
  try {
    const ok = new Deno.Command(candidate, {
      args: ["--version"],
      stdout: "null",
      stderr: "null",
    }).outputSync().success;
    return ok ? candidate : undefined;
  } catch {
    return undefined;
  }
}

const children: Deno.ChildProcess[] = [];
function start(command: string, args: string[]): Deno.ChildProcess {
  const child = new Deno.Command(command, {
    args,
    stdin: "null",
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  children.push(child);
  return child;
}

/** The targets of one run: a name, the URL and the dialect. */
interface Target {
  name: string;
  url: URL;
  protocol: BenchOptions["protocol"];
}

const tcpPort = freePort();
const wsPort = freePort();
const targets: Target[] = [
  {
    name: "mist tcp",
    url: new URL(`tcp://127.0.0.1:${tcpPort}`),
    protocol: "mist",
  },
  {
    name: "mist ws",
    url: new URL(`ws://127.0.0.1:${wsPort}/subscribe/websocket`),
    protocol: "mist",
  },
];
const results: Record<string, Record<string, BenchResult>> = {};
try {
  const mist = start(Deno.execPath(), [
    "run",
    // As `deno task start` and the compiled binary run it (docs/operations.md).
    "--v8-flags=--max-semi-space-size=8",
    "--allow-all",
    new URL("../cli.ts", import.meta.url).pathname,
    "--server",
    "--listeners",
    `tcp://127.0.0.1:${tcpPort},ws://127.0.0.1:${wsPort}`,
    "--log-level",
    "WARN",
  ]);
  await waitForPort(tcpPort, mist);
  await waitForPort(wsPort, mist);
  const redis = redisBinary();
  if (redis !== undefined) {
    const port = freePort();
    const child = start(redis, [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "no",
      "--loglevel",
      "warning",
    ]);
    await waitForPort(port, child);
    targets.push({
      name: "redis",
      url: new URL(`tcp://127.0.0.1:${port}`),
      protocol: "resp",
    });
  } else {
    print("redis-server is not installed: mist only\n");
  }
  for (const scenario of scenarios) {
    results[scenario] = {};
    for (const target of targets) {
      if (!values.json) print(`${scenario} on ${target.name}…\n`);
      results[scenario][target.name] = await runBench({
        scenario,
        url: target.url,
        protocol: target.protocol,
        wsLines: "auto",
        durationS,
        rate: scenario === "latency" ? 1000 : 0,
        subscribers: { fanout: 10, routing: 100, latency: 10, idle: 1000 }[
          scenario
        ]!,
        payloadBytes: 100,
        workers: Math.max(1, navigator.hardwareConcurrency - 1),
      });
    }
  }
} finally {
  for (const child of children) {
    try {
      child.kill("SIGTERM");
    } catch {
      // Already gone.
    }
    await child.status;
  }
}

if (values.json) {
  print(JSON.stringify(results) + "\n");
} else {
  const names = targets.map((t) => t.name);
  const hasRedis = names.includes("redis");
  const rows: string[][] = [[
    "scenario",
    "figure",
    ...names,
    ...(hasRedis ? ["tcp/redis", "ws/redis"] : []),
  ]];
  const figures: [string, (r: BenchResult) => number, string][] = [
    ["deliveries/s", (r) => r.deliveriesPerSecond, "fanout routing"],
    ["lost", (r) => r.lost, "fanout routing latency"],
    ["dropped", (r) => r.dropped, "fanout routing latency"],
    ["p50 ms", (r) => r.latencyMs.p50, "fanout routing latency"],
    ["p99 ms", (r) => r.latencyMs.p99, "fanout routing latency"],
    ["p99.9 ms", (r) => r.latencyMs.p999, "latency"],
    ["open s", (r) => r.openSeconds ?? 0, "idle"],
    ["answered", (r) => r.answered ?? 0, "idle"],
  ];
  for (const scenario of scenarios) {
    for (const [figure, value, where] of figures) {
      if (!where.split(" ").includes(scenario)) continue;
      const row = names.map((name) => value(results[scenario]![name]!));
      const ratio = (a: number, b: number) =>
        b === 0 ? (a === 0 ? "1.00" : "-") : (a / b).toFixed(2);
      rows.push([
        scenario,
        figure,
        ...row.map((v) => String(v)),
        ...(hasRedis ? [ratio(row[0]!, row[2]!), ratio(row[1]!, row[2]!)] : []),
      ]);
    }
  }
  print(
    `\n${durationS} s per run, 100-byte payloads; fanout 10 subscribers, ` +
      `routing 100 connections x 10 tags, latency 10 subscribers at ` +
      `1000/s, idle 1000 connections; a ratio is mist's figure over ` +
      `Redis's: above 1 is better for deliveries/s, below 1 for times\n\n` +
      table(rows),
  );
}
