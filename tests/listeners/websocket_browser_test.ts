/**
 * A real browser: headless Chromium runs the original README's WebSocket
 * example against mist and receives a message published over TCP, and the
 * origin policy of docs/protocol.md §9 holds for a page the browser loads from
 * another origin (another port of 127.0.0.1). Chromium is Debian's, driven by
 * playwright-core (which never downloads a browser).
 */

import assert from "node:assert/strict";
import { addressOf, allServer, eventually, LineClient } from "../_helpers.ts";
import { chromiumTest, launchBrowser } from "../_browser.ts";
import type { Browser, Page } from "npm:playwright-core@^1.65.1";

/** The page: the original README's example, recording what it receives. */
function readmePage(wsUrl: string): string {
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

/**
 * A page that tries the three ways in of §9 against a mist HTTP listener: a
 * WebSocket, an event stream, and `window.publish(mode)`, a `fetch` POST.
 */
function probePage(httpUrl: string): string {
  return `<!doctype html><meta charset="utf-8"><title>probe</title><script>
  window.events = [];
  window.streamed = [];
  var base = ${JSON.stringify(httpUrl)};
  var ws = new WebSocket(base.replace(/^http/, "ws") + "/subscribe/websocket");
  ws.onopen = function () { events.push("ws open"); };
  ws.onclose = function () { events.push("ws closed"); };
  var es = new EventSource(base + "/subscribe?tags=sse");
  es.onopen = function () { events.push("sse open"); };
  es.onerror = function () { events.push("sse error " + es.readyState); };
  es.onmessage = function (e) { streamed.push(JSON.parse(e.data)); };
  window.publish = async function (mode, data) {
    var body = JSON.stringify({ command: "publish", tags: ["t"], data: data });
    var init = mode === "cors"
      ? { method: "POST", body: body, headers: { "content-type": "application/json" } }
      : { method: "POST", body: body, mode: "no-cors" };
    try {
      var response = await fetch(base + "/publish", init);
      return response.type + " " + response.status + " " +
        (response.type === "opaque" ? "" : await response.text());
    } catch (err) {
      return "failed: " + err;
    }
  };
</script>`;
}

/**
 * Serves pages from an origin of its own: each path of `pages`, which may be
 * filled in after the server starts (once the page knows mist's address).
 */
function servePages(pages: Record<string, string>) {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (request) => {
      const page = pages[new URL(request.url).pathname];
      return page === undefined
        ? new Response("not found", { status: 404 })
        : new Response(page, { headers: { "content-type": "text/html" } });
    },
  );
  return Object.assign(server, {
    origin: `http://127.0.0.1:${server.addr.port}`,
  });
}

/** Runs a test against a headless Chromium, closed afterwards. */
async function withBrowser(test: (browser: Browser) => Promise<void>) {
  let browser: Browser | undefined;
  try {
    browser = await launchBrowser();
    await test(browser);
  } finally {
    await browser?.close();
  }
}

/** A page's global, read as JSON once `ready` says it has what is awaited. */
async function pageValue<T>(
  tab: Page,
  name: string,
  ready: (value: T) => boolean,
  what: string,
): Promise<T> {
  let value: T | undefined;
  await eventually(
    async () => {
      const text = await tab.evaluate(`JSON.stringify(window.${name})`);
      const parsed: T | null = JSON.parse(String(text ?? "null"));
      if (parsed === null || !ready(parsed)) return false;
      value = parsed;
      return true;
    },
    what,
    20_000,
  );
  return value!;
}

chromiumTest(
  "headless Chromium runs the README's WebSocket example against the http:// and ws:// listeners, its page's origin allowed",
  async () => {
    const routes: Record<string, string> = {};
    await using pages = servePages(routes);
    await using server = await allServer({ allowedOrigins: [pages.origin] });
    // The page at /http talks to the http:// listener, at /ws to ws://.
    routes["/http"] = readmePage(
      addressOf(server, "http").replace(/^http:/, "ws:") +
        "/subscribe/websocket",
    );
    routes["/ws"] = readmePage(
      addressOf(server, "ws") + "/subscribe/websocket",
    );
    await using publisher = await LineClient.connect(addressOf(server, "tcp"));

    await withBrowser(async (browser) => {
      for (const path of ["/http", "/ws"]) {
        const tab = await browser.newPage();
        await tab.goto(`${pages.origin}${path}`);
        const received = (count: number) =>
          pageValue<unknown[]>(
            tab,
            "received",
            (list) => list.length >= count,
            `the page at ${path} to receive ${count} messages`,
          );
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
    });
  },
);

chromiumTest(
  "§9 in Chromium: a page on a foreign origin can neither connect, nor read events, nor publish",
  async () => {
    await using server = await allServer();
    const http = addressOf(server, "http");
    await using pages = servePages({ "/probe": probePage(http) });
    await using subscriber = await LineClient.connect(addressOf(server, "tcp"));
    await subscriber.send({ command: "subscribe", tags: ["t"] });
    await using publisher = await LineClient.connect(addressOf(server, "tcp"));

    await withBrowser(async (browser) => {
      const tab = await browser.newPage();
      await tab.goto(`${pages.origin}/probe`);
      const events = await pageValue<string[]>(
        tab,
        "events",
        (list) =>
          list.includes("ws closed") && list.some((e) => e.startsWith("sse")),
        "the WebSocket to close and the event stream to fail",
      );
      assert.ok(!events.includes("ws open"), events.join(", "));
      assert.ok(!events.includes("sse open"), events.join(", "));
      assert.ok(events.includes("sse error 2"), events.join(", ")); // CLOSED
      // A no-cors POST is sent, and its answer hidden from the page; the
      // server refused it, so nothing reached the subscriber.
      assert.equal(
        await tab.evaluate(`window.publish("no-cors", "from a foreign page")`),
        "opaque 0 ",
      );
      await publisher.send({ command: "publish", tags: ["t"], data: "after" });
      assert.deepEqual(await subscriber.next(), {
        command: "publish",
        tags: ["t"],
        data: "after",
      });
    });
  },
);

chromiumTest(
  "§9 in Chromium: the same page with its origin in allowed-origins connects, reads events and publishes with CORS",
  async () => {
    const routes: Record<string, string> = {};
    await using pages = servePages(routes);
    await using server = await allServer({ allowedOrigins: [pages.origin] });
    routes["/probe"] = probePage(addressOf(server, "http"));
    await using subscriber = await LineClient.connect(addressOf(server, "tcp"));
    await subscriber.send({ command: "subscribe", tags: ["t"] });
    await using publisher = await LineClient.connect(addressOf(server, "tcp"));

    await withBrowser(async (browser) => {
      const tab = await browser.newPage();
      await tab.goto(`${pages.origin}/probe`);
      await pageValue<string[]>(
        tab,
        "events",
        (list) => list.includes("ws open") && list.includes("sse open"),
        "the WebSocket and the event stream to open",
      );
      await publisher.send({ command: "publish", tags: ["sse"], data: "ev" });
      assert.deepEqual(
        await pageValue<unknown[]>(
          tab,
          "streamed",
          (list) => list.length > 0,
          "the event stream to deliver",
        ),
        [{ command: "publish", tags: ["sse"], data: "ev" }],
      );
      // A JSON POST in cors mode: preflighted, and its answer readable.
      assert.equal(
        await tab.evaluate(`window.publish("cors", "from a listed page")`),
        'cors 202 {"command":"publish","tags":["t"],"data":"ok"}\n',
      );
      assert.deepEqual(await subscriber.next(), {
        command: "publish",
        tags: ["t"],
        data: "from a listed page",
      });
    });
  },
);
