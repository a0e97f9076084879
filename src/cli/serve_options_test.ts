import assert from "node:assert/strict";
import { defaultConfig, loadConfig } from "./config.ts";
import { serveOptions } from "./serve_options.ts";

Deno.test("serveOptions() passes the metrics token and the node name to serve()", () => {
  const config = {
    ...defaultConfig(),
    metricsToken: "metrics-1",
    nodeName: "node-a",
  };
  const options = serveOptions(config);
  assert.equal(options.metricsToken, "metrics-1");
  assert.equal(options.nodeName, "node-a");
});

Deno.test("serveOptions() passes the allowed origins to serve()", () => {
  const config = { ...defaultConfig(), allowedOrigins: ["http://a.example"] };
  assert.deepEqual(serveOptions(config).allowedOrigins, ["http://a.example"]);
});

Deno.test("serveOptions() sets no key for what is not configured", () => {
  const options = serveOptions(defaultConfig());
  for (
    const key of [
      "token",
      "metricsToken",
      "nodeName",
      "authenticator",
      "tls",
      "cluster",
      "clusterName",
      "allowedOrigins",
    ]
  ) {
    assert.ok(!(key in options), key);
  }
  assert.equal(options.drainTimeoutMs, 5000);
});

Deno.test("the subscription budget's keys reach serve(), sizes in any unit", async () => {
  const { config } = await loadConfig([
    "--server",
    "--max-subscription-bytes",
    "1MiB",
    "--max-total-subscriptions",
    "5000",
  ], {
    env: (name) =>
      name === "MIST_MAX_TOTAL_SUBSCRIPTION_BYTES" ? "64MB" : undefined,
  });
  const options = serveOptions(config);
  assert.equal(options.maxSubscriptionBytes, 1024 * 1024);
  assert.equal(options.maxTotalSubscriptions, 5000);
  assert.equal(options.maxTotalSubscriptionBytes, 64_000_000);
  const defaults = serveOptions(defaultConfig());
  assert.equal(defaults.maxSubscriptionBytes, 4 * 1024 * 1024);
  assert.equal(defaults.maxTotalSubscriptions, 1_000_000);
  assert.equal(defaults.maxTotalSubscriptionBytes, 256 * 1024 * 1024);
});
