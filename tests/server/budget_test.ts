/**
 * The subscription budget end to end (docs/protocol.md §6): what a client can
 * subscribe to is bounded per connection and over the server, and the
 * accounting follows every way a subscription ends.
 */

import assert from "node:assert/strict";
import { openAuthenticator } from "../../src/auth/builtin.ts";
import type { Message } from "../../src/protocol/codec.ts";
import type { MistServer } from "../../src/server/server.ts";
import {
  addressOf,
  allServer,
  EventStreamClient,
  eventually,
  LineClient,
  tcpServer,
} from "../_helpers.ts";

const TOO_LARGE = /^subscriptions too large: /;
const BUDGET = "too many subscriptions: server budget reached";

/** 64 distinct tags of 1,000 bytes: 64,000 bytes of tags, within every default limit. */
function bigTags(connection: number, subscription: number): string[] {
  return Array.from(
    { length: 64 },
    (_, i) => `${connection}-${subscription}-${i}-`.padEnd(1000, "x"),
  );
}

/** Subscribes, pipelined, and returns each reply. */
async function subscribeAll(
  client: LineClient,
  sets: string[][],
): Promise<Message[]> {
  await client.sendFrames(
    sets.map((tags, id) => JSON.stringify({ command: "subscribe", tags, id })),
  );
  const replies: Message[] = [];
  for (let i = 0; i < sets.length; i++) replies.push(await client.next());
  return replies;
}

async function subscribe(client: LineClient, tags: string[]): Promise<string> {
  const reply = await client.request({ command: "subscribe", tags, id: 0 });
  return reply.error ?? reply.data ?? "";
}

async function listed(client: LineClient): Promise<string[][]> {
  const reply = await client.request({ command: "list" });
  assert.equal(reply.error, undefined);
  return JSON.parse(reply.data!);
}

Deno.test("8 connections subscribing 64 tags of 1,000 bytes over and over are refused past the budget, and the server answers", async () => {
  const perConnection = Math.floor(4 * 1024 * 1024 / 64_000); // 65
  const total = Math.floor(16 * 1024 * 1024 / 64_000); // 262 < 8 × 65
  await using server = await tcpServer({
    maxTotalSubscriptionBytes: 16 * 1024 * 1024,
  });
  const url = server.addresses[0]!;
  const clients = await Promise.all(
    Array.from({ length: 8 }, () => LineClient.connect(url)),
  );
  try {
    // One connection after the other, so that which limit each meets is
    // known: 4 connections fill their 4 MiB, the fifth meets the server's.
    const outcomes: Message[][] = [];
    for (const [c, client] of clients.entries()) {
      outcomes.push(
        await subscribeAll(
          client,
          Array.from({ length: 68 }, (_, s) => bigTags(c, s)),
        ),
      );
    }
    const kinds = outcomes.map((replies) =>
      replies.map((reply) =>
        reply.data === "ok"
          ? "ok"
          : reply.error === BUDGET
          ? "server"
          : TOO_LARGE.test(reply.error ?? "")
          ? "connection"
          : `unexpected: ${reply.error}`
      )
    );
    const count = (c: number, kind: string) =>
      kinds[c]!.filter((k) => k === kind).length;
    for (let c = 0; c < 4; c++) {
      assert.deepEqual([count(c, "ok"), count(c, "connection")], [
        perConnection,
        68 - perConnection,
      ]);
    }
    const fifth = total - 4 * perConnection; // 2
    assert.deepEqual([count(4, "ok"), count(4, "server")], [fifth, 68 - fifth]);
    for (let c = 5; c < 8; c++) assert.equal(count(c, "server"), 68);
    assert.equal(server.stats().subscriptions, total);
    // Every connection still answers, and its list is what it holds.
    for (const [c, client] of clients.entries()) {
      const held = outcomes[c]!.filter((r) => r.data === "ok").length;
      assert.equal((await listed(client)).length, held);
    }
    // What closed connections held is free again.
    const emptied = clients.splice(0, 4);
    const freed = outcomes.slice(0, 4).flat().filter((r) => r.data === "ok")
      .length;
    await Promise.all(emptied.map((client) => client.close()));
    await eventually(
      () => server.stats().subscriptions === total - freed,
      "the closed connections' subscriptions given back",
    );
    await using again = await LineClient.connect(url);
    const replies = await subscribeAll(
      again,
      Array.from({ length: 70 }, (_, s) => bigTags(9, s)),
    );
    const ok = replies.filter((r) => r.data === "ok").length;
    assert.equal(ok, Math.min(perConnection, freed));
    assert.equal(server.stats().subscriptions, total - freed + ok);
  } finally {
    await Promise.all(clients.map((client) => client.close()));
  }
});

Deno.test("the budget counts a subscription once, and gives back what unsubscribe and close end", async () => {
  await using server = await tcpServer({
    maxSubscriptionBytes: 10,
    maxTotalSubscriptions: 3,
  });
  const url = server.addresses[0]!;
  await using a = await LineClient.connect(url);
  await using b = await LineClient.connect(url);
  assert.equal(await subscribe(a, ["aaaaa"]), "ok");
  assert.equal(await subscribe(a, ["aaaaa", "aaaaa"]), "ok"); // the same set
  assert.match(await subscribe(a, ["aaaaa", "bbbbbb"]), TOO_LARGE);
  assert.equal(await subscribe(a, ["bbbbb"]), "ok"); // 10 bytes: the limit
  assert.match(await subscribe(a, ["c"]), TOO_LARGE);
  assert.equal(
    (await a.request({ command: "unsubscribe", tags: ["aaaaa"], id: 0 })).data,
    "ok",
  );
  // Unsubscribing what is not held gives nothing back.
  await a.request({ command: "unsubscribe", tags: ["zzz"], id: 0 });
  assert.equal(await subscribe(a, ["c"]), "ok");
  assert.match(await subscribe(a, ["dddddd"]), TOO_LARGE);
  assert.equal(await subscribe(b, ["x"]), "ok"); // 3 held over the server
  assert.equal(await subscribe(b, ["y"]), BUDGET);
  assert.deepEqual(await listed(a), [["bbbbb"], ["c"]]);
  await a.close();
  await eventually(
    () => server.stats().subscriptions === 1,
    "a's subscriptions given back",
  );
  assert.equal(await subscribe(b, ["y"]), "ok");
  assert.equal(await subscribe(b, ["z"]), "ok");
  assert.equal(await subscribe(b, ["w"]), BUDGET);
  assert.equal(server.stats().subscriptions, 3);
});

Deno.test("the budget gives back revoked subscriptions and those of a closed event stream", async () => {
  const ADMIN = "admin-secret";
  await using server: MistServer = await allServer({
    authenticator: await openAuthenticator("memory://"),
    token: ADMIN,
    maxTotalSubscriptions: 2,
  });
  const tcp = addressOf(server, "tcp");
  const as = async (token: string) => {
    const client = await LineClient.connect(tcp);
    assert.equal(
      (await client.request({ command: "auth", data: token, id: 0 })).data,
      "ok",
    );
    return client;
  };
  await using admin = await as(ADMIN);
  await admin.request({
    command: "register",
    tags: ["x", "y"],
    data: "t",
    id: 0,
  });
  await using b = await as("t");
  await using c = await as("t");
  assert.equal(await subscribe(b, ["x"]), "ok");
  assert.equal(await subscribe(b, ["y"]), "ok");
  assert.equal(await subscribe(c, ["x"]), BUDGET);
  await admin.request({ command: "unset", tags: ["y"], data: "t", id: 0 });
  assert.deepEqual(await b.next(), { command: "revoked", tags: ["y"] });
  assert.equal(await subscribe(c, ["x"]), "ok");
  assert.equal(await subscribe(c, ["x"]), "ok"); // held: never refused
  assert.equal(server.stats().subscriptions, 2);
  await b.close();
  await c.close();
  // An event stream's subscriptions count too, and end with it.
  const http = addressOf(server, "http");
  const stream = await EventStreamClient.open(
    `${http}/subscribe?tags=x&tags=x,y`,
    { headers: { "x-auth-token": ADMIN } },
  );
  await using d = await as(ADMIN);
  assert.equal(await subscribe(d, ["z"]), BUDGET);
  await stream.close();
  await eventually(
    () => server.stats().subscriptions === 0,
    "the stream's subscriptions given back",
  );
  assert.equal(await subscribe(d, ["z"]), "ok");
});
