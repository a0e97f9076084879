/**
 * The web console in a real browser: headless Chromium (Debian's, driven by
 * playwright-core, which never downloads one) opens `/console`, uses the
 * playground against TCP clients, signs in with the admin token and
 * registers a token a TCP client then uses, and watches the plots move under
 * load. It writes screenshots to `$MIST_SCREENSHOTS`, by default
 * `.screenshots/console/` at the repository's root.
 */

import assert from "node:assert/strict";
import type { Browser, Page } from "npm:playwright-core@^1.65.1";
import { MemoryAuthenticator } from "../../src/auth/memory.ts";
import { addressOf, allServer, eventually, LineClient } from "../_helpers.ts";
import { chromiumTest, launchBrowser } from "../_browser.ts";

const SCREENSHOTS = Deno.env.get("MIST_SCREENSHOTS") ??
  new URL("../../.screenshots/console/", import.meta.url).pathname;

/** Waits until an element's text satisfies a test. */
async function textOf(
  tab: Page,
  selector: string,
  test: (text: string) => boolean,
  what: string,
): Promise<string> {
  let text = "";
  await eventually(
    async () => {
      text = (await tab.locator(selector).first().textContent()) ?? "";
      return test(text);
    },
    `${what} (${selector} shows ${JSON.stringify(text)})`,
    20_000,
  );
  return text;
}

/** The points of a rate's plot. */
async function points(tab: Page, counter: string): Promise<number[][]> {
  const attribute = await tab.locator(`#plot-${counter} polyline`)
    .getAttribute("points");
  return (attribute ?? "").split(" ").filter((p) => p !== "").map((p) =>
    p.split(",").map(Number)
  );
}

async function screenshot(tab: Page, name: string): Promise<void> {
  await Deno.mkdir(SCREENSHOTS, { recursive: true });
  await tab.screenshot({ path: `${SCREENSHOTS}/${name}.png`, fullPage: true });
}

chromiumTest("the web console in headless Chromium", async (t) => {
  let browser: Browser | undefined;
  try {
    browser = await launchBrowser();
    const context = await browser.newContext({
      viewport: { width: 1280, height: 900 },
    });
    const tab = await context.newPage();
    const urls: string[] = [];
    tab.on("request", (request) => urls.push(request.url()));
    tab.on("websocket", (socket) => urls.push(socket.url()));
    const failures: string[] = [];
    tab.on("pageerror", (err) => failures.push(err.message));
    tab.on("console", (message) => {
      // The feed's 401 before signing in is expected; Chromium logs it.
      if (message.type() === "error" && !/status of 401/.test(message.text())) {
        failures.push(message.text());
      }
    });

    await t.step("the playground, with authentication off", async () => {
      await using server = await allServer();
      const http = addressOf(server, "http");
      await using tcp = await LineClient.connect(addressOf(server, "tcp"));
      await tab.goto(`${http}/`); // redirected to /console
      assert.equal(new URL(tab.url()).pathname, "/console");
      await textOf(tab, "#feed-state", (s) => s === "live", "the feed");
      await textOf(tab, "#ws-state", (s) => s === "connected", "the socket");
      await textOf(tab, "#viewer", (s) => s.includes("off"), "auth off");

      // Subscribe from the page; publish over TCP; the page shows it.
      await tab.fill("#sub-tags", "hello, world");
      await tab.click("#subscribe-form button");
      await textOf(tab, "#subs", (s) => s.includes("hello + world"), "subs");
      await tcp.send({
        command: "publish",
        tags: ["world", "hello", "extra"],
        data: "from tcp",
      });
      const delivery = await textOf(
        tab,
        "#deliveries li",
        (s) => s.includes("from tcp"),
        "the delivery",
      );
      assert.match(delivery, /extra.*hello.*world/, "its tags, sorted");

      // Publish from the page; a TCP subscriber receives it.
      await tcp.send({ command: "subscribe", tags: ["from-page"] });
      assert.deepEqual(await tcp.sync(), []);
      await tab.fill("#pub-tags", "from-page");
      await tab.fill("#pub-data", "hi from the browser");
      await tab.click("#publish-form button");
      assert.deepEqual(await tcp.next(), {
        command: "publish",
        tags: ["from-page"],
        data: "hi from the browser",
      });

      // An error reply is shown.
      await tab.fill("#pub-tags", "");
      await tab.click("#publish-form button");
      await textOf(
        tab,
        "#replies li.error",
        (s) => s.includes("missing tags"),
        "the error reply",
      );
      await textOf(tab, "#subscriptions", (s) => s === "2", "subscriptions");
      await screenshot(tab, "idle");

      // The plots move while a load runs.
      const before = await points(tab, "received");
      await using reader = await LineClient.connect(addressOf(server, "tcp"));
      await reader.send({ command: "subscribe", tags: ["load"] });
      await reader.sync();
      let loading = true;
      const load = (async () => {
        const batch = JSON.stringify({
          command: "publish",
          tags: ["load"],
          data: "x".repeat(100),
        }) + "\n";
        while (loading) {
          await tcp.send(batch.repeat(100));
          await tcp.sync();
        }
      })();
      try {
        await textOf(
          tab,
          "#plot-received .rate",
          (s) => parseFloat(s) > 0,
          "a publish rate",
        );
        await textOf(
          tab,
          "#plot-delivered .rate",
          (s) => parseFloat(s) > 0,
          "a delivery rate",
        );
        // A few seconds of load, so that the screenshot shows a curve.
        await eventually(
          async () =>
            (await points(tab, "received")).length >= before.length + 5,
          "five more points",
          20_000,
        );
        await screenshot(tab, "load");
      } finally {
        loading = false;
        await load;
      }
      const after = await points(tab, "received");
      assert.ok(after.length > before.length, "the plot has more points");
      const added = after.slice(before.length);
      assert.ok(
        added.some(([, y]) => y! < 70),
        "the new points rose off the baseline",
      );

      // At a phone's width, nothing is wider than the screen.
      await tab.setViewportSize({ width: 360, height: 780 });
      assert.equal(
        await tab.evaluate("document.documentElement.scrollWidth"),
        360,
      );
      await screenshot(tab, "phone");
      await tab.setViewportSize({ width: 1280, height: 900 });
    });

    await t.step(
      "signing in with the admin token, registering a token",
      async () => {
        const authenticator = new MemoryAuthenticator();
        await using server = await allServer({
          authenticator,
          token: "admin-secret",
        });
        const http = addressOf(server, "http");
        await tab.emulateMedia({ colorScheme: "dark" });
        await tab.goto(`${http}/console`);
        await textOf(tab, "#feed-state", (s) => s.includes("sign in"), "ask");
        assert.equal(await tab.locator("#admin").isVisible(), false);

        await tab.fill("#token", "admin-secret");
        await tab.click("#sign-in");
        await textOf(tab, "#feed-state", (s) => s === "live", "the feed");
        await textOf(tab, "#ws-state", (s) => s.includes("signed in"), "auth");
        assert.equal(await tab.locator("#admin").isVisible(), true);

        await tab.fill("#admin-token", "reader-token");
        await tab.fill("#admin-tags", "news, sports");
        await tab.click("#admin-register");
        await textOf(
          tab,
          "#admin-result",
          (s) => s.includes("news, sports"),
          "the token's grants",
        );
        assert.deepEqual(await authenticator.getTags("reader-token"), [
          "news",
          "sports",
        ]);
        await screenshot(tab, "admin");

        // A TCP client uses the token the page registered.
        await using subscriber = await LineClient.connect(
          addressOf(server, "tcp"),
        );
        await using publisher = await LineClient.connect(
          addressOf(server, "tcp"),
        );
        for (const client of [subscriber, publisher]) {
          await client.send({ command: "auth", data: "reader-token" });
        }
        assert.deepEqual(
          await subscriber.request({
            command: "subscribe",
            tags: ["news"],
            id: 1,
          }),
          { command: "subscribe", id: 1, tags: ["news"], data: "ok" },
        );
        await publisher.send({
          command: "publish",
          tags: ["news"],
          data: "n1",
        });
        assert.equal((await subscriber.next()).data, "n1");
        assert.match(
          (await publisher.request({
            command: "publish",
            tags: ["weather"],
            data: "no",
          })).error ?? "",
          /forbidden/,
        );

        const stored = await tab.evaluate(
          "sessionStorage.getItem('mist-console-token')",
        );
        assert.equal(stored, "admin-secret", "kept in session storage");
      },
    );

    for (const url of urls) {
      assert.doesNotMatch(url, /secret|token/i, "no token in a URL");
    }
    assert.deepEqual(failures, [], "no script error on the page");
  } finally {
    await browser?.close();
  }
});
