import assert from "node:assert/strict";
import { BoundedQueue } from "./bounded_queue.ts";

async function drain<T>(queue: BoundedQueue<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of queue) out.push(item);
  return out;
}

Deno.test("BoundedQueue yields in order, then ends after what was queued", async () => {
  const queue = new BoundedQueue<number>({ capacity: 10 });
  for (const n of [1, 2, 3]) assert.equal(queue.push(n), true);
  queue.end();
  assert.equal(queue.push(4), false);
  assert.deepEqual(await drain(queue), [1, 2, 3]);
});

Deno.test("BoundedQueue hands an item straight to a waiting reader", async () => {
  const queue = new BoundedQueue<string>({ capacity: 1 });
  const first = queue.next();
  const second = queue.next();
  queue.push("a");
  queue.push("b");
  assert.deepEqual(await first, { value: "a", done: false });
  assert.deepEqual(await second, { value: "b", done: false });
  assert.equal(queue.length, 0);
});

Deno.test("a full BoundedQueue drops the newest items, counts them and reports each run once", () => {
  let runs = 0;
  const queue = new BoundedQueue<string>({
    capacity: 10,
    sizeOf: (item) => item.length,
    onOverflow: () => runs++,
  });
  assert.equal(queue.push("12345"), true);
  assert.equal(queue.push("12345"), true);
  assert.equal(queue.push("x"), false);
  assert.equal(queue.push("y"), false);
  assert.equal(queue.dropped, 2);
  assert.equal(runs, 1);
  queue.next();
  assert.equal(queue.push("abc"), true);
  assert.equal(queue.push("abc"), false);
  assert.equal(runs, 2);
  assert.equal(queue.length, 2);
});

Deno.test("a BoundedQueue dropping the oldest keeps the most recent items", async () => {
  const queue = new BoundedQueue<number>({
    capacity: 3,
    overflow: "drop-oldest",
  });
  for (let n = 1; n <= 10; n++) assert.equal(queue.push(n), true);
  assert.equal(queue.dropped, 7);
  queue.end();
  assert.deepEqual(await drain(queue), [8, 9, 10]);
});

Deno.test("a BoundedQueue takes an item larger than its capacity when empty", async () => {
  const queue = new BoundedQueue<string>({
    capacity: 4,
    sizeOf: (item) => item.length,
  });
  assert.equal(queue.push("too long for it"), true);
  assert.equal(queue.push("x"), false);
  assert.deepEqual(await queue.next(), {
    value: "too long for it",
    done: false,
  });
  assert.equal(queue.push("x"), true);
});

Deno.test("a BoundedQueue that nobody reads stays bounded", () => {
  const queue = new BoundedQueue<number>({ capacity: 1000 });
  for (let n = 0; n < 100_000; n++) queue.push(n);
  assert.equal(queue.length, 1000);
  assert.equal(queue.dropped, 99_000);
});

Deno.test("a BoundedQueue ended with an error throws it once the queue is empty", async () => {
  const queue = new BoundedQueue<number>({ capacity: 10 });
  queue.push(1);
  const error = new Error("gone");
  queue.end(error);
  queue.end(); // the first end decides
  assert.deepEqual(await queue.next(), { value: 1, done: false });
  await assert.rejects(queue.next(), error);
  assert.deepEqual(await queue.next(), { value: undefined, done: true });
});

Deno.test("breaking out of a BoundedQueue ends it and tells its owner once", async () => {
  let returned = 0;
  const queue = new BoundedQueue<number>({
    capacity: 10,
    onReturn: () => returned++,
  });
  queue.push(1);
  queue.push(2);
  for await (const n of queue) {
    assert.equal(n, 1);
    break;
  }
  assert.equal(returned, 1);
  assert.equal(queue.ended, true);
  assert.equal(queue.length, 0);
  await queue.return();
  assert.equal(returned, 1);
  assert.equal(queue.push(3), false);
});

Deno.test("a BoundedQueue reader waiting at the end gets done, or the error", async () => {
  const plain = new BoundedQueue<number>({ capacity: 1 });
  const waiting = plain.next();
  plain.end();
  assert.deepEqual(await waiting, { value: undefined, done: true });
  const failing = new BoundedQueue<number>({ capacity: 1 });
  const failed = failing.next();
  failing.end(new RangeError("bad"));
  await assert.rejects(failed, RangeError);
});

Deno.test("a BoundedQueue refuses a capacity that is not positive", () => {
  assert.throws(() => new BoundedQueue({ capacity: 0 }), RangeError);
  assert.throws(() => new BoundedQueue({ capacity: NaN }), RangeError);
});

Deno.test("a BoundedQueue compacts its storage as it is read", () => {
  const queue = new BoundedQueue<number>({ capacity: 1_000_000 });
  for (let n = 0; n < 5000; n++) queue.push(n);
  for (let n = 0; n < 4999; n++) queue.next();
  assert.equal(queue.length, 1);
  queue.push(5000);
  assert.equal(queue.length, 2);
});
