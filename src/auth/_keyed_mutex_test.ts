import assert from "node:assert/strict";
import { KeyedMutex } from "./_keyed_mutex.ts";

/** Resolves after the event loop has turned a few times. */
function turns(n: number): Promise<void> {
  let p = Promise.resolve();
  for (let i = 0; i < n; i++) {
    p = p.then(() => new Promise((resolve) => setTimeout(resolve, 0)));
  }
  return p;
}

Deno.test("`run()` runs operations on one key one at a time, in order", async () => {
  const mutex = new KeyedMutex();
  const events: string[] = [];
  let inside = 0;
  await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      mutex.run("k", async () => {
        inside++;
        assert.equal(inside, 1);
        events.push(`start ${i}`);
        await turns(i % 3);
        events.push(`end ${i}`);
        inside--;
      })),
  );
  assert.deepEqual(
    events,
    Array.from({ length: 20 }, (_, i) => [`start ${i}`, `end ${i}`]).flat(),
  );
});

Deno.test("`run()` lets operations on different keys overlap", async () => {
  const mutex = new KeyedMutex();
  let releaseA!: () => void;
  const a = mutex.run("a", () => new Promise<void>((r) => releaseA = r));
  // "b" finishes while "a" still holds its key.
  assert.equal(await mutex.run("b", () => Promise.resolve("b")), "b");
  releaseA();
  await a;
});

Deno.test("`run()` passes a failure on and still runs the next operation", async () => {
  const mutex = new KeyedMutex();
  const failing = mutex.run("k", () => Promise.reject(new Error("boom")));
  const next = mutex.run("k", () => Promise.resolve(2));
  await assert.rejects(failing, /boom/);
  assert.equal(await next, 2);
});

Deno.test("`idle()` waits for queued operations", async () => {
  const mutex = new KeyedMutex();
  let done = 0;
  for (let i = 0; i < 5; i++) {
    mutex.run(`k${i % 2}`, async () => {
      await turns(2);
      done++;
    });
  }
  await mutex.idle();
  assert.equal(done, 5);
  await mutex.idle(); // nothing queued: returns at once
});
