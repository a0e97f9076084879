import assert from "node:assert/strict";
import { Channel } from "./channel.ts";

async function drain<T>(channel: Channel<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of channel) out.push(item);
  return out;
}

Deno.test("Channel yields in order, then ends after what was queued", async () => {
  const channel = new Channel<number>({ capacity: 10 });
  for (const n of [1, 2, 3]) assert.equal(channel.push(n), true);
  channel.end();
  assert.equal(channel.push(4), false);
  assert.deepEqual(await drain(channel), [1, 2, 3]);
});

Deno.test("Channel hands an item straight to a waiting reader", async () => {
  const channel = new Channel<string>({ capacity: 1 });
  const first = channel.next();
  const second = channel.next();
  channel.push("a");
  channel.push("b");
  assert.deepEqual(await first, { value: "a", done: false });
  assert.deepEqual(await second, { value: "b", done: false });
  assert.equal(channel.length, 0);
});

Deno.test("a full Channel drops the newest items, counts them and reports each run once", () => {
  let runs = 0;
  const channel = new Channel<string>({
    capacity: 10,
    sizeOf: (item) => item.length,
    onOverflow: () => runs++,
  });
  assert.equal(channel.push("12345"), true);
  assert.equal(channel.push("12345"), true);
  assert.equal(channel.push("x"), false);
  assert.equal(channel.push("y"), false);
  assert.equal(channel.dropped, 2);
  assert.equal(runs, 1);
  channel.next();
  assert.equal(channel.push("abc"), true);
  assert.equal(channel.push("abc"), false);
  assert.equal(runs, 2);
  assert.equal(channel.length, 2);
});

Deno.test("a Channel dropping the oldest keeps the most recent items", async () => {
  const channel = new Channel<number>({ capacity: 3, overflow: "drop-oldest" });
  for (let n = 1; n <= 10; n++) assert.equal(channel.push(n), true);
  assert.equal(channel.dropped, 7);
  channel.end();
  assert.deepEqual(await drain(channel), [8, 9, 10]);
});

Deno.test("a Channel takes an item larger than its capacity when empty", async () => {
  const channel = new Channel<string>({
    capacity: 4,
    sizeOf: (item) => item.length,
  });
  assert.equal(channel.push("too long for it"), true);
  assert.equal(channel.push("x"), false);
  assert.deepEqual(await channel.next(), {
    value: "too long for it",
    done: false,
  });
  assert.equal(channel.push("x"), true);
});

Deno.test("a Channel that nobody reads stays bounded", () => {
  const channel = new Channel<number>({ capacity: 1000 });
  for (let n = 0; n < 100_000; n++) channel.push(n);
  assert.equal(channel.length, 1000);
  assert.equal(channel.dropped, 99_000);
});

Deno.test("a Channel ended with an error throws it once the queue is empty", async () => {
  const channel = new Channel<number>({ capacity: 10 });
  channel.push(1);
  const error = new Error("gone");
  channel.end(error);
  channel.end(); // the first end decides
  assert.deepEqual(await channel.next(), { value: 1, done: false });
  await assert.rejects(channel.next(), error);
  assert.deepEqual(await channel.next(), { value: undefined, done: true });
});

Deno.test("breaking out of a Channel ends it and tells its owner once", async () => {
  let returned = 0;
  const channel = new Channel<number>({
    capacity: 10,
    onReturn: () => returned++,
  });
  channel.push(1);
  channel.push(2);
  for await (const n of channel) {
    assert.equal(n, 1);
    break;
  }
  assert.equal(returned, 1);
  assert.equal(channel.ended, true);
  assert.equal(channel.length, 0);
  await channel.return();
  assert.equal(returned, 1);
  assert.equal(channel.push(3), false);
});

Deno.test("a Channel reader waiting at the end gets done, or the error", async () => {
  const plain = new Channel<number>({ capacity: 1 });
  const waiting = plain.next();
  plain.end();
  assert.deepEqual(await waiting, { value: undefined, done: true });
  const failing = new Channel<number>({ capacity: 1 });
  const failed = failing.next();
  failing.end(new RangeError("bad"));
  await assert.rejects(failed, RangeError);
});

Deno.test("a Channel refuses a capacity that is not positive", () => {
  assert.throws(() => new Channel({ capacity: 0 }), RangeError);
  assert.throws(() => new Channel({ capacity: NaN }), RangeError);
});

Deno.test("a Channel compacts its storage as it is read", () => {
  const channel = new Channel<number>({ capacity: 1_000_000 });
  for (let n = 0; n < 5000; n++) channel.push(n);
  for (let n = 0; n < 4999; n++) channel.next();
  assert.equal(channel.length, 1);
  channel.push(5000);
  assert.equal(channel.length, 2);
});
