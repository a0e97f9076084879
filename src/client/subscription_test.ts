import assert from "node:assert/strict";
import {
  ClientSubscription,
  type Delivery,
  deliverySize,
  type SubscriptionHost,
} from "./subscription.ts";

/** A host that records what the subscription asks of it. */
class FakeHost implements SubscriptionHost {
  released: ClientSubscription[] = [];
  overflows = 0;
  release(subscription: ClientSubscription): Promise<void> {
    this.released.push(subscription);
    subscription.end();
    return Promise.resolve();
  }
  overflow(): void {
    this.overflows++;
  }
}

function delivery(data: string, tags = ["a"]): Delivery {
  return { command: "publish", tags, data };
}

function subscription(maxPendingBytes = 1 << 20) {
  const host = new FakeHost();
  const sub = new ClientSubscription(["a"], { maxPendingBytes, host });
  return { host, sub };
}

async function read(sub: ClientSubscription): Promise<string[]> {
  const data: string[] = [];
  for await (const d of sub) data.push(d.data);
  return data;
}

Deno.test("`deliverySize()` counts the data, the tags and a fixed overhead", async (t) => {
  const table: [Delivery, number][] = [
    [delivery("", []), 64],
    [delivery("hello", []), 69],
    [delivery("", ["ab", "c"]), 67],
    [delivery("xy", ["tag"]), 69],
  ];
  for (const [d, size] of table) {
    await t.step(JSON.stringify(d), () => assert.equal(deliverySize(d), size));
  }
});

Deno.test("`ClientSubscription` yields what was pushed, in order, until it ends", async () => {
  const { sub } = subscription();
  sub.push(delivery("1"));
  sub.push(delivery("2"));
  sub.end();
  assert.deepEqual(await read(sub), ["1", "2"]);
  assert.equal(sub.isClosed, true);
});

Deno.test("`ClientSubscription.end()` with an error throws it after what was pushed", async () => {
  const { sub } = subscription();
  sub.push(delivery("1"));
  sub.end(new Error("revoked"));
  const data: string[] = [];
  await assert.rejects(async () => {
    for await (const d of sub) data.push(d.data);
  }, { message: "revoked" });
  assert.deepEqual(data, ["1"]);
});

Deno.test("`ClientSubscription.end()` is idempotent: the first call decides", async () => {
  const { sub } = subscription();
  sub.end();
  sub.end(new Error("late"));
  assert.deepEqual(await read(sub), []);
});

Deno.test("`ClientSubscription.closed` resolves when it ends", async () => {
  const { sub } = subscription();
  let closed = false;
  sub.closed.then(() => closed = true);
  await Promise.resolve();
  assert.equal(closed, false);
  assert.equal(sub.isClosed, false);
  sub.end();
  await sub.closed;
  assert.equal(closed, true);
});

Deno.test("`ClientSubscription` drops the newest past its bytes, telling the host once per run", async () => {
  const size = deliverySize(delivery("x"));
  const { sub, host } = subscription(2 * size);
  sub.push(delivery("1"));
  sub.push(delivery("2"));
  sub.push(delivery("3"));
  sub.push(delivery("4"));
  assert.equal(sub.dropped, 2);
  assert.equal(host.overflows, 1);
  const iterator = sub[Symbol.asyncIterator]();
  assert.equal((await iterator.next()).value?.data, "1");
  sub.push(delivery("5")); // fits again: the run of drops is over
  sub.push(delivery("6"));
  assert.equal(sub.dropped, 3);
  assert.equal(host.overflows, 2);
  sub.end();
  assert.deepEqual(await read(sub), ["2", "5"]);
});

Deno.test("`ClientSubscription.unsubscribe()` asks the host to release it", async () => {
  const { sub, host } = subscription();
  await sub.unsubscribe();
  assert.deepEqual(host.released, [sub]);
});

Deno.test("`ClientSubscription` disposal unsubscribes", async () => {
  const host = new FakeHost();
  {
    await using sub = new ClientSubscription(["a"], {
      maxPendingBytes: 100,
      host,
    });
    assert.deepEqual(host.released, []);
    void sub;
  }
  assert.equal(host.released.length, 1);
});

Deno.test("`ClientSubscription` unsubscribes when the reader breaks out of the loop", async () => {
  const { sub, host } = subscription();
  sub.push(delivery("1"));
  sub.push(delivery("2"));
  for await (const _ of sub) break;
  assert.deepEqual(host.released, [sub]);
});

Deno.test("`ClientSubscription` breaking out unsubscribes even when the host fails", async () => {
  const host: SubscriptionHost = {
    release: () => Promise.reject(new Error("client closed")),
    overflow: () => {},
  };
  const sub = new ClientSubscription(["a"], { maxPendingBytes: 100, host });
  sub.push(delivery("1"));
  for await (const _ of sub) break; // the rejection is swallowed
  await new Promise((resolve) => setTimeout(resolve, 0));
});

Deno.test("`ClientSubscription` keeps its tags", () => {
  const host = new FakeHost();
  const sub = new ClientSubscription(["a", "b"], { maxPendingBytes: 1, host });
  assert.deepEqual(sub.tags, ["a", "b"]);
});
