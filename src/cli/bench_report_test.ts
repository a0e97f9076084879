import assert from "node:assert/strict";
import {
  type BenchResult,
  expectedDeliveries,
  formatResult,
  Histogram,
  progressLine,
  summarize,
  table,
} from "./bench_report.ts";

Deno.test("Histogram.percentile() is within 2 % of the exact value", () => {
  const h = new Histogram();
  const values: number[] = [];
  for (let i = 0; i < 10_000; i++) {
    const v = Math.exp((i * 7919 % 10_000) / 1000); // 1 µs … 22 ms, shuffled
    values.push(v);
    h.record(v);
  }
  values.sort((a, b) => a - b);
  for (const q of [0.5, 0.9, 0.99, 0.999]) {
    const exact = values[Math.ceil(q * values.length) - 1]!;
    const got = h.percentile(q);
    assert.ok(
      Math.abs(got - exact) / exact <= 0.02,
      `${q}: ${got} vs ${exact}`,
    );
  }
  assert.equal(h.percentile(1), h.max);
  assert.equal(h.total, 10_000);
});

Deno.test("Histogram: empty is 0, negatives count as 0, huge values go in the last bucket", () => {
  const h = new Histogram();
  assert.equal(h.percentile(0.5), 0);
  h.record(-5);
  assert.equal(h.percentile(0.5), 0);
  h.record(1e15);
  assert.equal(h.max, 1e15);
  assert.ok(h.percentile(1) > 1e8);
});

Deno.test("Histogram.merge() adds another histogram's entries", () => {
  const a = new Histogram();
  const b = new Histogram();
  for (let i = 1; i <= 100; i++) a.record(i);
  for (let i = 901; i <= 1000; i++) b.record(i);
  a.merge(b.entries(), b.max);
  assert.equal(a.total, 200);
  assert.equal(a.max, 1000);
  assert.ok(Math.abs(a.percentile(0.75) - 950) <= 20, `${a.percentile(0.75)}`);
});

Deno.test("summarize() gives milliseconds in order", () => {
  const h = new Histogram();
  for (let us = 1; us <= 100_000; us += 10) h.record(us);
  const s = summarize(h);
  assert.equal(s.samples, 10_000);
  assert.ok(s.p50 > 45 && s.p50 < 55, `${s.p50}`);
  assert.ok(s.p50 <= s.p99 && s.p99 <= s.p999 && s.p999 <= s.max);
  assert.equal(s.max, 99.991);
});

Deno.test("expectedDeliveries() counts one match per publish in routing, every subscriber otherwise", () => {
  assert.equal(expectedDeliveries("fanout", 10, 5), 50);
  assert.equal(expectedDeliveries("latency", 10, 5), 50);
  assert.equal(expectedDeliveries("routing", 10, 5), 10);
  assert.equal(expectedDeliveries("idle", 0, 5), 0);
});

const RESULT: BenchResult = {
  scenario: "fanout",
  server: "tcp://127.0.0.1:1445",
  protocol: "mist",
  wsLines: false,
  subscribers: 10,
  subscriptions: 10,
  payloadBytes: 100,
  rate: 0,
  durationSeconds: 1,
  sent: 1000,
  expected: 10000,
  received: 9990,
  lost: 10,
  dropped: 10,
  publishesPerSecond: 1000,
  deliveriesPerSecond: 9990,
  latencyMs: { samples: 9990, p50: 1, p99: 2, p999: 3, max: 4 },
};

Deno.test("formatResult() names every figure, and the idle ones for idle", () => {
  const text = formatResult(RESULT);
  assert.match(text, /^scenario +fanout\n/);
  assert.match(text, /delivered +9990 of 10000 \(9990\/s\)/);
  assert.match(text, /lost +10 \(0\.100 %\)/);
  assert.match(text, /p50 1 ms {2}p99 2 ms {2}p99\.9 3 ms/);
  const idle = formatResult({
    ...RESULT,
    scenario: "idle",
    openSeconds: 1.5,
    answered: 10,
  });
  assert.match(idle, /opened in +1\.50 s/);
  assert.match(idle, /answered ping +10 of 10/);
  assert.doesNotMatch(idle, /latency/);
});

Deno.test("progressLine() and table() format as documented", () => {
  assert.equal(
    progressLine({
      elapsed: 0.25,
      duration: 5,
      sent: 2_500_000,
      received: 12,
      dropped: 3,
    }),
    "  0.3/5 s  sent 2.50M  received 12  dropped 3",
  );
  assert.equal(
    table([["name", "mist", "ratio"], ["fanout", "120", "1.05"]]),
    "name    mist  ratio\nfanout   120   1.05\n",
  );
});
