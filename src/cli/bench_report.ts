/**
 * The pure half of `mist bench`: the latency histogram the workers fill and
 * merge, percentiles, the result document and its text forms. No I/O.
 *
 * @module
 */

/** The scenarios of `mist bench`. */
export const SCENARIOS: readonly string[] = [
  "fanout",
  "routing",
  "latency",
  "idle",
];

/** Each bucket is this much wider than the one before: 2 % precision. */
const GROWTH = 1.02;
const LOG_GROWTH = Math.log(GROWTH);
/** Buckets up to about 10^9 µs (17 minutes); longer goes in the last. */
const BUCKETS = 1100;

/**
 * Latencies in microseconds, in log-linear buckets (2 % wide), so that a
 * worker keeps a fixed size whatever it records and workers merge by adding.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Histogram } from "./bench_report.ts";
 * const h = new Histogram();
 * for (let us = 1; us <= 1000; us++) h.record(us);
 * assert.ok(Math.abs(h.percentile(0.5) - 500) <= 10);
 * ```
 */
export class Histogram {
  readonly counts: Float64Array = new Float64Array(BUCKETS);
  total = 0;
  max = 0;

  /** Adds one latency, in microseconds (negative counts as 0). */
  record(us: number): void {
    const v = us > 0 ? us : 0;
    const bucket = v < 1
      ? 0
      : Math.min(BUCKETS - 1, Math.floor(Math.log(v) / LOG_GROWTH) + 1);
    this.counts[bucket]!++;
    this.total++;
    if (v > this.max) this.max = v;
  }

  /** The non-empty buckets, as `[bucket, count]` pairs, to post to another thread. */
  entries(): [number, number][] {
    const out: [number, number][] = [];
    this.counts.forEach((count, bucket) => {
      if (count > 0) out.push([bucket, count]);
    });
    return out;
  }

  /** Adds what another histogram's {@linkcode entries} hold. */
  merge(entries: readonly [number, number][], max: number): void {
    for (const [bucket, count] of entries) {
      this.counts[bucket]! += count;
      this.total += count;
    }
    if (max > this.max) this.max = max;
  }

  /**
   * The value at a quantile, in microseconds: the middle of its bucket, never
   * above the largest value recorded (which the last rank is); 0 when nothing
   * was recorded.
   */
  percentile(q: number): number {
    if (this.total === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.total));
    if (rank >= this.total) return this.max;
    let seen = 0;
    for (let bucket = 0; bucket < BUCKETS; bucket++) {
      seen += this.counts[bucket]!;
      if (seen >= rank) {
        if (bucket === 0) return 0;
        const low = GROWTH ** (bucket - 1);
        return Math.min(this.max, (low + low * GROWTH) / 2);
      }
    }
    return this.max;
  }
}

/** Latency percentiles of a run, in milliseconds. */
export interface LatencySummary {
  samples: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
}

/** The percentiles of a histogram, in milliseconds rounded to the microsecond. */
export function summarize(histogram: Histogram): LatencySummary {
  const ms = (us: number) => Math.round(us) / 1000;
  return {
    samples: histogram.total,
    p50: ms(histogram.percentile(0.5)),
    p99: ms(histogram.percentile(0.99)),
    p999: ms(histogram.percentile(0.999)),
    max: ms(histogram.max),
  };
}

/** The document `mist bench --json` prints. */
export interface BenchResult {
  scenario: string;
  server: string;
  protocol: "mist" | "resp";
  /** Whether WebSocket line mode was in use (false on TCP). */
  wsLines: boolean;
  subscribers: number;
  subscriptions: number;
  payloadBytes: number;
  /** The publish rate asked for, messages per second; 0 for as fast as it goes. */
  rate: number;
  durationSeconds: number;
  /** Messages published. */
  sent: number;
  /** Deliveries expected: each publish times the subscriptions it matches. */
  expected: number;
  /** Deliveries counted by the subscribers. */
  received: number;
  /** Expected deliveries that did not arrive. */
  lost: number;
  /** Messages the server said it dropped (`dropped` notices). */
  dropped: number;
  publishesPerSecond: number;
  deliveriesPerSecond: number;
  latencyMs: LatencySummary;
  /** `idle` only: seconds to open and subscribe every connection. */
  openSeconds?: number;
  /** `idle` only: connections that answered a ping at the end. */
  answered?: number;
}

/**
 * The deliveries a run should see.
 *
 * @param scenario the scenario
 * @param sent messages published
 * @param subscribers subscriber connections
 * @returns in `routing` each publish matches one subscription; otherwise
 *   every subscriber's
 */
export function expectedDeliveries(
  scenario: string,
  sent: number,
  subscribers: number,
): number {
  if (scenario === "idle") return 0;
  return scenario === "routing" ? sent : sent * subscribers;
}

function rate(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e4) return `${(n / 1e3).toFixed(1)}k`;
  return n.toFixed(0);
}

/**
 * The live progress line shown on a terminal.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { progressLine } from "./bench_report.ts";
 * assert.equal(
 *   progressLine({ elapsed: 2, duration: 5, sent: 1000, received: 20000, dropped: 0 }),
 *   "  2.0/5 s  sent 1000  received 20.0k  dropped 0",
 * );
 * ```
 */
export function progressLine(
  p: {
    elapsed: number;
    duration: number;
    sent: number;
    received: number;
    dropped: number;
  },
): string {
  return `  ${p.elapsed.toFixed(1)}/${p.duration} s  sent ${
    rate(p.sent)
  }  received ${rate(p.received)}  dropped ${p.dropped}`;
}

/** The text report of a run: one `name value` line each. */
export function formatResult(r: BenchResult): string {
  const rows: [string, string][] = [
    ["scenario", r.scenario],
    [
      "server",
      `${r.server} (${r.protocol}${r.wsLines ? ", WebSocket line mode" : ""})`,
    ],
    [
      "clients",
      `${r.subscribers} subscriber connection(s), ${r.subscriptions} subscription(s), payload ${r.payloadBytes} B`,
    ],
  ];
  if (r.scenario === "idle") {
    rows.push(
      ["opened in", `${r.openSeconds?.toFixed(2)} s`],
      ["answered ping", `${r.answered} of ${r.subscribers}`],
    );
  } else {
    rows.push(
      [
        "published",
        `${r.sent} in ${r.durationSeconds} s (${rate(r.publishesPerSecond)}/s${
          r.rate > 0 ? `, asked ${r.rate}/s` : ""
        })`,
      ],
      [
        "delivered",
        `${r.received} of ${r.expected} (${rate(r.deliveriesPerSecond)}/s)`,
      ],
      [
        "lost",
        `${r.lost}${r.expected > 0 ? ` (${pct(r.lost, r.expected)})` : ""}`,
      ],
      ["dropped", `${r.dropped} (server's dropped notices)`],
      [
        "latency",
        `p50 ${r.latencyMs.p50} ms  p99 ${r.latencyMs.p99} ms  p99.9 ${r.latencyMs.p999} ms  max ${r.latencyMs.max} ms (${r.latencyMs.samples} samples)`,
      ],
    );
  }
  const width = Math.max(...rows.map(([name]) => name.length));
  return rows.map(([name, value]) => `${name.padEnd(width)}  ${value}\n`)
    .join("");
}

function pct(part: number, whole: number): string {
  return `${(100 * part / whole).toFixed(part === 0 ? 0 : 3)} %`;
}

/**
 * A table of rows, columns padded, numbers right-aligned (for
 * `bench:compare`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { table } from "./bench_report.ts";
 * assert.equal(table([["a", "bb"], ["ccc", "1"]]), "a    bb\nccc   1\n");
 * ```
 */
export function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => widths[i] = Math.max(widths[i] ?? 0, cell.length));
  }
  return rows.map((row) =>
    row.map((cell, i) =>
      /^[-\d.×x]+$/.test(cell) && i > 0
        ? cell.padStart(widths[i]!)
        : cell.padEnd(i === row.length - 1 ? 0 : widths[i]!)
    ).join("  ").trimEnd() + "\n"
  ).join("");
}
