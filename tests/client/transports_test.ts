/**
 * The client against mist's own WebSocket and TLS listeners, with and without
 * a token.
 */

import assert from "node:assert/strict";
import { openAuthenticator } from "../../src/auth/builtin.ts";
import { connect } from "../../src/client/client.ts";
import { serve } from "../../src/server/server.ts";
import { testCertificate } from "../_certificates.ts";
import { addressOf, allServer } from "../_helpers.ts";

/** The first item; leaving the loop ends a subscription (it unsubscribes). */
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

Deno.test({
  name:
    "connect() over tls:// and wss:// trusts the server's CA given in caCerts",
  ignore: certificate === undefined,
  async fn() {
    const { ca, cert, key } = certificate!;
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
