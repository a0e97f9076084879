import assert from "node:assert/strict";
import { MistError } from "../protocol/errors.ts";
import { type ClientEvent, STATUS_BUFFER, StatusFeed } from "./status.ts";

async function drain(
  reader: AsyncIterableIterator<ClientEvent>,
): Promise<ClientEvent[]> {
  const events: ClientEvent[] = [];
  for await (const event of reader) events.push(event);
  return events;
}

const dropped = (count: number): ClientEvent => ({ type: "dropped", count });

Deno.test("`StatusFeed.emit()` hands each event to every open reader", async () => {
  const feed = new StatusFeed();
  const a = feed.reader();
  const b = feed.reader();
  feed.emit(dropped(1));
  feed.emit({ type: "error", error: new MistError("timeout") });
  feed.end();
  const [fromA, fromB] = await Promise.all([drain(a), drain(b)]);
  assert.deepEqual(fromA.map((e) => e.type), ["dropped", "error"]);
  assert.deepEqual(fromB, fromA);
});

Deno.test("`StatusFeed.reader()` sees only the events from its start on", async () => {
  const feed = new StatusFeed();
  feed.emit(dropped(1));
  const late = feed.reader();
  feed.emit(dropped(2));
  feed.end();
  assert.deepEqual(await drain(late), [dropped(2)]);
});

Deno.test("`StatusFeed.end()` ends readers after what they have not read yet", async () => {
  const feed = new StatusFeed();
  const reader = feed.reader();
  feed.emit(dropped(1));
  feed.end();
  assert.deepEqual(await reader.next(), { value: dropped(1), done: false });
  assert.equal((await reader.next()).done, true);
});

Deno.test("`StatusFeed.end()` is idempotent, and a reader after it is already ended", async () => {
  const feed = new StatusFeed();
  feed.end();
  feed.end();
  const reader = feed.reader();
  feed.emit(dropped(1));
  assert.deepEqual(await drain(reader), []);
});

Deno.test("`StatusFeed` stops handing events to a reader that returned", async () => {
  const feed = new StatusFeed();
  const quitter = feed.reader();
  const stayer = feed.reader();
  await quitter.return?.();
  feed.emit(dropped(1));
  feed.end();
  assert.equal((await quitter.next()).done, true);
  assert.deepEqual(await drain(stayer), [dropped(1)]);
});

Deno.test("`StatusFeed` keeps the newest `STATUS_BUFFER` events of a reader that does not read", async () => {
  const feed = new StatusFeed();
  const reader = feed.reader();
  const total = STATUS_BUFFER + 10;
  for (let i = 1; i <= total; i++) feed.emit(dropped(i));
  feed.end();
  const events = await drain(reader);
  assert.equal(events.length, STATUS_BUFFER);
  assert.deepEqual(events[0], dropped(11));
  assert.deepEqual(events.at(-1), dropped(total));
});

Deno.test("`StatusFeed` wakes a reader waiting for the next event", async () => {
  const feed = new StatusFeed();
  const reader = feed.reader();
  const waiting = reader.next();
  feed.emit(dropped(3));
  assert.deepEqual(await waiting, { value: dropped(3), done: false });
  feed.end();
});
