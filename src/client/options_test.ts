import assert from "node:assert/strict";
import { DEFAULT_RECONNECT } from "./backoff.ts";
import {
  type ConnectOptions,
  DEFAULT_MAX_FRAME_BYTES,
  DEFAULT_MAX_PENDING_BYTES,
  DEFAULT_TIMEOUT_MS,
  positive,
  resolveOptions,
} from "./options.ts";

Deno.test("resolveOptions() fills in every default", () => {
  const resolved = resolveOptions({});
  assert.equal(resolved.token, undefined);
  assert.equal(resolved.mode, "auto");
  assert.equal(resolved.whenDisconnected, "wait");
  assert.equal(resolved.timeoutMs, 10_000);
  assert.equal(resolved.requestTimeoutMs, 10_000);
  assert.equal(resolved.maxPendingBytes, 8 * 1024 * 1024);
  assert.equal(resolved.maxFrameBytes, 8 * 1024 * 1024);
  assert.deepEqual(resolved.reconnect, DEFAULT_RECONNECT);
  assert.equal(resolved.signal, undefined);
  assert.equal(DEFAULT_TIMEOUT_MS, 10_000);
  assert.equal(DEFAULT_MAX_PENDING_BYTES, 8 * 1024 * 1024);
  assert.equal(DEFAULT_MAX_FRAME_BYTES, 8 * 1024 * 1024);
});

Deno.test("resolveOptions() keeps what was given", () => {
  const signal = new AbortController().signal;
  const resolved = resolveOptions({
    token: "tok-1",
    mode: "legacy",
    whenDisconnected: "fail",
    timeoutMs: 250,
    requestTimeoutMs: 1500.5,
    maxPendingBytes: 4096,
    maxFrameBytes: 1024,
    reconnect: { initialDelayMs: 5, maxAttempts: 3 },
    signal,
  });
  assert.equal(resolved.token, "tok-1");
  assert.equal(resolved.mode, "legacy");
  assert.equal(resolved.whenDisconnected, "fail");
  assert.equal(resolved.timeoutMs, 250);
  assert.equal(resolved.requestTimeoutMs, 1500.5);
  assert.equal(resolved.maxPendingBytes, 4096);
  assert.equal(resolved.maxFrameBytes, 1024);
  assert.deepEqual(resolved.reconnect, {
    ...DEFAULT_RECONNECT,
    initialDelayMs: 5,
    maxAttempts: 3,
  });
  assert.equal(resolved.signal, signal);
});

Deno.test("resolveOptions() reconnects by default, and not with reconnect: false", async (t) => {
  const table: [ConnectOptions["reconnect"], boolean][] = [
    [undefined, true],
    [true, true],
    [{}, true],
    [false, false],
  ];
  for (const [reconnect, reconnects] of table) {
    await t.step(String(JSON.stringify(reconnect)), () => {
      const resolved = resolveOptions(
        reconnect === undefined ? {} : { reconnect },
      );
      assert.equal(resolved.reconnect !== undefined, reconnects);
    });
  }
});

Deno.test("resolveOptions() rounds maxFrameBytes down to whole bytes", () => {
  assert.equal(resolveOptions({ maxFrameBytes: 100.9 }).maxFrameBytes, 100);
});

Deno.test("resolveOptions() accepts each mode and each whenDisconnected", async (t) => {
  for (const mode of ["auto", "ids", "legacy"] as const) {
    await t.step(`mode ${mode}`, () => {
      assert.equal(resolveOptions({ mode }).mode, mode);
    });
  }
  for (const whenDisconnected of ["wait", "fail"] as const) {
    await t.step(`whenDisconnected ${whenDisconnected}`, () => {
      assert.equal(
        resolveOptions({ whenDisconnected }).whenDisconnected,
        whenDisconnected,
      );
    });
  }
});

Deno.test("resolveOptions() rejects a bad option, naming it", async (t) => {
  const table: [string, unknown, ErrorConstructor, RegExp][] = [
    ["token", "", TypeError, /^token must be a non-empty string$/],
    ["token", 42, TypeError, /^token must be a non-empty string$/],
    [
      "mode",
      "fast",
      TypeError,
      /^mode must be one of "auto", "ids", "legacy", got "fast"$/,
    ],
    [
      "whenDisconnected",
      "drop",
      TypeError,
      /^whenDisconnected must be one of "wait", "fail", got "drop"$/,
    ],
    [
      "timeoutMs",
      0,
      RangeError,
      /^timeoutMs must be a positive number, got 0$/,
    ],
    ["timeoutMs", -5, RangeError, /^timeoutMs must be a positive number/],
    [
      "requestTimeoutMs",
      Infinity,
      RangeError,
      /^requestTimeoutMs must be a positive number, got Infinity$/,
    ],
    ["requestTimeoutMs", NaN, RangeError, /^requestTimeoutMs must be/],
    ["maxPendingBytes", 0, RangeError, /^maxPendingBytes must be/],
    ["maxPendingBytes", "8MiB", RangeError, /^maxPendingBytes must be/],
    ["maxFrameBytes", -1, RangeError, /^maxFrameBytes must be/],
    [
      "reconnect",
      { jitter: 2 },
      RangeError,
      /^reconnect.jitter must be between 0 and 1/,
    ],
  ];
  for (const [name, value, type, message] of table) {
    await t.step(
      `${name}: ${
        typeof value === "object" ? JSON.stringify(value) : String(value)
      }`,
      () => {
        const options = { [name]: value } as ConnectOptions;
        assert.throws(() => resolveOptions(options), (err: unknown) => {
          assert.ok(err instanceof type, String(err));
          assert.match((err as Error).message, message);
          return true;
        });
      },
    );
  }
});

Deno.test("positive() returns the value, the default when none, and rejects a non-positive one", async (t) => {
  assert.equal(positive("n", undefined, 7), 7);
  assert.equal(positive("n", 0.5, 7), 0.5);
  assert.equal(positive("n", 3, 7), 3);
  for (const value of [0, -1, NaN, Infinity, -Infinity]) {
    await t.step(String(value), () => {
      assert.throws(
        () => positive("limit", value, 7),
        new RangeError(`limit must be a positive number, got ${value}`),
      );
    });
  }
});

Deno.test("resolveOptions(): the heartbeat defaults to 30 s with a 10 s pong timeout; 0 turns it off", () => {
  const defaults = resolveOptions({});
  assert.deepEqual([defaults.pingIntervalMs, defaults.pingTimeoutMs], [
    30_000,
    10_000,
  ]);
  assert.equal(resolveOptions({ pingIntervalMs: 0 }).pingIntervalMs, 0);
  assert.throws(() => resolveOptions({ pingIntervalMs: -1 }), RangeError);
  assert.throws(() => resolveOptions({ pingTimeoutMs: 0 }), RangeError);
});
