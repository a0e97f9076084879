/**
 * `mist bench`: load-tests a mist server. The clients run in Workers
 * (`bench_worker.ts`) speaking the wire protocol from raw sockets, so the
 * tool does not measure itself; this module parses the command line, hands
 * out the connections, follows the run and prints the result
 * (`bench_report.ts`).
 *
 * @module
 */

import { errorText } from "../_util/text.ts";
import { write } from "./_output.ts";
import { BENCH_HELP, type BenchOptions, parseBenchArgs } from "./bench_args.ts";
import {
  type BenchResult,
  expectedDeliveries,
  formatResult,
  Histogram,
  progressLine,
  summarize,
} from "./bench_report.ts";
import type { Job, Report } from "./bench_wire.ts";
import { EXIT } from "./exit.ts";

export { BENCH_HELP, type BenchOptions };

/** Subscriptions of each connection in `routing`. */
const ROUTING_TAGS = 10;

/**
 * Runs `mist bench`.
 *
 * @param args the arguments after `bench`
 * @returns the exit code
 */
export async function bench(args: readonly string[]): Promise<number> {
  let options: BenchOptions | undefined;
  let json = false;
  try {
    ({ options, json } = await parseBenchArgs(args));
  } catch (err) {
    write(
      Deno.stderr,
      `mist bench: ${errorText(err)} (see "mist bench --help")\n`,
    );
    return EXIT.usage;
  }
  if (options === undefined) {
    write(Deno.stdout, BENCH_HELP);
    return EXIT.ok;
  }
  const live = !json && Deno.stdout.isTerminal();
  if (live) options.onProgress = (line) => write(Deno.stdout, `\r${line}`);
  try {
    const result = await runBench(options);
    if (live) write(Deno.stdout, "\r\x1b[2K");
    write(
      Deno.stdout,
      json ? JSON.stringify(result) + "\n" : formatResult(result),
    );
    return EXIT.ok;
  } catch (err) {
    if (live) write(Deno.stdout, "\n");
    write(Deno.stderr, `mist bench: ${errorText(err)}\n`);
    return err instanceof ConnectError ? EXIT.unreachable : EXIT.serverError;
  }
}

/** The server could not be reached. */
export class ConnectError extends Error {
  override name = "ConnectError";
}

/** One worker, with the reports it sends awaited by type. */
class BenchWorker {
  readonly #worker = new Worker(
    new URL("./bench_worker.ts", import.meta.url),
    { type: "module" },
  );
  readonly #waiting = new Map<string, PromiseWithResolvers<Report>>();
  progress = { sent: 0, received: 0, dropped: 0 };
  #failed: Error | undefined;

  constructor() {
    this.#worker.onmessage = (event: MessageEvent<Report>) => {
      const report = event.data;
      if (report.type === "progress") this.progress = report;
      if (report.type === "error") return this.#fail(new Error(report.message));
      this.#waiting.get(report.type)?.resolve(report);
    };
    this.#worker.onerror = (event) => {
      event.preventDefault();
      this.#fail(new Error(event.message));
    };
  }

  #fail(err: Error): void {
    this.#failed = err;
    for (const waiting of this.#waiting.values()) waiting.reject(err);
  }

  /** Starts waiting for a report before the message that causes it is sent. */
  expect<T extends Report["type"]>(
    type: T,
    ms: number,
  ): Promise<Extract<Report, { type: T }>> {
    const waiting = Promise.withResolvers<Report>();
    if (this.#failed) waiting.reject(this.#failed);
    this.#waiting.set(type, waiting);
    const timer = setTimeout(
      () => waiting.reject(new Error(`a worker did not report "${type}"`)),
      ms,
    );
    return waiting.promise.finally(() => clearTimeout(timer)) as Promise<
      Extract<Report, { type: T }>
    >;
  }

  send(message: { type: string; job?: Job }): void {
    this.#worker.postMessage(message);
  }

  terminate(): void {
    this.#worker.terminate();
  }
}

/**
 * Runs one scenario against a server.
 *
 * @param options what to run
 * @returns the result document
 * @throws {ConnectError} when the clients cannot connect
 * @throws {Error} when the run fails midway
 */
export async function runBench(options: BenchOptions): Promise<BenchResult> {
  const { scenario, subscribers, durationS } = options;
  const prefix = `bench.${crypto.randomUUID().slice(0, 8)}`;
  const connections: string[][] = [];
  const publishTags: string[] = [];
  for (let i = 0; i < subscribers; i++) {
    connections.push(
      scenario === "routing"
        ? Array.from(
          { length: ROUTING_TAGS },
          (_, k) => `${prefix}.route.${i * ROUTING_TAGS + k}`,
        )
        : [scenario === "idle" ? `${prefix}.idle.${i}` : `${prefix}.one`],
    );
  }
  if (scenario === "routing") {
    for (let k = 0; k < ROUTING_TAGS; k++) {
      for (let i = 0; i < subscribers; i++) {
        publishTags.push(connections[i]![k]!);
      }
    }
  } else publishTags.push(`${prefix}.one`);

  const base: Omit<
    Job,
    "role" | "subscriptions" | "progress" | "slot" | "shares"
  > = {
    protocol: options.protocol,
    url: options.url.href,
    wsLines: options.wsLines,
    ...(options.token !== undefined ? { token: options.token } : {}),
    ...(options.caCerts !== undefined ? { caCerts: options.caCerts } : {}),
    publishTags,
    payloadBytes: options.payloadBytes,
    rate: options.rate,
    durationMs: durationS * 1000,
    sampleEvery: scenario === "latency" ? 1 : 16,
  };
  const count = Math.min(options.workers, subscribers);
  const progress = new SharedArrayBuffer(8 * count);
  const mine = (w: number) => connections.filter((_, i) => i % count === w);
  // Deliveries per publish of each worker: all its connections get every
  // publish, except in routing, where each gets its share of the tags.
  const shares = Array.from(
    { length: count },
    (_, w) =>
      scenario === "routing" ? mine(w).length / subscribers : mine(w).length,
  );
  const subs = Array.from({ length: count }, () => new BenchWorker());
  const all = [...subs];
  try {
    const opening = performance.now();
    const ready = await Promise.all(subs.map((worker, w) => {
      const ready = worker.expect("ready", 180_000);
      worker.send({
        type: "start",
        job: {
          ...base,
          role: "subscribe",
          subscriptions: mine(w),
          progress,
          slot: w,
          shares,
        },
      });
      return ready;
    })).catch((err) => {
      throw new ConnectError(
        `cannot connect to ${options.url}: ${errorText(err)}`,
      );
    });
    const openSeconds = (performance.now() - opening) / 1000;

    const started = performance.now();
    let publisher: BenchWorker | undefined;
    const follow = setInterval(() => {
      const p = sum(all.map((w) => w.progress));
      options.onProgress?.(progressLine({
        elapsed: (performance.now() - started) / 1000,
        duration: durationS,
        ...p,
      }));
    }, 250);
    let sent = 0;
    let elapsed = durationS;
    try {
      if (scenario === "idle") {
        await new Promise((resolve) => setTimeout(resolve, durationS * 1000));
      } else {
        publisher = new BenchWorker();
        all.push(publisher);
        const ready = publisher.expect("ready", 30_000);
        publisher.send({
          type: "start",
          job: {
            ...base,
            role: "publish",
            subscriptions: [],
            progress,
            slot: -1,
            shares,
          },
        });
        await ready.catch((err) => {
          throw new ConnectError(
            `cannot connect to ${options.url}: ${errorText(err)}`,
          );
        });
        const go = performance.now();
        const done = publisher.expect("done", durationS * 1000 + 60_000);
        publisher.send({ type: "go" });
        sent = (await done).sent;
        elapsed = (performance.now() - go) / 1000;
      }
    } finally {
      clearInterval(follow);
    }
    const results = await Promise.all(subs.map((worker) => {
      const done = worker.expect("done", 30_000);
      worker.send({ type: "stop" });
      return done;
    }));
    const histogram = new Histogram();
    for (const r of results) histogram.merge(r.histogram, r.max);
    const received = results.reduce((n, r) => n + r.received, 0);
    const expected = expectedDeliveries(scenario, sent, subscribers);
    const result: BenchResult = {
      scenario,
      server: options.url.href,
      protocol: options.protocol,
      wsLines: ready[0]?.wsLines ?? false,
      subscribers,
      subscriptions: connections.reduce((n, tags) => n + tags.length, 0),
      payloadBytes: options.payloadBytes,
      rate: options.rate,
      durationSeconds: Math.round(elapsed * 1000) / 1000,
      sent,
      expected,
      received,
      lost: Math.max(0, expected - received),
      dropped: results.reduce((n, r) => n + r.dropped, 0),
      publishesPerSecond: Math.round(sent / elapsed),
      deliveriesPerSecond: Math.round(received / elapsed),
      latencyMs: summarize(histogram),
    };
    if (scenario === "idle") {
      result.openSeconds = Math.round(openSeconds * 1000) / 1000;
      result.answered = results.reduce((n, r) => n + r.answered, 0);
    }
    return result;
  } finally {
    for (const worker of all) worker.terminate();
  }
}

function sum(
  parts: { sent: number; received: number; dropped: number }[],
): { sent: number; received: number; dropped: number } {
  const total = { sent: 0, received: 0, dropped: 0 };
  for (const p of parts) {
    total.sent += p.sent;
    total.received += p.received;
    total.dropped += p.dropped;
  }
  return total;
}
