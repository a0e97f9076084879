import assert from "node:assert/strict";
import type { Frame } from "../protocol/codec.ts";
import { Broker } from "./broker.ts";

class Inbox {
  frames: Frame[] = [];
  deliver(frame: Frame): void {
    this.frames.push(frame);
  }
  get texts(): string[] {
    return this.frames.map((f) => f.text);
  }
}

Deno.test("Broker delivers a message once per subscriber, however many subscriptions match", () => {
  const broker = new Broker<Inbox>();
  const inbox = new Inbox();
  broker.subscribe(inbox, ["a"]);
  broker.subscribe(inbox, ["a", "b"]);
  broker.subscribe(inbox, ["b"]);
  assert.equal(broker.publish(undefined, ["a", "b"], "x"), 1);
  assert.equal(inbox.frames.length, 1);
});

Deno.test("Broker never delivers to the publisher", () => {
  const broker = new Broker<Inbox>();
  const alice = new Inbox(), bob = new Inbox();
  broker.subscribe(alice, ["a"]);
  broker.subscribe(bob, ["a"]);
  assert.equal(broker.publish(alice, ["a"], "x"), 1);
  assert.equal(alice.frames.length, 0);
  assert.equal(bob.frames.length, 1);
});

Deno.test("Broker serialises a message once for every receiver, its tags sorted and de-duplicated", () => {
  const broker = new Broker<Inbox>();
  const inboxes = Array.from({ length: 5 }, () => new Inbox());
  for (const inbox of inboxes) broker.subscribe(inbox, ["a"]);
  broker.publish(undefined, ["z", "a", "a"], "x");
  const first = inboxes[0]!.frames[0]!;
  assert.equal(
    first.text,
    '{"command":"publish","tags":["a","z"],"data":"x"}',
  );
  for (const inbox of inboxes) assert.equal(inbox.frames[0], first);
});

Deno.test("Broker keeps publish order", () => {
  const broker = new Broker<Inbox>();
  const inbox = new Inbox();
  broker.subscribe(inbox, ["a"]);
  for (let i = 0; i < 100; i++) broker.publish(undefined, ["a"], `${i}`);
  assert.deepEqual(
    inbox.texts.map((t) => JSON.parse(t).data),
    Array.from({ length: 100 }, (_, i) => `${i}`),
  );
});

Deno.test("Broker treats a tag set in any order, with duplicates, as one subscription", () => {
  const broker = new Broker<Inbox>();
  const inbox = new Inbox();
  assert.ok(broker.subscribe(inbox, ["b", "a"]));
  assert.ok(!broker.subscribe(inbox, ["a", "b", "a"]));
  assert.equal(broker.count(inbox), 1);
  assert.deepEqual(broker.subscriptions(inbox), [["a", "b"]]);
  assert.ok(!broker.unsubscribe(inbox, ["a"]), "only the exact set");
  assert.ok(broker.unsubscribe(inbox, ["b", "a", "b"]));
  assert.equal(broker.indexSize, 0);
});

Deno.test("Broker lists subscriptions sorted", () => {
  const broker = new Broker<Inbox>();
  const inbox = new Inbox();
  broker.subscribe(inbox, ["hello"]);
  broker.subscribe(inbox, ["b", "a"]);
  broker.subscribe(inbox, ["a"]);
  assert.deepEqual(broker.subscriptions(inbox), [["a"], ["a", "b"], ["hello"]]);
  assert.deepEqual(broker.subscriptions(new Inbox()), []);
});

Deno.test("Broker enforces the subscription limit but lets a duplicate through", () => {
  const broker = new Broker<Inbox>();
  const inbox = new Inbox();
  broker.subscribe(inbox, ["a"], 2);
  broker.subscribe(inbox, ["b"], 2);
  assert.ok(!broker.subscribe(inbox, ["a"], 2));
  assert.throws(() => broker.subscribe(inbox, ["c"], 2), {
    message: "too many subscriptions",
  });
  assert.equal(broker.count(inbox), 2);
});

Deno.test("Broker.remove() and retain() leave the index empty", () => {
  const broker = new Broker<Inbox>();
  const a = new Inbox(), b = new Inbox();
  broker.subscribe(a, ["x", "y"]);
  broker.subscribe(a, ["x"]);
  broker.subscribe(b, ["x", "y", "z"]);
  assert.equal(broker.retain(b, (tags) => !tags.includes("z")), 1);
  assert.equal(broker.remove(a), 2);
  assert.equal(broker.subscriptionCount, 0);
  assert.equal(broker.subscriberCount, 0);
  assert.equal(broker.indexSize, 0);
});

Deno.test("Broker.publish() marks a frame that went to several subscribers as shared, not one that went to one", () => {
  const frames: Frame[] = [];
  const subscriber = () => ({ deliver: (frame: Frame) => frames.push(frame) });
  const broker = new Broker();
  broker.subscribe(subscriber(), ["a"]);
  broker.subscribe(subscriber(), ["a"]);
  broker.subscribe(subscriber(), ["b"]);
  broker.publish(undefined, ["a"], "to two");
  broker.publish(undefined, ["b"], "to one");
  assert.deepEqual(
    frames.map((frame) => [frame.text.length > 0, frame.shared]),
    [
      [true, true],
      [true, true],
      [true, false],
    ],
  );
});
