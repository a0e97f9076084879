/**
 * The client's heartbeat (src/client/connector.ts): behind a proxy that goes
 * silent (the connection stays open, nothing gets through), the client's
 * ping goes unanswered, and it reconnects and resubscribes by itself.
 */

import assert from "node:assert/strict";
import { connect } from "../../src/client/client.ts";
import type { ClientEvent } from "../../src/client/status.ts";
import { serve } from "../../src/server/server.ts";
import { eventually, hostPort, next, sleep } from "../_helpers.ts";
import { TcpProxy } from "../_tcp_proxy.ts";

Deno.test("heartbeat: a client behind a proxy gone silent reconnects within ping interval + timeout and resubscribes", async () => {
  await using server = await serve({ listeners: ["tcp://127.0.0.1:0"] });
  await using proxy = new TcpProxy(hostPort(server.addresses[0]!));
  await using client = await connect(`tcp://127.0.0.1:${proxy.port}`, {
    pingIntervalMs: 200,
    pingTimeoutMs: 200,
    reconnect: { initialDelayMs: 10, maxDelayMs: 10 },
  });
  const status = client.status();
  const subscription = await client.subscribe(["t"]);
  const deliveries = subscription[Symbol.asyncIterator]();
  proxy.silenceExisting();
  const events: ClientEvent["type"][] = [];
  while (!events.includes("reconnect")) {
    events.push((await next(status, "a status event", 10_000)).type);
  }
  assert.equal(events[0], "disconnect");
  assert.equal(client.state, "connected");
  // "reconnect" comes once the subscription is restored on the new
  // connection (the old one is still held by the server: nothing told it).
  assert.equal(server.stats().subscriptions, 2);
  server.publish(["t"], "after");
  assert.equal((await next(deliveries, "a delivery", 10_000)).data, "after");
});

Deno.test("heartbeat: with pingIntervalMs 0 the client never pings", async () => {
  await using server = await serve({ listeners: ["tcp://127.0.0.1:0"] });
  await using client = await connect(server.addresses[0]!, {
    pingIntervalMs: 0,
    pingTimeoutMs: 1,
  });
  const before = server.stats().listeners[0]!.bytesReceived;
  await sleep(200);
  assert.equal(server.stats().listeners[0]!.bytesReceived, before);
  assert.equal(client.state, "connected");
});

Deno.test("heartbeat: a live connection answers its pings and stays", async () => {
  await using server = await serve({ listeners: ["tcp://127.0.0.1:0"] });
  await using client = await connect(server.addresses[0]!, {
    pingIntervalMs: 20,
    pingTimeoutMs: 5_000,
  });
  const before = server.stats().listeners[0]!.bytesReceived;
  await eventually(
    () => server.stats().listeners[0]!.bytesReceived >= before + 3 * 18,
    "three pings",
  );
  assert.equal(server.stats().listeners[0]!.accepted, 1);
  assert.equal(client.state, "connected");
});
