import assert from "node:assert/strict";
import { backplaneSuite, Recorder } from "../testing/backplane_suite.ts";
import { eventually } from "../testing/eventually.ts";
import { MemoryBus } from "./backplane_memory.ts";

backplaneSuite("MemoryBus", () => {
  const bus = new MemoryBus();
  return Promise.resolve({
    attach: () => bus.attach(),
    fail: () => Promise.resolve(bus.fail()),
    restore: () => Promise.resolve(bus.restore()),
    [Symbol.asyncDispose]: () => Promise.resolve(),
  });
});

Deno.test("`MemoryLink.cut()` partitions one node while the others stay linked", async () => {
  const bus = new MemoryBus();
  const [a, b, c] = [bus.attach(), bus.attach(), bus.attach()];
  const [ra, rb, rc] = [new Recorder(), new Recorder(), new Recorder()];
  a.start(ra);
  b.start(rb);
  c.start(rc);
  c.cut();
  assert.equal(c.state, "down");
  assert.deepEqual(rc.states, ["up", "down"]);
  assert.deepEqual(rc.reasons.at(-1), "cut off");
  assert.equal(c.publish("from c"), false);
  assert.equal(a.publish("from a"), true);
  await eventually(() => rb.received.length === 1, "b received");
  assert.deepEqual(rc.received, []);
  c.restore();
  assert.equal(c.state, "up");
  for (const link of [a, b, c]) await link.close();
});

Deno.test("`MemoryBus.inject()` delivers raw text to every linked node", async () => {
  const bus = new MemoryBus();
  const a = bus.attach();
  const recorder = new Recorder();
  a.start(recorder);
  bus.inject("not an envelope");
  await eventually(() => recorder.received.length === 1, "delivered");
  assert.deepEqual(recorder.received, ["not an envelope"]);
  await a.close();
});
