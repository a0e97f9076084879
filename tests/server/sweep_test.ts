/**
 * The server's connection deadlines over real sockets (src/server/sweep.ts):
 * `auth-timeout` closes a connection that sends no first command while
 * authentication is on; `idle-timeout` closes one that vanished behind a
 * proxy gone silent, and leaves a connection that keeps talking alone.
 */

import assert from "node:assert/strict";
import { openAuthenticator } from "../../src/auth/builtin.ts";
import { serve } from "../../src/server/server.ts";
import { eventually, hostPort, LineClient, sleep } from "../_helpers.ts";
import { TcpProxy } from "../_tcp_proxy.ts";

const PONG = { command: "ping", tags: [], data: "pong" };

Deno.test("auth-timeout: with authentication on, a TCP connection that sends nothing is closed; one that sent a command stays", async () => {
  await using server = await serve({
    listeners: ["tcp://127.0.0.1:0"],
    authenticator: await openAuthenticator("memory://"),
    token: "admin",
    authTimeoutMs: 200,
  });
  const url = server.addresses[0]!;
  await using silent = await LineClient.connect(url);
  await using spoke = await LineClient.connect(url);
  assert.deepEqual(await spoke.request({ command: "ping" }), PONG);
  await silent.ended(); // closed by the server, else this times out the test
  await sleep(400); // twice the deadline: the one that spoke is still served
  assert.deepEqual(await spoke.request({ command: "ping" }), PONG);
  assert.equal(server.stats().listeners[0]!.connections, 1);
});

Deno.test("auth-timeout does nothing without authentication", async () => {
  await using server = await serve({
    listeners: ["tcp://127.0.0.1:0"],
    authTimeoutMs: 50,
  });
  await using client = await LineClient.connect(server.addresses[0]!);
  await sleep(300);
  assert.deepEqual(await client.request({ command: "ping" }), PONG);
});

Deno.test("idle-timeout: the server side of a peer that vanished behind a silent proxy is closed; a talking one stays", async () => {
  await using server = await serve({
    listeners: ["tcp://127.0.0.1:0"],
    idleTimeoutMs: 300,
  });
  const url = server.addresses[0]!;
  await using proxy = new TcpProxy(hostPort(url));
  await using vanished = await LineClient.connect(
    `tcp://127.0.0.1:${proxy.port}`,
  );
  await vanished.send({ command: "subscribe", tags: ["t"] });
  await vanished.sync();
  await using talking = await LineClient.connect(url);
  proxy.silenceExisting(); // open, but nothing gets through any more
  const stats = () => server.stats().listeners[0]!;
  assert.equal(stats().connections, 2);
  const keepTalking = (async () => {
    while (stats().connections === 2) {
      assert.deepEqual(await talking.request({ command: "ping" }), PONG);
      await sleep(50);
    }
  })();
  await eventually(() => stats().connections === 1, "the vanished peer closed");
  await keepTalking;
  assert.equal(server.stats().subscriptions, 0);
  assert.deepEqual(await talking.request({ command: "ping" }), PONG);
});
