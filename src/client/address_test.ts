import assert from "node:assert/strict";
import { serve } from "../server/server.ts";
import { parseServerAddress, safeText } from "./address.ts";
import { connect } from "./client.ts";
import { openLineTransport } from "./line_transport.ts";
import { registerTransport, type TransportFactory } from "./transport.ts";

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
    [
      "udp://127.0.0.1:1",
      /^Unsupported scheme "udp" in "udp:\/\/127\.0\.0\.1:1"; use tcp:\/\/, tls:\/\/, ws:\/\/, wss:\/\/, http\(s\):\/\/ or host:port$/,
    ],
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

Deno.test("connect() accepts a scheme registered with registerTransport()", async () => {
  // Unknown until registered: the error lists the schemes that are known.
  assert.throws(() => parseServerAddress("line+test://127.0.0.1:1"), {
    name: "TypeError",
    message: /^Unsupported scheme "line\+test" .*; use tcp:\/\/, .*wss:\/\//,
  });
  const opened: string[] = [];
  const lines: TransportFactory = (url, options, handler) => {
    opened.push(url.href);
    return openLineTransport(url, options, handler);
  };
  registerTransport("Line+Test", lines);

  // Left as written: no default port, no path, whatever the case of the scheme.
  assert.equal(
    parseServerAddress("LINE+TEST://example.com:9/x?y=1").href,
    "line+test://example.com:9/x?y=1",
  );
  assert.throws(() => parseServerAddress("line+test:///path"), {
    name: "TypeError",
    message: /has no host/,
  });
  assert.throws(() => parseServerAddress("nope://h:1"), {
    name: "TypeError",
    message: /^Unsupported scheme "nope" .*, line\+test:\/\/, http\(s\):\/\//,
  });

  await using server = await serve({ listeners: ["tcp://127.0.0.1:0"] });
  const { port } = new URL(server.addresses[0]!);
  await using client = await connect(`line+test://127.0.0.1:${port}`);
  assert.equal(client.server, `line+test://127.0.0.1:${port}`);
  assert.equal(typeof await client.ping(), "number");
  assert.deepEqual(opened, [`line+test://127.0.0.1:${port}`]);
});

Deno.test("parseServerAddress() leaves http(s) to a transport registered for it", () => {
  // The registry is global: this registration lasts for the rest of this module.
  registerTransport("https", openLineTransport);
  assert.equal(
    parseServerAddress("https://example.com").href,
    "https://example.com/",
  );
  assert.equal(
    parseServerAddress("http://example.com").href,
    "ws://example.com/subscribe/websocket",
  );
});
