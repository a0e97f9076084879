/**
 * A real browser: headless Chromium runs the original README's WebSocket
 * example against mist and receives a message published over TCP. Chromium is
 * driven through the DevTools protocol with Deno's own WebSocket client.
 */

import assert from "node:assert/strict";
import {
  addressOf,
  allServer,
  eventually,
  LineClient,
  within,
} from "../_helpers.ts";
import { requiring } from "../_service.ts";

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

/** A DevTools protocol connection to the browser, with flattened page sessions. */
class DevTools {
  readonly #socket: WebSocket;
  readonly #pending = new Map<
    number,
    PromiseWithResolvers<Record<string, unknown>>
  >();
  #nextId = 1;

  private constructor(socket: WebSocket) {
    this.#socket = socket;
    socket.onmessage = (event) => {
      const message = JSON.parse(event.data);
      const pending = this.#pending.get(message.id);
      if (pending === undefined) return; // an event
      this.#pending.delete(message.id);
      if (message.error) {
        pending.reject(new Error(JSON.stringify(message.error)));
      } else pending.resolve(message.result);
    };
  }

  static async connect(url: string): Promise<DevTools> {
    const socket = new WebSocket(url);
    await new Promise((resolve, reject) => {
      socket.onopen = resolve;
      socket.onerror = () =>
        reject(new Error(`cannot reach DevTools at ${url}`));
    });
    return new DevTools(socket);
  }

  send(
    method: string,
    params: Record<string, unknown> = {},
    sessionId?: string,
  ): Promise<Record<string, unknown>> {
    const id = this.#nextId++;
    const pending = Promise.withResolvers<Record<string, unknown>>();
    this.#pending.set(id, pending);
    this.#socket.send(
      JSON.stringify({
        id,
        method,
        params,
        ...(sessionId ? { sessionId } : {}),
      }),
    );
    return pending.promise;
  }

  async evaluate(expression: string, sessionId: string): Promise<unknown> {
    const { result } = await this.send("Runtime.evaluate", {
      expression,
      returnByValue: true,
    }, sessionId) as { result: { value?: unknown } };
    return result.value;
  }

  async close(): Promise<void> {
    const closed = new Promise((resolve) => this.#socket.onclose = resolve);
    this.#socket.close();
    await closed;
  }
}

chromiumTest(
  "headless Chromium runs the README's WebSocket example against mist",
  async () => {
    await using server = await allServer();
    const wsUrl = addressOf(server, "http").replace(/^http:/, "ws:") +
      "/subscribe/websocket";
    await using publisher = await LineClient.connect(addressOf(server, "tcp"));
    await using pages = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      () =>
        new Response(page(wsUrl), { headers: { "content-type": "text/html" } }),
    );
    const pageUrl = `http://127.0.0.1:${pages.addr.port}/`;

    const profile = await Deno.makeTempDir({ prefix: "mist-chromium-" });
    const chromium = new Deno.Command(CHROMIUM!, {
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        `--user-data-dir=${profile}`,
        "--remote-debugging-port=0",
        "about:blank",
      ],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    let devtools: DevTools | undefined;
    const stderr = chromium.stderr.pipeThrough(new TextDecoderStream())
      .getReader();
    try {
      // Chromium prints where its DevTools endpoint listens.
      let log = "";
      const endpoint = await within(
        (async () => {
          while (true) {
            const { value, done } = await stderr.read();
            assert.ok(!done, `Chromium exited:\n${log}`);
            log += value;
            const found = log.match(/DevTools listening on (ws:\/\/\S+)/);
            if (found) return found[1]!;
          }
        })(),
        "the DevTools endpoint",
        30_000,
      );
      devtools = await DevTools.connect(endpoint);
      const { targetId } = await devtools.send("Target.createTarget", {
        url: pageUrl,
      });
      const { sessionId } = await devtools.send("Target.attachToTarget", {
        targetId,
        flatten: true,
      }) as { sessionId: string };

      const received = async (count: number) => {
        let list: unknown[] = [];
        await eventually(
          async () => {
            const messages = await devtools!.evaluate(
              "JSON.stringify(window.received || [])",
              sessionId,
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
      });
      await devtools.send("Browser.close").catch(() => {});
    } finally {
      await devtools?.close();
      try {
        chromium.kill("SIGKILL");
      } catch {
        // Exited already.
      }
      await stderr.cancel();
      await chromium.status;
      await Deno.remove(profile, { recursive: true }).catch(() => {});
    }
  },
);
