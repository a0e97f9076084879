/**
 * `mist bench` (src/cli/bench.ts) as a user runs it: the program against a
 * real server in this process, about a second per scenario, its one JSON
 * document checked. Speed is not asserted (benchmarks carry speed); what is
 * asserted is that the counts add up.
 */

import assert from "node:assert/strict";
import type { BenchResult } from "../../src/cli/bench_report.ts";
import { serve } from "../../src/server/server.ts";
import { args, runProgram } from "../_program.ts";
import { addressOf } from "../_helpers.ts";
import { testCertificate } from "../_certificates.ts";

function tcpAndWs() {
  return serve({ listeners: ["tcp://127.0.0.1:0", "ws://127.0.0.1:0"] });
}

async function runBench(
  words: string[],
  flags: Record<string, string | true>,
): Promise<BenchResult> {
  const { code, stdout, stderr } = await runProgram(
    args(["bench", ...words], { duration: "1", json: true, ...flags }),
  );
  assert.equal(code, 0, stderr);
  // Exactly one JSON document on stdout, nothing else.
  assert.equal(stdout.trimEnd().split("\n").length, 1, stdout);
  return JSON.parse(stdout);
}

function assertShape(result: BenchResult): void {
  for (
    const key of [
      "sent",
      "expected",
      "received",
      "lost",
      "dropped",
      "publishesPerSecond",
      "deliveriesPerSecond",
      "subscribers",
      "subscriptions",
      "payloadBytes",
      "durationSeconds",
    ] as const
  ) {
    assert.equal(typeof result[key], "number", `${key} in ${result}`);
  }
  for (const key of ["samples", "p50", "p99", "p999", "max"] as const) {
    assert.equal(typeof result.latencyMs[key], "number", key);
  }
  assert.equal(result.protocol, "mist");
  assert.equal(typeof result.wsLines, "boolean");
}

Deno.test("mist bench runs each scenario over TCP and reports no loss at a low rate", async (t) => {
  await using server = await tcpAndWs();
  const host = addressOf(server, "tcp");
  const cases = [
    { scenario: "fanout", subscriptions: 3, expected: (s: number) => s * 3 },
    { scenario: "routing", subscriptions: 30, expected: (s: number) => s },
    { scenario: "latency", subscriptions: 3, expected: (s: number) => s * 3 },
  ];
  for (const { scenario, subscriptions, expected } of cases) {
    await t.step(scenario, async () => {
      const r = await runBench([scenario], {
        host,
        rate: "300",
        subscribers: "3",
        payload: "64",
      });
      assertShape(r);
      assert.equal(r.scenario, scenario);
      assert.equal(r.server, host);
      assert.equal(r.subscribers, 3);
      assert.equal(r.subscriptions, subscriptions);
      assert.equal(r.rate, 300);
      assert.equal(r.payloadBytes, 64);
      assert.equal(r.wsLines, false);
      assert.ok(r.sent > 0 && r.sent <= 300 * 1.5, `sent ${r.sent}`);
      assert.equal(r.expected, expected(r.sent));
      assert.equal(r.received, r.expected);
      assert.ok(r.deliveriesPerSecond > 0);
      assert.equal(r.lost, 0);
      assert.equal(r.dropped, 0);
      assert.ok(r.latencyMs.samples > 0);
      assert.ok(r.latencyMs.p50 <= r.latencyMs.p99);
      assert.ok(r.latencyMs.p99 <= r.latencyMs.p999);
      assert.ok(r.latencyMs.p999 <= r.latencyMs.max);
    });
  }
  await t.step("idle", async () => {
    const r = await runBench(["idle"], { host, subscribers: "40" });
    assertShape(r);
    assert.equal(r.sent, 0);
    assert.equal(r.answered, 40);
    assert.ok(typeof r.openSeconds === "number" && r.openSeconds >= 0);
  });
});

Deno.test("mist bench runs over WebSocket, offering line mode or not", async (t) => {
  await using server = await tcpAndWs();
  const ws = addressOf(server, "ws");
  const { port } = new URL(ws);
  await t.step("--ws-frames: one message per frame", async () => {
    const r = await runBench(["fanout"], {
      host: `127.0.0.1:${port}`,
      transport: "ws",
      "ws-frames": true,
      rate: "300",
      subscribers: "2",
    });
    assertShape(r);
    assert.match(r.server, /^ws:\/\/127\.0\.0\.1:\d+\/subscribe\/websocket$/);
    assert.equal(r.wsLines, false);
    assert.ok(r.received > 0);
    assert.equal(r.received, r.sent * 2);
  });
  await t.step("line mode when the server accepts it", async () => {
    const r = await runBench(["latency"], {
      host: ws,
      rate: "300",
      subscribers: "2",
    });
    assertShape(r);
    assert.equal(r.wsLines, true);
    assert.ok(r.received > 0);
    assert.equal(r.received, r.sent * 2);
    assert.equal(r.latencyMs.samples, r.received);
  });
  await t.step("--ws-lines, as fast as the server takes them", async () => {
    // Enough messages that line-mode frames carry many, both ways.
    const r = await runBench(["fanout"], {
      host: ws,
      "ws-lines": true,
      subscribers: "3",
      payload: "300",
    });
    assertShape(r);
    assert.equal(r.wsLines, true);
    assert.ok(r.sent > 1000, `sent ${r.sent}`);
    assert.equal(r.received, r.sent * 3);
    assert.equal(r.lost, 0);
  });
});

const certificate = await testCertificate();

Deno.test({
  name: "mist bench runs over tls:// and wss:// trusting --ca",
  // Without openssl: ignored, except in CI, where testCertificate() fails.
  ignore: certificate === undefined,
  async fn(t) {
    const { cert, key, caFile } = certificate!;
    await using server = await serve({
      listeners: ["tls://127.0.0.1:0", "wss://127.0.0.1:0"],
      tls: { cert, key },
    });
    for (const scheme of ["tls", "wss"]) {
      await t.step(scheme, async () => {
        const r = await runBench(["fanout"], {
          host: addressOf(server, scheme),
          ca: caFile,
          rate: "300",
          subscribers: "2",
        });
        assert.ok(r.received > 0);
        assert.equal(r.received, r.sent * 2);
        assert.equal(r.lost, 0);
      });
    }
  },
});

Deno.test("mist bench refuses a bad command line with exit 2, and an unreachable server with exit 3", async () => {
  const usage = await runProgram(["bench", "nope"]);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /unknown scenario "nope"/);
  const rate = await runProgram(["bench", "--rate", "fast"]);
  assert.equal(rate.code, 2);
  assert.match(rate.stderr, /--rate "fast" is not a number/);

  const help = await runProgram(["bench", "--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: mist bench/);

  // --ws-lines against a WebSocket server that does not accept mist.lines.
  await using plain = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (request) => Deno.upgradeWebSocket(request).response,
  );
  const refused = await runProgram(
    args("bench", {
      host: `ws://127.0.0.1:${plain.addr.port}`,
      "ws-lines": true,
      duration: "1",
    }),
  );
  assert.equal(refused.code, 3, refused.stderr);
  assert.match(refused.stderr, /did not accept mist\.lines/);

  // A port nothing listens on: a server started and stopped.
  const server = await tcpAndWs();
  const host = addressOf(server, "tcp");
  await server.close();
  const down = await runProgram(args("bench", { host, duration: "1" }));
  assert.equal(down.code, 3, down.stderr);
  assert.match(down.stderr, /^mist bench: cannot connect/);
  assert.equal(down.stdout, "");
});
