import assert from "node:assert/strict";
import { parseServerAddress, safeText } from "./address.ts";

Deno.test("parseServerAddress() reads URLs and the original's host:port", () => {
  const cases: [string, string][] = [
    ["127.0.0.1:1445", "tcp://127.0.0.1:1445"],
    ["localhost", "tcp://localhost:1445"],
    ["[::1]:2000", "tcp://[::1]:2000"],
    [" tcp://example.com ", "tcp://example.com:1445"],
    ["TLS://example.com:9000", "tls://example.com:9000"],
    ["tls://example.com", "tls://example.com:1446"],
    ["ws://127.0.0.1:8888", "ws://127.0.0.1:8888/subscribe/websocket"],
    ["wss://example.com/ws", "wss://example.com/ws"],
    ["http://127.0.0.1:8080", "ws://127.0.0.1:8080/subscribe/websocket"],
    ["https://example.com", "wss://example.com/subscribe/websocket"],
    [
      "ws://h:1/?x-auth-token=t",
      "ws://h:1/subscribe/websocket?x-auth-token=t",
    ],
  ];
  for (const [address, href] of cases) {
    assert.equal(parseServerAddress(address).href, href, address);
  }
  assert.equal(
    parseServerAddress(new URL("tcp://10.0.0.1")).href,
    "tcp://10.0.0.1:1445",
  );
});

Deno.test("parseServerAddress() refuses what it cannot connect to", () => {
  const cases: [string, RegExp][] = [
    ["", /has no host/],
    ["tcp://", /has no host/],
    ["a b", /Invalid server address "a b"/],
    [":1445", /Invalid server address/],
    ["udp://127.0.0.1:1", /Unsupported scheme "udp"/],
  ];
  for (const [address, message] of cases) {
    assert.throws(() => parseServerAddress(address), {
      name: "TypeError",
      message,
    });
  }
});

Deno.test("safeText() leaves out credentials and the query", () => {
  assert.equal(
    safeText(new URL("ws://user:pw@h:1/subscribe/websocket?x-auth-token=t")),
    "ws://h:1/subscribe/websocket",
  );
  assert.equal(safeText(new URL("tcp://h:1445")), "tcp://h:1445");
});
