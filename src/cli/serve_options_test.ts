import assert from "node:assert/strict";
import { defaultConfig } from "./config.ts";
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
