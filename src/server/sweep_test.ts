import assert from "node:assert/strict";
import { Sweep, type Swept } from "./sweep.ts";

function connection(presented = false) {
  const c = {
    id: 1,
    info: { listener: "memory" },
    presented,
    requests: 0,
    activity: 0,
    closed: false,
    close() {
      c.closed = true;
    },
  };
  return c satisfies Swept;
}

Deno.test("Sweep: auth-timeout closes a connection without a first command, not one that sent one or presented a token", () => {
  const sweep = new Sweep({ authTimeoutMs: 1000, idleTimeoutMs: Infinity });
  const silent = connection();
  const spoke = connection();
  const presented = connection(true);
  for (const c of [silent, spoke, presented]) sweep.track(c, 0);
  assert.equal(sweep.tick(999), 0);
  spoke.requests = 1;
  spoke.activity = 1;
  assert.equal(sweep.tick(1000), 1);
  assert.deepEqual([silent.closed, spoke.closed, presented.closed], [
    true,
    false,
    false,
  ]);
  // Forgotten once closed: not closed twice.
  assert.equal(sweep.tick(5000), 0);
});

Deno.test("Sweep: idle-timeout counts from the last activity either way", () => {
  const sweep = new Sweep({ authTimeoutMs: Infinity, idleTimeoutMs: 1000 });
  const busy = connection();
  const idle = connection();
  sweep.track(busy, 0);
  sweep.track(idle, 0);
  busy.activity++; // e.g. a delivery queued to it
  assert.equal(sweep.tick(600), 0);
  assert.equal(sweep.tick(1000), 1);
  assert.deepEqual([busy.closed, idle.closed], [false, true]);
  assert.equal(sweep.tick(1599), 0);
  assert.equal(sweep.tick(1600), 1);
  assert.equal(busy.closed, true);
});

Deno.test("Sweep: with every deadline off it tracks nothing and runs no timer", () => {
  const sweep = new Sweep({ authTimeoutMs: Infinity, idleTimeoutMs: Infinity });
  assert.equal(sweep.enabled, false);
  const c = connection();
  sweep.track(c, 0);
  sweep.start(); // a timer would be reported as a leak by the test sanitizer
  assert.equal(sweep.tick(Number.MAX_SAFE_INTEGER), 0);
  assert.equal(c.closed, false);
});
