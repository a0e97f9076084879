/**
 * Server-Sent Events (src/listeners/sse.ts): `GET /subscribe` on the HTTP
 * listener (docs/protocol.md §8).
 */

import assert from "node:assert/strict";
import {
  addressOf,
  allServer,
  EventStreamClient,
  eventually,
  fetchJson,
  LineClient,
} from "../_helpers.ts";

Deno.test("GET /subscribe streams each tags parameter as one subscription", async () => {
  await using server = await allServer({ keepAliveMs: 50 });
  const http = addressOf(server, "http");
  await using publisher = await LineClient.connect(addressOf(server, "tcp"));
  await using sse = await EventStreamClient.open(
    `${http}/subscribe?tags=a,b&tags=c`,
  );
  assert.equal(server.stats().subscriptions, 2);
  for (
    const tags of [["a"], ["b"], ["b", "a"], ["c"], ["c", "a", "b"], ["z"]]
  ) {
    await publisher.send({ command: "publish", tags, data: tags.join("") });
  }
  await publisher.sync();
  const got = [];
  for (let i = 0; i < 3; i++) got.push((await sse.next()).data);
  assert.deepEqual(got, ["ba", "c", "cab"]);
  // Keep-alive comments come while the stream is idle.
  assert.equal(await sse.nextComment(), "keep-alive");
});

Deno.test("GET /subscribe refuses missing and invalid tags before streaming", async () => {
  await using server = await allServer({ limits: { maxTags: 2 } });
  const http = addressOf(server, "http");
  for (
    const [query, error] of [
      ["", "missing tags"],
      ["?tags=", "missing tags"],
      ["?tags=,,", "missing tags"],
      ["?tags=a,b,c", "too many tags: 3 > 2"],
    ]
  ) {
    assert.deepEqual(await fetchJson(`${http}/subscribe${query}`), {
      status: 400,
      body: { command: "subscribe", error },
    });
  }
  assert.equal(server.stats().subscriptions, 0);
});

Deno.test("GET /subscribe keeps tags exact and counts a repeated subscription once", async () => {
  await using server = await allServer({ limits: { maxSubscriptions: 2 } });
  const http = addressOf(server, "http");
  await using publisher = await LineClient.connect(addressOf(server, "tcp"));
  await using spaced = await EventStreamClient.open(
    `${http}/subscribe?tags=%20sp&tags=%20sp&tags=b`,
  );
  assert.equal(server.stats().subscriptions, 2);
  await publisher.send({ command: "publish", tags: ["sp"], data: "no space" });
  await publisher.send({ command: "publish", tags: [" sp"], data: "space" });
  await publisher.sync();
  assert.equal((await spaced.next()).data, "space");
});

Deno.test("an event stream's subscriptions go away with its client", async () => {
  await using server = await allServer();
  const sse = await EventStreamClient.open(
    `${addressOf(server, "http")}/subscribe?tags=a&tags=b`,
  );
  assert.equal(server.stats().subscriptions, 2);
  await sse.close();
  await eventually(
    () => server.stats().subscriptions === 0,
    "the stream's subscriptions to go",
  );
  await eventually(
    () => server.stats().listeners.every((l) => l.connections === 0),
    "the stream's session to close",
  );
});

Deno.test("an event stream gets a burst larger than its buffer whole and in order", async () => {
  await using server = await allServer();
  await using publisher = await LineClient.connect(addressOf(server, "tcp"));
  await using sse = await EventStreamClient.open(
    `${addressOf(server, "http")}/subscribe?tags=a`,
  );
  // About 400 KB: many write chunks, and past the stream's high-water mark,
  // so the outlet must wait for the client between chunks.
  const count = 3000;
  const pad = "x".repeat(120);
  for (let i = 0; i < count; i++) {
    await publisher.send({
      command: "publish",
      tags: ["a"],
      data: `${i}${pad}`,
    });
  }
  await publisher.sync();
  for (let i = 0; i < count; i++) {
    assert.equal((await sse.next()).data, `${i}${pad}`);
  }
});
