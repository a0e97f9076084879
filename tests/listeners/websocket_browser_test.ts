/**
 * A real browser: headless Chromium runs the original README's WebSocket
 * example against mist and receives a message published over TCP. Chromium is
 * Debian's, driven by playwright-core (which never downloads a browser).
 */

import assert from "node:assert/strict";
import { addressOf, allServer, eventually, LineClient } from "../_helpers.ts";
import { requiring } from "../_service.ts";
import { type Browser, chromium } from "npm:playwright-core@^1.65.1";

const CHROMIUM = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find(
  (path) => {
    try {
      return Deno.statSync(path).isFile;
    } catch {
      return false;
    }
  },
);
const chromiumTest = requiring({
  name: "browser",
  missing: CHROMIUM === undefined ? "Chromium is not installed" : undefined,
  install: "apt-get install chromium",
});

/** The page: the original README's example, recording what it receives. */
function page(wsUrl: string): string {
  return `<!doctype html><meta charset="utf-8"><title>mist</title><script>
  window.received = [];
  // connect the websocket
  var ws = new WebSocket(${JSON.stringify(wsUrl)});
  // handle responses from the server
  ws.onmessage = function (me) { window.received.push(JSON.parse(me.data)); };
  ws.onopen = function () {
    // ping
    ws.send(JSON.stringify({ "command": "ping" }));
    // subscribe
    ws.send(JSON.stringify({ "command": "subscribe", "tags": ["hello", "world"] }));
    // list
    ws.send(JSON.stringify({ "command": "list" }));
  };
</script>`;
}

chromiumTest(
  "headless Chromium runs the README's WebSocket example against the http:// and ws:// listeners",
  async () => {
    await using server = await allServer();
    // The page at /http talks to the http:// listener, at /ws to ws://.
    const wsUrls: Record<string, string> = {
      "/http": addressOf(server, "http").replace(/^http:/, "ws:") +
        "/subscribe/websocket",
      "/ws": addressOf(server, "ws") + "/subscribe/websocket",
    };
    await using publisher = await LineClient.connect(addressOf(server, "tcp"));
    await using pages = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      (request) =>
        new Response(page(wsUrls[new URL(request.url).pathname]!), {
          headers: { "content-type": "text/html" },
        }),
    );

    let browser: Browser | undefined;
    try {
      browser = await chromium.launch({
        executablePath: CHROMIUM!,
        headless: true,
        // Chromium's own outgoing connections (updates, sync, QUIC probes)
        // are refused on this network: these flags keep it from trying.
        args: [
          "--no-sandbox",
          "--disable-gpu",
          "--disable-quic",
          "--no-first-run",
          "--disable-background-networking",
          "--disable-component-update",
          "--disable-sync",
        ],
        timeout: 30_000,
      });
      for (const path of Object.keys(wsUrls)) {
        const tab = await browser.newPage();
        await tab.goto(`http://127.0.0.1:${pages.addr.port}${path}`);

        const received = async (count: number) => {
          let list: unknown[] = [];
          await eventually(
            async () => {
              const messages = await tab.evaluate(
                "JSON.stringify(window.received || [])",
              );
              list = JSON.parse(String(messages ?? "[]"));
              return list.length >= count;
            },
            `the page to receive ${count} messages`,
            20_000,
          );
          return list;
        };
        // Ping answered and subscription listed: the page is subscribed.
        assert.deepEqual(await received(2), [
          { command: "ping", tags: [], data: "pong" },
          { command: "list", tags: [], data: '[["hello","world"]]' },
        ]);
        await publisher.send({
          command: "publish",
          tags: ["hello", "world", "extra"],
          data: "from tcp",
        });
        assert.deepEqual((await received(3))[2], {
          command: "publish",
          tags: ["extra", "hello", "world"], // sorted, as the original delivered them
          data: "from tcp",
        }, path);
        await tab.close();
      }
    } finally {
      await browser?.close();
    }
  },
);
