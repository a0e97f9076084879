import assert from "node:assert/strict";
import { backoffDelay } from "./backoff.ts";

Deno.test("`backoffDelay()` doubles from the first wait up to the cap", () => {
  const policy = { initialMs: 100, maxMs: 5000, jitter: 0 };
  assert.deepEqual(
    [0, 1, 2, 3, 4, 5, 6, 7, 99, 10_000].map((retry) =>
      backoffDelay(retry, policy)
    ),
    [100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000, 5000],
  );
});

Deno.test("`backoffDelay()` treats a negative retry as the first", () => {
  assert.equal(
    backoffDelay(-3, { initialMs: 100, maxMs: 5000, jitter: 0 }),
    100,
  );
});

Deno.test("`backoffDelay()` takes at most the jitter's share off each wait", async (t) => {
  const table: [number, number, number][] = [
    // jitter, random, expected wait for a full wait of 400
    [0.5, 0, 400],
    [0.5, 0.5, 300],
    [1, 0.5, 200],
    [0, 0.999, 400],
  ];
  for (const [jitter, random, expected] of table) {
    await t.step(`jitter ${jitter}, random ${random}`, () => {
      assert.equal(
        backoffDelay(2, {
          initialMs: 100,
          maxMs: 5000,
          jitter,
          random: () => random,
        }),
        expected,
      );
    });
  }
  for (let i = 0; i < 1000; i++) {
    const wait = backoffDelay(10, { initialMs: 100, maxMs: 5000, jitter: 0.5 });
    assert.ok(wait > 2500 && wait <= 5000, `${wait}`);
  }
});

Deno.test("`backoffDelay()` never leaves the finite numbers, however many retries", () => {
  const wait = backoffDelay(Number.MAX_SAFE_INTEGER, {
    initialMs: 1,
    maxMs: Number.MAX_SAFE_INTEGER,
    jitter: 0,
  });
  assert.equal(wait, 2 ** 30);
});
