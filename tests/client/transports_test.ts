/**
 * The client against mist's own WebSocket and TLS listeners, with and without
 * a token, and the errors a refused token or an untrusted certificate give.
 */

import assert from "node:assert/strict";
import { openAuthenticator } from "../../src/auth/builtin.ts";
import { connect } from "../../src/client/client.ts";
import { MistError } from "../../src/protocol/errors.ts";
import { serve } from "../../src/server/server.ts";
import { testCertificate } from "../_certificates.ts";
import { addressOf, allServer, next, until } from "../_helpers.ts";

/** The first item; leaving the loop ends a subscription (it unsubscribes). */
async function first<T>(iterable: AsyncIterable<T>): Promise<T> {
  for await (const item of iterable) return item;
  throw new Error("ended");
}

Deno.test("connect() over ws:// and http:// talks to mist's WebSocket listeners, across to TCP", async () => {
  await using server = await allServer();
  await using tcp = await connect(addressOf(server, "tcp"));
  for (const url of [addressOf(server, "ws"), addressOf(server, "http")]) {
    await using ws = await connect(url);
    assert.equal(ws.mode, "ids");
    assert.ok((await ws.ping()) >= 0);
    const sub = await ws.subscribe(["a"]);
    assert.deepEqual(await ws.list(), [["a"]]);
    await tcp.publish(["a", "b"], `to ${url}`);
    assert.deepEqual(await first(sub), {
      command: "publish",
      tags: ["a", "b"],
      data: `to ${url}`,
    });
  }
});

Deno.test("connect() presents its token on every transport; admin calls go through", async () => {
  await using server = await allServer({
    authenticator: await openAuthenticator("memory://"),
    token: "admin",
  });
  await using admin = await connect(addressOf(server, "tcp"), {
    token: "admin",
  });
  await admin.admin.register("reader", ["news"]);
  assert.deepEqual(await admin.admin.tags("reader"), ["news"]);
  for (const scheme of ["tcp", "ws", "http"]) {
    await using reader = await connect(addressOf(server, scheme), {
      token: "reader",
    });
    const sub = await reader.subscribe(["news"]);
    await assert.rejects(reader.subscribe(["sport"]), {
      code: "forbidden",
      message: 'forbidden: not granted ["sport"]',
    });
    await admin.publish(["news"], scheme);
    assert.equal((await first(sub)).data, scheme);
  }
  await assert.rejects(connect(addressOf(server, "ws"), { token: "wrong" }), {
    code: "invalid_token",
  });
  await assert.rejects(connect(addressOf(server, "tcp"), { token: "wrong" }), {
    code: "invalid_token",
  });
});

const certificate = await testCertificate();
/** Without openssl the TLS tests are ignored, except in CI, where they fail. */
const noOpenssl = certificate === undefined && Deno.env.get("CI") !== "true";

Deno.test({
  name:
    "connect() over tls:// and wss:// trusts the server's CA given in caCerts",
  ignore: noOpenssl,
  async fn() {
    assert.ok(certificate, "openssl is needed to make test certificates");
    const { ca, cert, key } = certificate;
    await using server = await serve({
      listeners: ["tls://127.0.0.1:0", "wss://127.0.0.1:0"],
      tls: { cert, key },
    });
    await using tls = await connect(addressOf(server, "tls"), {
      caCerts: [ca],
    });
    await using wss = await connect(addressOf(server, "wss"), {
      caCerts: [ca],
    });
    const sub = await wss.subscribe(["secure"]);
    await tls.publish(["secure"], "over TLS");
    assert.equal((await first(sub)).data, "over TLS");
  },
});

Deno.test("admin commands without the admin token are refused with the server's error", async () => {
  await using server = await allServer({
    authenticator: await openAuthenticator("memory://"),
    token: "admin",
  });
  await using client = await connect(addressOf(server, "tcp"));
  await assert.rejects(client.admin.register("t", ["a"]), {
    name: "MistError",
    code: "forbidden",
    message: "forbidden: admin only",
  });
});

Deno.test("a refused token fails connect() without writing the token anywhere", async () => {
  await using server = await allServer({
    authenticator: await openAuthenticator("memory://"),
    token: "admin",
  });
  await assert.rejects(
    connect(addressOf(server, "tcp"), { token: "not-the-token-9876" }),
    (err) => {
      assert.ok(err instanceof MistError, `${err}`);
      assert.equal(err.code, "invalid_token");
      assert.equal(err.message, "invalid token");
      assert.doesNotMatch(String(err.stack), /not-the-token-9876/);
      return true;
    },
  );
});

Deno.test("over WebSocket: a dropped socket is reconnected and subscriptions restored", async () => {
  const server = await serve({ listeners: ["ws://127.0.0.1:0"] });
  const url = addressOf(server, "ws");
  const client = await connect(url, {
    reconnect: { initialDelayMs: 5, maxDelayMs: 20 },
  });
  const status = client.status();
  const sub = await client.subscribe(["z"]);
  await server.close();
  await until(status, (e) => e.type === "disconnect", "a disconnect event");
  const { port } = new URL(url);
  await using second = await serve({
    listeners: [`ws://127.0.0.1:${port}`, "tcp://127.0.0.1:0"],
  });
  await until(status, (e) => e.type === "reconnect", "a reconnect event");
  await using tcp = await connect(addressOf(second, "tcp"));
  await tcp.publish(["z"], "still here");
  assert.equal((await next(sub[Symbol.asyncIterator]())).data, "still here");
  await client.close();
});

Deno.test({
  name:
    "over TLS: the caCerts option trusts a server's own certificate authority",
  ignore: noOpenssl,
  async fn() {
    assert.ok(certificate, "openssl is needed to make test certificates");
    const { ca, cert, key } = certificate;
    await using server = await serve({
      listeners: ["tls://127.0.0.1:0", "tcp://127.0.0.1:0"],
      tls: { cert, key },
    });
    const tls = addressOf(server, "tls");
    await using client = await connect(tls, { caCerts: [ca] });
    await using plain = await connect(addressOf(server, "tcp"));
    const sub = await client.subscribe(["secure"]);
    await plain.publish(["secure"], "over TLS");
    assert.equal((await next(sub[Symbol.asyncIterator]())).data, "over TLS");
    await assert.rejects(connect(tls), (err) => {
      assert.ok(err instanceof MistError, `${err}`);
      assert.equal(err.code, "connection_failed");
      assert.match(err.message, /certificate/i);
      return true;
    });
  },
});

Deno.test({
  name: "over WSS: the caCerts option reaches the WebSocket's TLS",
  ignore: noOpenssl,
  async fn() {
    assert.ok(certificate, "openssl is needed to make test certificates");
    const { ca, cert, key } = certificate;
    await using server = await serve({
      listeners: ["wss://127.0.0.1:0"],
      tls: { cert, key },
    });
    const wss = addressOf(server, "wss");
    await using client = await connect(wss, { caCerts: [ca] });
    assert.match(client.server, /^wss:/);
    await client.ping();
    await assert.rejects(connect(wss), {
      name: "MistError",
      code: "connection_failed",
    });
  },
});
