import assert from "node:assert/strict";
import { Changes, eventually, next, until, within } from "./eventually.ts";

const never = new Promise<never>(() => {});

async function* items<T>(...values: T[]): AsyncGenerator<T> {
  for (const value of values) yield value;
}

function assertionFailure(message: string) {
  return (err: unknown) => {
    assert.ok(err instanceof assert.AssertionError, String(err));
    assert.equal(err.message.split("\n")[0], message);
    return true;
  };
}

Deno.test("`within()` resolves with the promise's value", async () => {
  assert.equal(await within(Promise.resolve(3), "three"), 3);
});

Deno.test("`within()` fails naming what it waited for when nothing comes in time", async () => {
  await assert.rejects(
    within(never, "the reply", 5),
    assertionFailure("the reply: nothing within 5 ms"),
  );
});

Deno.test("`within()` passes the promise's own error through", async () => {
  const error = new Error("boom");
  await assert.rejects(within(Promise.reject(error), "x"), (e) => e === error);
});

Deno.test("`Changes.next()` resolves at the next `notify()`, for every waiter", async () => {
  const changes = new Changes();
  const woken: number[] = [];
  const a = changes.next().then(() => woken.push(1));
  const b = changes.next().then(() => woken.push(2));
  await Promise.resolve();
  assert.deepEqual(woken, []);
  changes.notify();
  await within(Promise.all([a, b]), "both waiters");
  assert.deepEqual(woken.sort(), [1, 2]);
});

Deno.test("`Changes.next()` is not woken by an earlier `notify()`", async () => {
  const changes = new Changes();
  changes.notify();
  const later = changes.next();
  let woken = false;
  later.then(() => woken = true);
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.equal(woken, false);
  changes.notify();
  await within(later, "the later waiter");
});

Deno.test("`eventually()` returns at once when the condition holds", async () => {
  let calls = 0;
  await eventually(() => ++calls > 0, "at once", 1);
  assert.equal(calls, 1);
});

Deno.test("`eventually()` checks again until the condition holds, sync or async", async (t) => {
  const table: [string, (n: number) => boolean | Promise<boolean>][] = [
    ["sync", (n) => n >= 3],
    ["async", (n) => Promise.resolve(n >= 3)],
  ];
  for (const [name, check] of table) {
    await t.step(name, async () => {
      let calls = 0;
      await eventually(() => check(++calls), "third time");
      assert.equal(calls, 3);
    });
  }
});

Deno.test("`eventually()` fails naming what never happened", async (t) => {
  const table: [string, number | { timeoutMs: number; changes?: Changes }][] = [
    ["a timeout in ms", 5],
    ["a timeout in options", { timeoutMs: 5 }],
    ["with changes that never come", { timeoutMs: 5, changes: new Changes() }],
  ];
  for (const [name, options] of table) {
    await t.step(name, async () => {
      await assert.rejects(
        eventually(() => false, "the impossible", options),
        assertionFailure("never happened: the impossible"),
      );
    });
  }
});

Deno.test("`eventually()` with changes re-checks at each change", async () => {
  const changes = new Changes();
  let value = 0;
  let checks = 0;
  const waiting = eventually(
    () => {
      checks++;
      return value === 2;
    },
    "value 2",
    { changes },
  );
  for (const v of [1, 2]) {
    await new Promise((resolve) => setTimeout(resolve, 0));
    value = v;
    changes.notify();
  }
  await within(waiting, "eventually()");
  assert.ok(checks >= 2 && checks <= 4, `${checks} checks`);
});

Deno.test("`eventually()` with changes does not poll between changes", async () => {
  const changes = new Changes();
  let checks = 0;
  let value = false;
  const waiting = eventually(
    () => {
      checks++;
      return value;
    },
    "the value",
    { changes },
  );
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(checks, 2, "the first check and the loop's, then it waits");
  value = true;
  changes.notify();
  await within(waiting, "eventually()");
  assert.equal(checks, 3);
});

Deno.test("`next()` returns the next item of an iterator", async () => {
  const iterator = items("a", "b");
  assert.equal(await next(iterator), "a");
  assert.equal(await next(iterator), "b");
});

Deno.test("`next()` fails when the iterator ended", async () => {
  await assert.rejects(
    next(items(), "a message"),
    assertionFailure("a message: the iterator ended"),
  );
});

Deno.test("`next()` fails when nothing comes in time", async () => {
  const stalled: AsyncIterator<number> = { next: () => never };
  await assert.rejects(
    next(stalled, "a number", 5),
    assertionFailure("a number: nothing within 5 ms"),
  );
});

Deno.test("`until()` returns the first item that passes and the ones skipped", async () => {
  const { item, skipped } = await until(
    items(1, 2, 3, 4, 5),
    (n) => n > 2,
    "above 2",
  );
  assert.equal(item, 3);
  assert.deepEqual(skipped, [1, 2]);
});

Deno.test("`until()` fails when the iterator ends first", async () => {
  await assert.rejects(
    until(items(1, 2), (n) => n > 5, "above 5"),
    assertionFailure("above 5: the iterator ended"),
  );
});

Deno.test("`until()` fails when no item passes in time", async () => {
  let n = 0;
  const slow: AsyncIterator<number> = {
    next: () => n++ < 1 ? Promise.resolve({ value: n, done: false }) : never,
  };
  await assert.rejects(
    until(slow, () => false, "a match", 5),
    (err) =>
      err instanceof assert.AssertionError && /a match/.test(err.message),
  );
});

Deno.test("`until()` gives up after 10000 items", async () => {
  let n = 0;
  const endless: AsyncIterator<number> = {
    next: () => Promise.resolve({ value: n++, done: false }),
  };
  await assert.rejects(
    until(endless, () => false, "a match"),
    assertionFailure("a match: not among 10000 items"),
  );
  assert.equal(n, 10_000);
});
