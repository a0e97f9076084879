import assert from "node:assert/strict";
import { openMemory } from "../auth/memory.ts";
import { MistError } from "../protocol/errors.ts";
import { serve } from "../server/server.ts";
import { eventually } from "../testing/eventually.ts";
import { connect } from "./client.ts";
import { RequestTracker } from "./requests.ts";
import { type ClientEvent, StatusFeed } from "./status.ts";
import type { Delivery } from "./subscription.ts";
import { SubscriptionRegistry } from "./subscription_registry.ts";

const ADMIN = "admin";
const USER = "user-token-1";

/** Everything an iterator yields, as it arrives, until it ends. */
function collect<T>(iterable: AsyncIterable<T>): {
  items: T[];
  done: Promise<unknown>;
} {
  const items: T[] = [];
  const done = (async () => {
    for await (const item of iterable) items.push(item);
  })().catch((err: unknown) => err);
  return { items, done };
}

Deno.test("a revoked subscription ends with forbidden and is not subscribed again", async () => {
  await using server = await serve({
    listeners: ["tcp://127.0.0.1:0"],
    authenticator: await openMemory(new URL("memory://")),
    token: ADMIN,
    // Closes the connection that sends it: a way to force a reconnect.
    commands: { kick: (connection) => connection.close() },
  });
  const url = server.addresses[0]!;
  await using admin = await connect(url, { token: ADMIN });
  await admin.admin.register(USER, ["a", "b", "c"]);
  await using user = await connect(url, {
    token: USER,
    reconnect: { initialDelayMs: 5, maxDelayMs: 20 },
  });
  const status = collect<ClientEvent>(user.status());
  const all = collect<Delivery>(user.messages());
  const revoked = await user.subscribe(["b", "a"]);
  const twin = await user.subscribe(["a", "b"]); // the same server subscription
  const kept = await user.subscribe(["c"]);
  const keptMessages = collect<Delivery>(kept);

  await admin.admin.unset(USER, ["b"]);
  await eventually(
    () => revoked.isClosed && twin.isClosed,
    "both subscriptions on the revoked tag set to end",
  );
  for (const sub of [revoked, twin]) {
    await assert.rejects(
      async () => {
        for await (const _ of sub) assert.fail("no message was published");
      },
      (err: unknown) => {
        assert.ok(err instanceof MistError);
        assert.equal(err.code, "forbidden");
        assert.equal(err.message, 'forbidden: revoked ["a","b"]');
        return true;
      },
    );
  }
  assert.equal(kept.isClosed, false);
  assert.deepEqual(await user.list(), [["c"]]);

  // The other subscription and the message iterator go on.
  await admin.publish(["c"], "still granted");
  await eventually(
    () => keptMessages.items.length === 1 && all.items.length === 1,
    "the message on the still-granted tag",
  );
  assert.equal(keptMessages.items[0]!.data, "still granted");
  assert.equal(all.items[0]!.data, "still granted");

  // Granted again, a tag set the client still held would be subscribed again
  // after the reconnect: the revoked one must not be.
  await admin.admin.set(USER, ["b"]);
  await assert.rejects(user.request({ command: "kick" }), {
    name: "MistError",
    code: "connection_closed",
  });
  await eventually(
    () => status.items.some((e) => e.type === "reconnect"),
    "the client to reconnect",
  );
  assert.deepEqual(await user.list(), [["c"]]);
  assert.equal(kept.isClosed, false);
  await admin.publish(["a", "b", "c"], "after the reconnect");
  await eventually(
    () => keptMessages.items.length === 2 && all.items.length === 2,
    "the message after the reconnect",
  );
  // Neither the notice nor the reconnect was taken for a delivery or an
  // unexpected frame.
  assert.deepEqual(all.items.map((m) => m.data), [
    "still granted",
    "after the reconnect",
  ]);
  assert.deepEqual(status.items.filter((e) => e.type === "error"), []);

  await user.close();
  assert.equal(await status.done, undefined);
  assert.equal(await all.done, undefined);
  assert.equal(await keptMessages.done, undefined);
});

Deno.test("unregister ends every subscription of the token with forbidden", async () => {
  await using server = await serve({
    listeners: ["tcp://127.0.0.1:0"],
    authenticator: await openMemory(new URL("memory://")),
    token: ADMIN,
  });
  const url = server.addresses[0]!;
  await using admin = await connect(url, { token: ADMIN });
  await admin.admin.register(USER, ["x", "y"]);
  await using user = await connect(url, { token: USER });
  const subs = [await user.subscribe(["x"]), await user.subscribe(["x", "y"])];
  const ends = subs.map((sub) => collect<Delivery>(sub).done);

  await admin.admin.unregister(USER);
  await eventually(
    () => subs.every((sub) => sub.isClosed),
    "every subscription of the token to end",
  );
  for (const [i, done] of ends.entries()) {
    const err = await done;
    assert.ok(err instanceof MistError, `subscription ${i}`);
    assert.equal(err.code, "forbidden");
  }
  assert.match(String(await ends[1]), /revoked \["x","y"\]/);
  assert.deepEqual(await user.list(), []);
});

Deno.test("revoke() reports a notice without tags and ignores a tag set it does not hold", async () => {
  const events = new StatusFeed();
  const status = events.reader();
  const registry = new SubscriptionRegistry({
    requests: new RequestTracker({
      server: "tcp://test:1",
      requestTimeoutMs: 1000,
      whenDisconnected: "fail",
      connection: () => undefined,
    }),
    events,
    maxPendingBytes: 1024,
  });
  const all = registry.messages({});
  registry.revoke(undefined);
  registry.revoke([]);
  registry.revoke(["not", "held"]);
  events.end();
  const seen: ClientEvent[] = [];
  for await (const event of status) seen.push(event);
  assert.deepEqual(
    seen.map((e) => e.type === "error" && e.error.message),
    [
      "protocol error: a revoked notice without tags",
      "protocol error: a revoked notice without tags",
    ],
  );
  registry.endAll(undefined);
  assert.deepEqual(await all.next(), { value: undefined, done: true });
});
