import assert from "node:assert/strict";
import { LAG_INTERVAL_MS, LagMonitor } from "./lag.ts";

function spin(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) { /* busy: block the event loop */ }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits, at most `ms`, for `ok()`. */
async function until(ok: () => boolean, ms = 2000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!ok()) {
    if (performance.now() > deadline) assert.fail("timed out");
    await sleep(5);
  }
}

Deno.test("LagMonitor measures every second by default and reads 0 before the first measurement", () => {
  const lag = new LagMonitor();
  assert.equal(LAG_INTERVAL_MS, 1000);
  assert.equal(lag.intervalMs, 1000);
  assert.equal(lag.seconds, 0);
  assert.equal(lag.maxSeconds, 0);
  assert.equal(new LagMonitor(25).intervalMs, 25);
});

Deno.test("LagMonitor measures how late its timer fires while the event loop is blocked", async () => {
  const lag = new LagMonitor(20);
  lag.start();
  try {
    await sleep(5);
    spin(150);
    await until(() => lag.seconds > 0);
    assert.ok(lag.seconds >= 0.08, `lag ${lag.seconds}`);
    assert.ok(lag.seconds < 2, `lag ${lag.seconds}`);
    assert.ok(lag.maxSeconds >= lag.seconds);
    const max = lag.maxSeconds;
    // Once the loop runs freely again the last lag falls, the max stays.
    await until(() => lag.seconds < 0.05);
    assert.equal(lag.maxSeconds, max);
  } finally {
    lag.stop();
  }
});

Deno.test("LagMonitor.stop() ends measuring; start() and stop() are idempotent", async () => {
  const lag = new LagMonitor(10);
  lag.start();
  lag.start();
  lag.stop();
  lag.stop();
  spin(60);
  await sleep(40);
  assert.equal(lag.seconds, 0);
  assert.equal(lag.maxSeconds, 0);
});

Deno.test("LagMonitor keeps no process alive", async () => {
  const module = new URL("./lag.ts", import.meta.url).href;
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `import { LagMonitor } from ${JSON.stringify(module)};` +
      `new LagMonitor(10).start(); console.log("started");`,
    ],
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(20_000),
  }).output();
  assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
  assert.equal(new TextDecoder().decode(output.stdout), "started\n");
});
