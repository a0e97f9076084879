import assert from "node:assert/strict";
import {
  type BackplaneOptions,
  openBackplane,
  registerBackplane,
} from "./backplane.ts";
import { MemoryBus } from "./backplane_memory.ts";

Deno.test("`openBackplane()` finds the factory of the URL's scheme, in any case, and passes it the URL and options", () => {
  const bus = new MemoryBus();
  const calls: [string, BackplaneOptions][] = [];
  registerBackplane("Test-Bus", (url, options) => {
    calls.push([url.href, options]);
    return bus.attach();
  });
  const a = openBackplane("test-bus://somewhere/x", { name: "blue" });
  const b = openBackplane("TEST-BUS://elsewhere");
  assert.equal(a.description, "memory-bus#1");
  assert.equal(b.description, "memory-bus#2");
  assert.deepEqual(calls, [
    ["test-bus://somewhere/x", { name: "blue" }],
    ["test-bus://elsewhere", {}],
  ]);
});

Deno.test("`registerBackplane()` replaces the factory registered before under the same scheme", () => {
  const bus = new MemoryBus();
  registerBackplane("replaced", () => {
    throw new Error("the first factory was kept");
  });
  registerBackplane("replaced", () => bus.attach());
  assert.equal(openBackplane("replaced://").description, "memory-bus#1");
});

Deno.test("`openBackplane()` refuses what it cannot open with a `TypeError` that never repeats the URL", async (t) => {
  registerBackplane("listed", () => new MemoryBus().attach());
  const table: [string, RegExp][] = [
    [
      "not a url s3cret",
      /^Invalid cluster URL: not a URL; expected one of .*listed:\/\//,
    ],
    ["", /^Invalid cluster URL: not a URL/],
    [
      "ftp://u:s3cret@host",
      /^Invalid cluster URL scheme "ftp:": expected one of .*listed:\/\//,
    ],
    ["http://user:s3cret@host:1", /Invalid cluster URL scheme "http:"/],
  ];
  for (const [url, message] of table) {
    await t.step(url.replaceAll("s3cret", "***") || "(empty)", () => {
      assert.throws(() => openBackplane(url), (err: unknown) => {
        assert.ok(err instanceof TypeError, String(err));
        assert.match(err.message, message);
        assert.ok(!err.message.includes("s3cret"), err.message);
        return true;
      });
    });
  }
});

Deno.test("`openBackplane()` lets a factory's own `TypeError` through", () => {
  registerBackplane("picky", () => {
    throw new TypeError("Invalid cluster URL: picky wants a host");
  });
  assert.throws(() => openBackplane("picky://"), {
    name: "TypeError",
    message: "Invalid cluster URL: picky wants a host",
  });
});
