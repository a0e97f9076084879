import assert from "node:assert/strict";
import "../../src/listeners/builtin.ts";
import { listenHttp } from "../../src/listeners/http.ts";
import { listeners } from "../../src/listeners/listener.ts";
import { listenTcp, listenTls } from "../../src/listeners/tcp.ts";
import { listenWs } from "../../src/listeners/ws_listener.ts";

Deno.test("`builtin.ts` registers the six schemes mist ships with", async (t) => {
  const table = [
    ["tcp", listenTcp],
    ["tls", listenTls],
    ["http", listenHttp],
    ["https", listenHttp],
    ["ws", listenWs],
    ["wss", listenWs],
  ] as const;
  for (const [scheme, factory] of table) {
    await t.step(`${scheme}://`, () => {
      assert.equal(listeners.get(scheme), factory);
    });
  }
});

Deno.test("`builtin.ts` registers no scheme beyond the six", () => {
  assert.deepEqual(listeners.schemes(), [
    "tcp",
    "tls",
    "http",
    "https",
    "ws",
    "wss",
  ]);
});
