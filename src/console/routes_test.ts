import assert from "node:assert/strict";
import { MemoryAuthenticator } from "../auth/memory.ts";
import { serve } from "../server/server.ts";
import { eventually } from "../testing/eventually.ts";
import { feedOf } from "./feed.ts";

Deno.test("GET /console serves the page, its script and its style sheet under a strict CSP, never cached; GET / redirects to it", async () => {
  await using server = await serve({ listeners: ["http://127.0.0.1:0"] });
  const http = server.addresses[0]!;
  for (
    const [path, type] of [
      ["/console", "text/html"],
      ["/console/app.js", "text/javascript"],
      ["/console/app.css", "text/css"],
    ]
  ) {
    const response = await fetch(http + path);
    const body = await response.text();
    assert.equal(response.status, 200, path);
    assert.ok(response.headers.get("content-type")!.startsWith(type!), path);
    assert.equal(response.headers.get("cache-control"), "no-store");
    const csp = response.headers.get("content-security-policy")!;
    assert.match(csp, /default-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-inline/);
    assert.ok(body.length > 0);
  }
  const page = await (await fetch(http + "/console")).text();
  assert.doesNotMatch(page, /<script>|<style>| style=/, "nothing inline");
  assert.doesNotMatch(page, /https?:\/\//, "nothing from another site");

  const root = await fetch(http + "/", { redirect: "manual" });
  await root.body?.cancel();
  assert.equal(root.status, 303);
  assert.equal(root.headers.get("location"), "/console");
  const post = await fetch(http + "/console", { method: "POST" });
  await post.body?.cancel();
  assert.equal(post.status, 405);
});

Deno.test("GET /console/events needs the admin or the metrics token, as /metrics does", async () => {
  const authenticator = new MemoryAuthenticator();
  await authenticator.addToken("user", ["t"]);
  await using server = await serve({
    listeners: ["http://127.0.0.1:0"],
    authenticator,
    token: "admin",
    metricsToken: "scrape",
  });
  const events = server.addresses[0]! + "/console/events";
  for (
    const [headers, status] of [
      [{}, 401],
      [{ "x-auth-token": "wrong" }, 401],
      [{ "x-auth-token": "user" }, 403],
      [{ "x-auth-token": "admin" }, 200],
      [{ authorization: "Bearer scrape" }, 200],
    ] as const
  ) {
    const response = await fetch(events, { method: "HEAD", headers });
    await response.body?.cancel();
    assert.equal(response.status, status, JSON.stringify(headers));
  }
  assert.equal(feedOf(server).running, false, "HEAD opens no stream");
});

Deno.test("the feed's timer stops when the last console stream closes, and closing the server ends the streams", async () => {
  await using server = await serve({ listeners: ["http://127.0.0.1:0"] });
  const events = server.addresses[0]! + "/console/events";
  const feed = feedOf(server);
  assert.equal(feed.running, false, "no timer while nobody watches");

  const first = await fetch(events);
  const reader = first.body!.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\ndata: {")) text += (await reader.read()).value;
  assert.match(text, /^event: viewer\ndata: \{"viewer":"open"\}\n\n/);
  assert.equal(feed.running, true);
  await reader.cancel();
  await eventually(() => !feed.running, "the timer to stop");
  assert.equal(feed.watchers, 0);

  const second = await fetch(events);
  const open = second.body!.getReader();
  await open.read();
  assert.equal(feed.watchers, 1);
  await server.close();
  while (!(await open.read()).done) { /* the rest of the stream */ }
  assert.equal(feed.running, false, "shutting down ended the stream");
});
