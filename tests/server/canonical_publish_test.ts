/**
 * The fast path of a canonical publish line, end to end: a line handed to a
 * connection as bytes (which may take the fast path) and the same line as
 * text (which always takes the general one) must give every connection the
 * same frames.
 */

import assert from "node:assert/strict";
import { canonicalPublish } from "../../src/protocol/canonical.ts";
import type { Frame, Limits } from "../../src/protocol/codec.ts";
import { MistServer } from "../../src/server/server.ts";
import { newStats } from "../../src/server/transport.ts";
import { random } from "../../src/testing/random.ts";

const LIMITS: Limits = {
  maxMessageBytes: 100,
  maxTags: 3,
  maxTagBytes: 4,
  maxSubscriptions: 10,
};
const SUBSCRIPTIONS = [["a"], ["b"], ["a", "b"], ["é"], ["a", "c"], ["~"]];
const PIECES = ["a", "b", "c", "é", "~", '"', "\\", "\\u0061", " ", "\t"];

/** A server with a publisher and a subscriber, each recording its frames. */
function side() {
  const server = new MistServer({ limits: LIMITS });
  const record = (into: string[]) => ({
    write(frames: readonly Frame[]) {
      for (const frame of frames) into.push(frame.text);
    },
    close() {},
  });
  const info = { listener: "memory", remote: "test", stats: newStats() };
  const published: string[] = [], delivered: string[] = [];
  const publisher = server.open(record(published), info);
  const subscriber = server.open(record(delivered), info);
  for (const tags of SUBSCRIPTIONS) {
    subscriber.receive(JSON.stringify({ command: "subscribe", tags }));
  }
  return { server, publisher, subscriber, published, delivered };
}

function line(next: () => number): string {
  const int = (n: number) => Math.floor(next() * n);
  const word = () => {
    let s = "";
    for (let n = 1 + int(3); n > 0; n--) {
      s += next() < 0.9 ? "abc"[int(3)] : PIECES[int(PIECES.length)];
    }
    return s;
  };
  const tags = Array.from({ length: int(4) }, word);
  if (next() < 0.7) tags.sort();
  const data = Array.from({ length: int(20) }, word).join("");
  const head = next() < 0.9 ? '{"command":"publish",' : '{"command":"ping",';
  return `${head}"tags":[${
    tags.map((t) => `"${t}"`).join(",")
  }],"data":"${data}"}`;
}

Deno.test("a publish line as bytes and as text reaches every connection alike", async () => {
  const bytes = side(), text = side();
  const next = random(10);
  const encoder = new TextEncoder();
  let fast = 0;
  try {
    for (let i = 0; i < 5000; i++) {
      const sent = line(next);
      const encoded = encoder.encode(sent);
      if (canonicalPublish(encoded, LIMITS) !== undefined) fast++;
      await bytes.publisher.receive(encoded);
      await text.publisher.receive(sent);
    }
    await Promise.all(
      [bytes, text].flatMap((s) => [
        s.publisher.drain(1000),
        s.subscriber.drain(1000),
      ]),
    );
    assert.ok(fast > 500, `only ${fast} lines took the fast path`);
    // Deliveries, replies and error replies, frame for frame.
    assert.ok(text.delivered.length > 500, "too few lines were delivered");
    assert.deepEqual(bytes.delivered, text.delivered);
    assert.ok(text.published.length > 100, "too few lines were refused");
    assert.deepEqual(bytes.published, text.published);
  } finally {
    await bytes.server.close();
    await text.server.close();
  }
});
