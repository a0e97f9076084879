import assert from "node:assert/strict";
import { OutboundQueue } from "./outbound_queue.ts";

const frame = (size: number) => ({ size });

Deno.test("OutboundQueue drops the newest frame that does not fit", () => {
  const queue = new OutboundQueue(10);
  const a = frame(4), b = frame(6), c = frame(1);
  assert.ok(queue.offer(a));
  assert.ok(queue.offer(b));
  assert.ok(!queue.offer(c));
  assert.equal(queue.bytes, 10);
  assert.equal(queue.dropped, 1);
  assert.ok(queue.full);
  assert.deepEqual(queue.take(), [a, b]);
  assert.ok(!queue.pending);
  assert.equal(queue.bytes, 10, "bytes being written still count");
  assert.ok(!queue.offer(frame(1)));
  queue.release(10);
  assert.equal(queue.bytes, 0);
  assert.ok(queue.offer(c));
});

Deno.test("OutboundQueue reports drops once it has drained below half", () => {
  const queue = new OutboundQueue(10);
  queue.offer(frame(8));
  queue.offer(frame(8));
  queue.offer(frame(8));
  assert.equal(queue.takeDropped(), 0, "still full");
  queue.take();
  queue.release(8);
  assert.equal(queue.takeDropped(), 2);
  assert.equal(queue.takeDropped(), 0, "reported once");
  assert.equal(queue.dropped, 0);
});

Deno.test("OutboundQueue.force() enqueues past the capacity and tracks the peak", () => {
  const queue = new OutboundQueue(10);
  queue.offer(frame(9));
  queue.force(frame(5));
  assert.equal(queue.bytes, 14);
  assert.equal(queue.peak, 14);
  assert.equal(queue.dropped, 0);
  assert.equal(queue.take().length, 2);
});

Deno.test("OutboundQueue refuses a capacity that is not a positive integer", () => {
  assert.throws(() => new OutboundQueue(0), RangeError);
  assert.throws(() => new OutboundQueue(-1), RangeError);
  assert.throws(() => new OutboundQueue(NaN), RangeError);
});

Deno.test("OutboundQueue takes a frame larger than its capacity only when empty", () => {
  const queue = new OutboundQueue(10);
  assert.ok(queue.offer(frame(15)));
  assert.ok(!queue.offer(frame(1)));
  assert.equal(queue.dropped, 1);
  queue.take();
  queue.release(15);
  assert.ok(queue.offer(frame(15)));
});
