import assert from "node:assert/strict";
import { MistError } from "../protocol/errors.ts";
import type { Message } from "../protocol/codec.ts";
import { Correlator, type PendingRequest } from "./correlator.ts";

const PONG: Message = { command: "ping", tags: [], data: "pong" };

/** A request that records how it ended. */
class Probe implements PendingRequest {
  settled = false;
  result: Message | undefined | MistError | "none" = "none";
  constructor(readonly request: Message) {}
  resolve(reply: Message | undefined): void {
    assert.equal(this.settled, false, "settled twice");
    this.settled = true;
    this.result = reply;
  }
  reject(error: MistError): void {
    assert.equal(this.settled, false, "settled twice");
    this.settled = true;
    this.result = error;
  }
}

function counter(): () => number {
  let id = 0;
  return () => ++id;
}

Deno.test("with ids, each reply settles the request with its id, in any order", () => {
  const correlator = new Correlator("ids", counter());
  const sub = new Probe({ command: "subscribe", tags: ["a"] });
  const list = new Probe({ command: "list" });
  assert.deepEqual(correlator.encode(sub), [
    '{"command":"subscribe","tags":["a"],"id":1}',
  ]);
  assert.deepEqual(correlator.encode(list), ['{"command":"list","id":2}']);
  const listReply = { command: "list", tags: [], data: "[]", id: 2 };
  assert.equal(correlator.accept(listReply), true);
  assert.deepEqual(list.result, listReply);
  assert.equal(sub.settled, false);
  assert.equal(
    correlator.accept({
      command: "subscribe",
      tags: ["a"],
      error: "too many subscriptions",
      id: 1,
    }),
    true,
  );
  assert.ok(sub.result instanceof MistError);
  assert.equal(sub.result.code, "too_many_subscriptions");
  assert.equal(correlator.waiting, 0);
});

Deno.test("with ids, a reply without one or with an unknown one is not taken", () => {
  const correlator = new Correlator("ids", counter());
  const ping = new Probe({ command: "ping" });
  correlator.encode(ping);
  assert.equal(correlator.accept(PONG), false);
  assert.equal(correlator.accept({ ...PONG, id: 99 }), false);
  assert.equal(ping.settled, false);
});

Deno.test("with ids, an error without an id answers the oldest request waiting", () => {
  const correlator = new Correlator("ids", counter());
  const big = new Probe({ command: "publish", tags: ["a"], data: "x" });
  const ping = new Probe({ command: "ping" });
  correlator.encode(big);
  correlator.encode(ping);
  assert.equal(
    correlator.accept({ command: "", error: "message too large" }),
    true,
  );
  assert.ok(big.result instanceof MistError);
  assert.equal(big.result.code, "too_large");
  assert.equal(ping.settled, false);
  correlator.accept({ ...PONG, id: 2 });
  assert.equal(correlator.waiting, 0);
  assert.equal(
    correlator.accept({ command: "", error: "invalid JSON" }),
    false,
    "nothing waits",
  );
});

Deno.test("with ids, a late reply to a request that timed out is absorbed", () => {
  const correlator = new Correlator("ids", counter());
  const ping = new Probe({ command: "ping" });
  correlator.encode(ping);
  ping.reject(new MistError("timeout"));
  assert.equal(correlator.accept({ ...PONG, id: 1 }), true);
  assert.equal(correlator.waiting, 0);
});

Deno.test("without ids, each request but ping is followed by a barrier ping", () => {
  const correlator = new Correlator("legacy", counter());
  assert.deepEqual(
    correlator.encode(
      new Probe({ command: "publish", tags: ["a"], data: "x" }),
    ),
    ['{"command":"publish","tags":["a"],"data":"x"}', '{"command":"ping"}'],
  );
  assert.deepEqual(correlator.encode(new Probe({ command: "ping" })), [
    '{"command":"ping"}',
  ]);
});

Deno.test("without ids, the barrier's pong settles the requests before it", () => {
  const correlator = new Correlator("legacy", counter());
  const sub = new Probe({ command: "subscribe", tags: ["a"] });
  const bad = new Probe({ command: "register", tags: ["a"], data: "t" });
  const list = new Probe({ command: "list" });
  const ping = new Probe({ command: "ping" });
  for (const probe of [sub, bad, list, ping]) correlator.encode(probe);

  assert.equal(correlator.accept(PONG), true); // sub's barrier
  assert.equal(sub.result, undefined);
  assert.equal(bad.settled, false);

  const unknown = { command: "register", error: "Unknown Command" };
  assert.equal(correlator.accept(unknown), true);
  assert.equal(bad.settled, false, "waits for its barrier");
  assert.equal(correlator.accept(PONG), true);
  assert.ok(bad.result instanceof MistError);
  assert.equal(bad.result.code, "unknown_command");

  const listReply = { command: "list", tags: [], data: '[["a"]]' };
  assert.equal(correlator.accept(listReply), true);
  assert.equal(correlator.accept(PONG), true);
  assert.deepEqual(list.result, listReply);

  assert.equal(ping.settled, false);
  assert.equal(correlator.accept(PONG), true);
  assert.deepEqual(ping.result, PONG);
  assert.equal(correlator.waiting, 0);
  assert.equal(correlator.accept(PONG), false, "nothing asked for it");
});

Deno.test("without ids, an error that overtakes an earlier pong still finds its request", () => {
  const correlator = new Correlator("legacy", counter());
  const ping = new Probe({ command: "ping" });
  const sub = new Probe({ command: "subscribe", tags: ["a"] });
  correlator.encode(ping);
  correlator.encode(sub);
  assert.equal(
    correlator.accept({ command: "subscribe", error: "too many tags" }),
    true,
  );
  correlator.accept(PONG);
  assert.deepEqual(ping.result, PONG);
  assert.equal(sub.settled, false);
  correlator.accept(PONG);
  assert.ok(sub.result instanceof MistError);
  assert.equal(sub.result.code, "too_many_tags");
  assert.equal(
    correlator.accept({ command: "publish", error: "missing tags" }),
    false,
    "no publish waits",
  );
});

Deno.test("without ids, a request that timed out still takes its own answers", () => {
  const correlator = new Correlator("legacy", counter());
  const first = new Probe({ command: "publish", tags: ["a"], data: "1" });
  const second = new Probe({ command: "list" });
  correlator.encode(first);
  correlator.encode(second);
  first.reject(new MistError("timeout"));
  correlator.accept({ command: "publish", error: "missing tags" });
  correlator.accept(PONG);
  assert.equal(second.settled, false);
  const reply = { command: "list", tags: [], data: "[]" };
  correlator.accept(reply);
  correlator.accept(PONG);
  assert.deepEqual(second.result, reply);
});

Deno.test("detecting, a reply with an id switches to ids", () => {
  const correlator = new Correlator("detect", counter());
  const auth = new Probe({ command: "auth", data: "t" });
  const ping = new Probe({ command: "ping" });
  assert.deepEqual(correlator.encode(auth), [
    '{"command":"auth","data":"t","id":1}',
  ]);
  correlator.encode(ping);
  correlator.accept({ command: "auth", id: 1, tags: [], data: "ok" });
  assert.equal(correlator.mode, "ids");
  correlator.accept({ ...PONG, id: 2 });
  assert.deepEqual(ping.result, { ...PONG, id: 2 });
  assert.equal(correlator.waiting, 0);
});

Deno.test("detecting, answers without ids switch to ping barriers", async (t) => {
  await t.step("a pong alone: auth was accepted", () => {
    const correlator = new Correlator("detect", counter());
    const auth = new Probe({ command: "auth", data: "t" });
    const ping = new Probe({ command: "ping" });
    correlator.encode(auth);
    correlator.encode(ping);
    assert.equal(correlator.accept(PONG), true);
    assert.equal(correlator.mode, "legacy");
    assert.equal(auth.result, undefined);
    assert.deepEqual(ping.result, PONG);
    assert.equal(correlator.waiting, 0);
  });
  await t.step("an error, then the pong: auth was refused", () => {
    const correlator = new Correlator("detect", counter());
    const auth = new Probe({ command: "auth", data: "t" });
    const ping = new Probe({ command: "ping" });
    correlator.encode(auth);
    correlator.encode(ping);
    correlator.accept({ command: "auth", error: "invalid token" });
    assert.equal(correlator.mode, "legacy");
    correlator.accept(PONG);
    assert.ok(auth.result instanceof MistError);
    assert.equal(auth.result.code, "invalid_token");
    assert.deepEqual(ping.result, PONG);
  });
});

Deno.test("abandon() returns the unsettled requests once, in order", () => {
  for (const mode of ["detect", "ids", "legacy"] as const) {
    const correlator = new Correlator(mode, counter());
    const probes = [
      new Probe({ command: "subscribe", tags: ["a"] }),
      new Probe({ command: "ping" }),
      new Probe({ command: "publish", tags: ["a"], data: "" }),
    ];
    for (const probe of probes) correlator.encode(probe);
    probes[1]!.reject(new MistError("timeout"));
    assert.deepEqual(correlator.abandon(), [probes[0], probes[2]], mode);
    assert.equal(correlator.waiting, 0);
    assert.deepEqual(correlator.abandon(), []);
  }
});
