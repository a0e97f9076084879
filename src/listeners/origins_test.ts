import assert from "node:assert/strict";
import {
  normaliseOrigin,
  normaliseOrigins,
  type OriginVerdict,
  originVerdict,
  WarnOnce,
} from "./origins.ts";

Deno.test("normaliseOrigin() lower-cases and drops default ports", async (t) => {
  const cases: [string, string][] = [
    ["*", "*"],
    [" https://App.Example.com ", "https://app.example.com"],
    ["HTTP://LOCALHOST:80", "http://localhost"],
    ["https://example.com:443/", "https://example.com"],
    ["http://example.com:443", "http://example.com:443"],
    ["https://example.com:80", "https://example.com:80"],
    ["http://localhost:3000", "http://localhost:3000"],
    ["http://[0:0::1]:8080", "http://[::1]:8080"],
    ["http://127.0.0.1", "http://127.0.0.1"],
    ["capacitor://Localhost", "capacitor://localhost"],
  ];
  for (const [entry, origin] of cases) {
    await t.step(entry, () => assert.equal(normaliseOrigin(entry), origin));
  }
});

Deno.test("normaliseOrigin() refuses what is not an origin, naming it", async (t) => {
  for (
    const entry of [
      "",
      "example.com",
      "localhost:3000",
      "null",
      "https://example.com/app",
      "https://user@example.com",
      "https://example.com?x=1",
      "https://example.com#top",
      "https://",
      "**",
    ]
  ) {
    await t.step(JSON.stringify(entry), () => {
      assert.throws(
        () => normaliseOrigin(entry),
        (err: unknown) =>
          err instanceof TypeError &&
          err.message.includes(`"${entry.trim()}"`),
      );
    });
  }
});

Deno.test("normaliseOrigins() drops duplicates and freezes", () => {
  const origins = normaliseOrigins([
    "http://a.example",
    "HTTP://A.EXAMPLE:80",
    "*",
  ]);
  assert.deepEqual(origins, ["http://a.example", "*"]);
  assert.ok(Object.isFrozen(origins));
});

Deno.test("originVerdict() follows §9", async (t) => {
  const listed = ["https://app.example.com", "http://localhost:3000"];
  const cases: [
    string,
    string | null,
    string | null,
    "http" | "https",
    readonly string[],
    OriginVerdict,
  ][] = [
    ["no Origin", null, "localhost:8080", "http", [], "none"],
    ["no Origin, no Host", null, null, "http", [], "none"],
    [
      "same host and port",
      "http://localhost:8080",
      "localhost:8080",
      "http",
      [],
      "same",
    ],
    [
      "same, in other case",
      "http://LocalHost:8080",
      "LOCALHOST:8080",
      "http",
      [],
      "same",
    ],
    ["same, IPv6", "http://[::1]:8080", "[::1]:8080", "http", [], "same"],
    [
      "same, IPv6 spelt otherwise",
      "http://[::1]:8080",
      "[0:0::1]:8080",
      "http",
      [],
      "same",
    ],
    [
      "same, default port both sides",
      "http://example.com",
      "example.com",
      "http",
      [],
      "same",
    ],
    [
      "same, default port written in Host",
      "http://example.com",
      "example.com:80",
      "http",
      [],
      "same",
    ],
    [
      "same, https default port",
      "https://example.com",
      "example.com:443",
      "https",
      [],
      "same",
    ],
    [
      "same, behind a proxy ending TLS",
      "https://example.com",
      "example.com",
      "http",
      [],
      "same",
    ],
    [
      "other port",
      "http://localhost:3000",
      "localhost:8080",
      "http",
      [],
      "refused",
    ],
    [
      "other host",
      "http://127.0.0.1:8080",
      "localhost:8080",
      "http",
      [],
      "refused",
    ],
    [
      "other port, Host without one",
      "http://example.com:8080",
      "example.com",
      "http",
      [],
      "refused",
    ],
    [
      "https page, Host on port 80",
      "https://example.com",
      "example.com:80",
      "http",
      [],
      "refused",
    ],
    [
      "IPv6 other port",
      "http://[::1]:3000",
      "[::1]:8080",
      "http",
      [],
      "refused",
    ],
    ["no Host", "http://localhost:8080", null, "http", [], "refused"],
    [
      "a bad Host",
      "http://localhost:8080",
      "localhost:8080/x",
      "http",
      [],
      "refused",
    ],
    [
      "not a web origin",
      "capacitor://localhost",
      "localhost",
      "http",
      [],
      "refused",
    ],
    [
      "null (a sandboxed or file page)",
      "null",
      "localhost:8080",
      "http",
      [],
      "refused",
    ],
    [
      "listed",
      "https://app.example.com",
      "mist:8080",
      "http",
      listed,
      "listed",
    ],
    [
      "listed, other case",
      "HTTPS://APP.example.com",
      "mist:8080",
      "http",
      listed,
      "listed",
    ],
    [
      "listed with port",
      "http://localhost:3000",
      "localhost:8080",
      "http",
      listed,
      "listed",
    ],
    [
      "not listed: other scheme",
      "http://app.example.com",
      "mist:8080",
      "http",
      listed,
      "refused",
    ],
    [
      "not listed: other port",
      "http://localhost:3001",
      "localhost:8080",
      "http",
      listed,
      "refused",
    ],
    [
      "not listed: subdomain",
      "https://x.app.example.com",
      "mist:8080",
      "http",
      listed,
      "refused",
    ],
    [
      "any, with *",
      "https://evil.example",
      "mist:8080",
      "http",
      ["*"],
      "listed",
    ],
    ["null, with *", "null", "mist:8080", "http", ["*"], "listed"],
    ["same, with *", "http://mist:8080", "mist:8080", "http", ["*"], "same"],
  ];
  for (const [name, origin, host, scheme, allowed, verdict] of cases) {
    await t.step(name, () => {
      assert.equal(originVerdict(origin, host, scheme, allowed), verdict);
    });
  }
});

Deno.test("WarnOnce lets one warning per key through per interval", () => {
  const warn = new WarnOnce(60_000, 2);
  assert.equal(warn.allow("a", 0), true);
  assert.equal(warn.allow("a", 59_999), false);
  assert.equal(warn.allow("b", 1), true);
  // Full: a third key stays silent until an old one expires.
  assert.equal(warn.allow("c", 2), false);
  assert.equal(warn.allow("a", 60_000), true);
  assert.equal(warn.allow("c", 60_001), true);
  assert.equal(warn.allow("c", 60_002), false);
});
