import assert from "node:assert/strict";
import { setImmediate } from "node:timers";
import { settlesWithin } from "../_util/deadline.ts";
import { encode, Frame } from "../protocol/codec.ts";
import { Outbox, SLAB_SLACK_BYTES, TIMED_FLUSH_EVERY } from "./outbox.ts";
import { SLAB_BYTES } from "../protocol/canonical.ts";
import { newStats, type Outlet } from "./transport.ts";

/** An outlet that records its writes and can be held back. */
class FakeOutlet implements Outlet {
  writes: string[][] = [];
  closes = 0;
  #gate: PromiseWithResolvers<void> | undefined;
  #wrote: PromiseWithResolvers<void> = Promise.withResolvers();
  fail: unknown = undefined;

  /** Holds every write until `release()`. */
  hold(): void {
    this.#gate ??= Promise.withResolvers();
  }

  /** Lets the held write (and every later one) finish. */
  release(): void {
    const gate = this.#gate;
    this.#gate = undefined;
    gate?.resolve();
  }

  /** Resolves at the next write. */
  nextWrite(): Promise<void> {
    return this.#wrote.promise;
  }

  write(frames: readonly Frame[]): void | Promise<void> {
    this.writes.push(frames.map((frame) => frame.text));
    this.#wrote.resolve();
    this.#wrote = Promise.withResolvers();
    if (this.fail !== undefined) return Promise.reject(this.fail);
    return this.#gate?.promise;
  }

  close(): void {
    this.closes++;
  }
}

function frame(n: number): Frame {
  return encode({ command: "publish", tags: ["t"], data: `${n}` });
}

const size = frame(1).size;

function noFailure(err: unknown): void {
  throw new Error(`unexpected failure: ${err}`);
}

/** An outbox of a capacity, whose writes must not fail. */
function outboxOf(outlet: Outlet, capacity: number): Outbox {
  return new Outbox(outlet, {
    capacity,
    failed: { writeFailed: noFailure },
    stats: newStats(),
  });
}

async function settled(outbox: Outbox): Promise<void> {
  assert.equal(await outbox.drain(10_000), true, "the outbox drains");
}

Deno.test("`Outbox` writes everything queued in one turn as one write", async () => {
  const outlet = new FakeOutlet();
  const outbox = outboxOf(outlet, 10 * size);
  assert.equal(outbox.offer(frame(1)), true);
  outbox.force(frame(2));
  assert.equal(outbox.offer(frame(3)), true);
  assert.deepEqual(outlet.writes, [], "nothing is written synchronously");
  await settled(outbox);
  assert.deepEqual(outlet.writes, [[
    frame(1).text,
    frame(2).text,
    frame(3).text,
  ]]);
  assert.equal(outbox.bytes, 0);
  assert.equal(outbox.peak, 3 * size);
  outbox.close();
});

Deno.test("`Outbox.offer()` drops a delivery that does not fit, `force()` never does", async () => {
  const outlet = new FakeOutlet();
  outlet.hold();
  const outbox = outboxOf(outlet, 2 * size);
  assert.equal(outbox.offer(frame(1)), true);
  assert.equal(outbox.offer(frame(2)), true);
  assert.equal(outbox.offer(frame(3)), false);
  outbox.force(frame(4));
  assert.equal(outbox.bytes, 3 * size, "a forced frame counts past capacity");
  outlet.release();
  await settled(outbox);
  assert.deepEqual(outlet.writes.flat().slice(0, 3), [
    frame(1).text,
    frame(2).text,
    frame(4).text,
  ]);
  outbox.close();
});

Deno.test("`Outbox.offer()` takes a frame larger than the capacity into an empty queue", async () => {
  const outlet = new FakeOutlet();
  const outbox = outboxOf(outlet, 1);
  assert.equal(outbox.offer(frame(1)), true);
  await settled(outbox);
  assert.deepEqual(outlet.writes, [[frame(1).text]]);
  outbox.close();
});

Deno.test("`Outbox` sends exactly one `dropped` notice, once drained below half", async () => {
  const outlet = new FakeOutlet();
  outlet.hold();
  const outbox = outboxOf(outlet, 4 * size);
  outbox.offer(frame(1));
  await outlet.nextWrite(); // frame 1 is being written, still counted
  for (const n of [2, 3, 4]) assert.equal(outbox.offer(frame(n)), true);
  for (const n of [5, 6, 7]) assert.equal(outbox.offer(frame(n)), false);
  outlet.release(); // frame 1 written: 3/4 full, not below half: no notice yet
  await settled(outbox);
  const notice = encode({ command: "dropped", data: "3" }).text;
  assert.deepEqual(outlet.writes, [
    [frame(1).text],
    [frame(2).text, frame(3).text, frame(4).text],
    [notice],
  ]);
  outbox.offer(frame(8));
  await settled(outbox);
  assert.deepEqual(
    outlet.writes.flat().filter((text) => text.includes("dropped")),
    [notice],
    "one notice for the whole run of drops",
  );
  outbox.close();
});

Deno.test("`Outbox` reports a single dropped delivery too", async () => {
  const outlet = new FakeOutlet();
  outlet.hold();
  const outbox = outboxOf(outlet, size);
  outbox.offer(frame(1));
  assert.equal(outbox.offer(frame(2)), false);
  outlet.release();
  await settled(outbox);
  assert.deepEqual(outlet.writes, [
    [frame(1).text],
    [encode({ command: "dropped", data: "1" }).text],
  ]);
  outbox.close();
});

Deno.test("`Outbox.writable()` pauses while the queue is full and resumes once it has room", async () => {
  const outlet = new FakeOutlet();
  outlet.hold();
  const outbox = outboxOf(outlet, 2 * size);
  assert.equal(outbox.writable(), undefined, "room now");
  outbox.offer(frame(1));
  outbox.offer(frame(2));
  const paused = outbox.writable();
  assert.ok(paused instanceof Promise, "full");
  assert.equal(outbox.writable(), paused, "the same promise while full");
  assert.equal(await settlesWithin(paused, 10), false, "held while stalled");
  outlet.release();
  assert.equal(await settlesWithin(paused, 10_000), true, "resumed");
  assert.equal(outbox.writable(), undefined);
  outbox.close();
});

Deno.test("`Outbox.writable()` resumes as soon as there is room, before the queue is empty", async () => {
  const outlet = new FakeOutlet();
  outlet.hold();
  const outbox = outboxOf(outlet, 2 * size);
  outbox.offer(frame(1));
  await outlet.nextWrite(); // frame 1 is being written
  outbox.offer(frame(2));
  const paused = outbox.writable();
  assert.ok(paused instanceof Promise, "full");
  const second = outlet.nextWrite();
  outlet.release();
  outlet.hold(); // frame 2's write stays pending
  await second;
  assert.equal(outbox.bytes, size, "frame 2 still counted");
  assert.equal(await settlesWithin(paused, 10_000), true, "resumed");
  outlet.release();
  await settled(outbox);
  outbox.close();
});

Deno.test("`Outbox.writable()` resolves when the outbox closes, and is nothing after", async () => {
  const outlet = new FakeOutlet();
  outlet.hold();
  const outbox = outboxOf(outlet, size);
  outbox.offer(frame(1));
  const paused = outbox.writable();
  assert.ok(paused instanceof Promise);
  outbox.close();
  assert.equal(await settlesWithin(paused, 10_000), true);
  assert.equal(outbox.writable(), undefined);
  outlet.release();
});

Deno.test("`Outbox.drain()` returns false in time when the outlet stalls", async () => {
  const outlet = new FakeOutlet();
  outlet.hold();
  const outbox = outboxOf(outlet, 10 * size);
  outbox.offer(frame(1));
  const drained = outbox.drain(20);
  assert.equal(await settlesWithin(drained, 10_000), true, "drain() returns");
  assert.equal(await drained, false);
  outlet.release();
  await settled(outbox);
  outbox.close();
});

Deno.test("`Outbox.drain()` is true at once with nothing queued", async () => {
  const outbox = outboxOf(new FakeOutlet(), size);
  assert.equal(await outbox.drain(0), true);
  outbox.close();
});

Deno.test("`Outbox.drain()` after close says whether anything was left", async () => {
  const outlet = new FakeOutlet();
  outlet.hold();
  const outbox = outboxOf(outlet, 10 * size);
  outbox.offer(frame(1));
  await outlet.nextWrite();
  outbox.offer(frame(2));
  outbox.close();
  assert.equal(await outbox.drain(10_000), false);
  outlet.release();
});

Deno.test("`Outbox` calls `failed` once when a write fails, with its error", async (t) => {
  const table: [string, (outlet: FakeOutlet, error: Error) => void][] = [
    ["a rejected write", (outlet, error) => outlet.fail = error],
    ["a write that throws", (outlet, error) => {
      outlet.write = () => {
        throw error;
      };
    }],
  ];
  for (const [name, breakIt] of table) {
    await t.step(name, async () => {
      const outlet = new FakeOutlet();
      const error = new Error("broken pipe");
      breakIt(outlet, error);
      const failures: unknown[] = [];
      const outbox = new Outbox(outlet, {
        capacity: 10 * size,
        failed: { writeFailed: (err) => failures.push(err) },
        stats: newStats(),
      });
      outbox.offer(frame(1));
      outbox.offer(frame(2));
      outbox.force(frame(3));
      await outbox.drain(10_000);
      assert.deepEqual(failures, [error]);
      outbox.close();
    });
  }
});

Deno.test("`Outbox.close()` is idempotent and closes the outlet once", () => {
  const outlet = new FakeOutlet();
  const outbox = outboxOf(outlet, size);
  outbox.close();
  outbox.close();
  assert.equal(outlet.closes, 1);
});

Deno.test("`Outbox.close()` ignores an outlet that throws on close", () => {
  const outlet = new FakeOutlet();
  outlet.close = () => {
    throw new Error("already closed");
  };
  new Outbox(outlet, {
    capacity: size,
    failed: { writeFailed: noFailure },
    stats: newStats(),
  })
    .close();
});

Deno.test("`Outbox` writes nothing once closed", async () => {
  const outlet = new FakeOutlet();
  const outbox = outboxOf(outlet, 10 * size);
  outbox.offer(frame(1));
  outbox.close();
  outbox.offer(frame(2));
  outbox.force(frame(3));
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.deepEqual(outlet.writes, []);
});

Deno.test("`Outbox` refuses a capacity that is not a positive integer", () => {
  assert.throws(() => outboxOf(new FakeOutlet(), 0), RangeError);
});

Deno.test("Outbox counts the bytes it writes and times one flush in 16, the first included", async () => {
  const stats = newStats();
  let written = 0;
  const outlet = {
    async write(frames: readonly Frame[]) {
      await new Promise((resolve) => setTimeout(resolve, 1));
      for (const frame of frames) written += frame.size;
    },
    close() {},
  };
  const outbox = new Outbox(outlet, {
    capacity: 1 << 20,
    stats,
    failed: { writeFailed: (err) => assert.fail(`write failed: ${err}`) },
  });
  outbox.force(encode({ command: "ping" }));
  assert.ok(await outbox.drain(1000));
  assert.equal(stats.flushSeconds.count, 1, "the first flush is timed");
  assert.ok(stats.flushSeconds.sum > 0);
  // One flush per frame: each is drained before the next is queued.
  for (let i = 1; i < 2 * TIMED_FLUSH_EVERY; i++) {
    outbox.offer(encode({ command: "publish", tags: ["t"], data: `${i}` }));
    assert.ok(await outbox.drain(1000));
  }
  assert.equal(stats.flushSeconds.count, 2);
  assert.equal(stats.bytesSent, written);
  outbox.close();
});

Deno.test("`Outbox` keeps its peak across flushes, whether it kept its queue or let it go", async () => {
  const outlet = new FakeOutlet();
  const outbox = outboxOf(outlet, 100 * size);
  for (let n = 0; n < 3; n++) outbox.offer(frame(n));
  await settled(outbox);
  assert.equal(outbox.bytes, 0);
  assert.equal(outbox.peak, 3 * size);
  // Enough flushes of one frame each for the queue to be kept.
  for (let n = 0; n < 40; n++) {
    outbox.offer(frame(n));
    await settled(outbox);
  }
  assert.equal(outbox.peak, 3 * size);
  for (let n = 0; n < 5; n++) outbox.offer(frame(n));
  assert.equal(outbox.peak, 5 * size);
  await settled(outbox);
  assert.equal(outbox.peak, 5 * size);
  assert.equal(outlet.writes.length, 1 + 40 + 1);
});

/**
 * Frames as canonical publishes make them: lines copied into slabs of
 * `SLAB_BYTES`, `perSlab` lines to a slab, each slab numbered.
 */
function slabFrames(count: number, perSlab: number): Frame[] {
  const frames: Frame[] = [];
  let slab = new Uint8Array(0);
  let used = 0;
  for (let n = 0; n < count; n++) {
    if (n % perSlab === 0) {
      slab = new Uint8Array(SLAB_BYTES);
      used = 0;
    }
    const line = new TextEncoder().encode(
      `{"command":"publish","tags":["t"],"data":"${n}"}\n`,
    );
    const view = slab.subarray(used, used += line.length);
    view.set(line);
    const frame = Frame.ofLine(view, 1 + Math.floor(n / perSlab));
    cutFrom.set(frame, slab.buffer);
    frames.push(frame);
  }
  return frames;
}

/** The slab each frame of {@linkcode slabFrames} was cut from. */
const cutFrom = new WeakMap<Frame, ArrayBufferLike>();

/** Whether each frame's line is still in the slab it was cut from. */
const inSlabs = (frames: Frame[]) =>
  frames.map((frame) => frame.line.buffer === cutFrom.get(frame));

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

Deno.test("`Outbox` of a sparse subscriber that stops reading moves what it holds out of the slabs, then what it queues", async () => {
  const outlet = new FakeOutlet();
  const outbox = outboxOf(outlet, 1_000_000);
  // One line a slab: the queue keeps a slab alive for each of its lines.
  const frames = slabFrames(100, 1);
  const texts = frames.map((frame) => frame.text);
  outlet.hold();
  const first = Math.floor(SLAB_SLACK_BYTES / SLAB_BYTES) - 1;
  for (let i = 0; i < frames.length; i++) {
    outbox.offer(frames[i]!);
    if (i === 0) await outlet.nextWrite(); // the first is being written
    if (i === first) {
      assert.ok(
        inSlabs(frames.slice(0, i + 1)).every(Boolean),
        "within the slack: still in their slabs",
      );
    }
  }
  assert.deepEqual(
    inSlabs(frames),
    Array(frames.length).fill(false),
    "the one being written, those waiting, those queued after: all moved",
  );
  assert.deepEqual(frames.map((frame) => frame.text), texts, "same bytes");
  outlet.release();
  await settled(outbox);
  assert.deepEqual(outlet.writes.flat(), texts, "the same messages, in order");
  outbox.close();
});

Deno.test("`Outbox` of a subscriber of everything that stops reading moves nothing: its lines fill their slabs", async () => {
  const outlet = new FakeOutlet();
  const outbox = outboxOf(outlet, 10_000_000);
  const perSlab = Math.floor(SLAB_BYTES / 64); // lines of under 64 bytes
  const frames = slabFrames(perSlab * 100, perSlab);
  outlet.hold();
  for (const frame of frames) outbox.offer(frame);
  assert.ok(inSlabs(frames).every(Boolean));
  outlet.release();
  await settled(outbox);
  assert.equal(outlet.writes.flat().length, frames.length);
  outbox.close();
});

Deno.test("`Outbox` of a sparse subscriber that keeps up moves nothing, though it is never empty", async () => {
  let written = 0;
  // Each write completes two turns after it was made, and a line comes
  // every turn: something is always queued or being written.
  const outlet: Outlet = {
    async write(frames) {
      await nextTurn();
      await nextTurn();
      written += frames.length;
    },
    close() {},
  };
  const outbox = outboxOf(outlet, 1_000_000);
  const frames = slabFrames(200, 1);
  for (const frame of frames) {
    outbox.offer(frame);
    await nextTurn();
  }
  await settled(outbox);
  assert.equal(written, frames.length);
  assert.ok(inSlabs(frames).every(Boolean));
  outbox.close();
});

Deno.test("`Frame.moveTo()` takes exactly the line's size; `sharesBuffer` says whether it is a view", () => {
  const pooled = frame(7);
  assert.equal(pooled.sharesBuffer, false, "no line yet");
  assert.ok(pooled.line.byteLength < pooled.line.buffer.byteLength);
  assert.equal(pooled.sharesBuffer, true, "Buffer's pool");
  assert.throws(
    () => pooled.moveTo(new Uint8Array(pooled.size + 1)),
    RangeError,
  );
  const own = new Uint8Array(pooled.size);
  pooled.moveTo(own);
  assert.equal(pooled.line, own);
  assert.equal(pooled.sharesBuffer, false);
  assert.equal(pooled.text, frame(7).text);
});
