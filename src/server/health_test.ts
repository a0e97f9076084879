import assert from "node:assert/strict";
import { MemoryAuthenticator } from "../auth/memory.ts";
import { checkHealth } from "./health.ts";

Deno.test("checkHealth(): ready counts the authenticator, live does not ask it", async () => {
  const authenticator = new MemoryAuthenticator();
  const parts = {
    closing: false,
    listeners: [{ url: "tcp://127.0.0.1:1" }],
    authenticator,
    cluster: undefined,
  };
  assert.deepEqual(await checkHealth(parts, "ready"), {
    ok: true,
    check: "ready",
    listeners: { "tcp://127.0.0.1:1": "up" },
    authenticator: "up",
    cluster: "off",
    down: [],
  });
  await authenticator.close(); // a closed store answers no more
  const ready = await checkHealth(parts, "ready");
  assert.deepEqual([ready.ok, ready.authenticator, ready.down], [
    false,
    "down",
    ["authenticator"],
  ]);
  const live = await checkHealth(parts, "live");
  assert.deepEqual([live.ok, live.authenticator, live.down], [
    true,
    undefined,
    [],
  ]);
});

Deno.test("checkHealth(): a closing server is neither live nor ready, and lists no listener", async () => {
  const parts = {
    closing: true,
    listeners: [{ url: "tcp://127.0.0.1:1" }],
    authenticator: undefined,
    cluster: undefined,
  };
  for (const check of ["live", "ready"] as const) {
    const report = await checkHealth(parts, check);
    assert.deepEqual([report.ok, report.listeners, report.down], [
      false,
      {},
      ["server"],
    ]);
  }
});

Deno.test("checkHealth(): a listener whose accepts fail makes live down until it recovers", async () => {
  const stats = { acceptFailing: true };
  const parts = {
    closing: false,
    listeners: [{ url: "tcp://127.0.0.1:1", stats }, {
      url: "http://127.0.0.1:2",
      stats: { acceptFailing: false },
    }],
    authenticator: undefined,
    cluster: undefined,
  };
  const failing = await checkHealth(parts, "live");
  assert.deepEqual([failing.ok, failing.listeners, failing.down], [
    false,
    { "tcp://127.0.0.1:1": "accept-failing", "http://127.0.0.1:2": "up" },
    ["listeners"],
  ]);
  stats.acceptFailing = false;
  const recovered = await checkHealth(parts, "live");
  assert.deepEqual([recovered.ok, recovered.down], [true, []]);
});
