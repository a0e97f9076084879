/**
 * The in-memory publish path, no sockets: a publish request's bytes decoded by
 * a session, matched by the broker, queued to every subscriber and flushed to
 * an outlet that discards it. Sessions come from a real server through a
 * listener of its own scheme, as a custom transport would get them.
 */

import { Broker } from "../src/core/broker.ts";
import {
  type ListenerContext,
  newStats,
  registerListener,
} from "../src/listeners/listener.ts";
import type { Frame } from "../src/protocol/codec.ts";
import { serve } from "../src/server/server.ts";

let context!: ListenerContext;
const stats = newStats();
registerListener("bench", (url, ctx) => {
  context = ctx;
  return Promise.resolve({
    url: url.href,
    stats,
    close() {},
    finished: Promise.resolve(),
  });
});
await serve({ listeners: ["bench://memory"] });

let written = 0;
const outlet = {
  write(frames: readonly Frame[]) {
    for (const frame of frames) written += frame.size;
  },
  close() {},
};
const info = { listener: "bench://memory", remote: "bench", stats };
const encoder = new TextEncoder();

for (const fanOut of [1, 100]) {
  // Each group has a room of its own, so a publish reaches only its subscribers.
  const room = `room:${fanOut}`;
  const publisher = context.open(outlet, info);
  for (let i = 0; i < fanOut; i++) context.open(outlet, info).subscribe([room]);
  const line = encoder.encode(
    JSON.stringify({
      command: "publish",
      tags: [room, "kind:chat"],
      data: "x".repeat(100),
    }),
  );
  Deno.bench(`publish 1 -> ${fanOut} (decode, match, queue, flush)`, {
    group: "publish path",
    baseline: fanOut === 1,
  }, async () => {
    publisher.handle(line);
    // Let the subscribers' flushes run, as the event loop would between reads.
    await Promise.resolve();
  });
}

const data = "x".repeat(100);
for (const fanOut of [1, 100]) {
  const broker = new Broker<{ deliver(frame: Frame): void }>();
  for (let i = 0; i < fanOut; i++) {
    broker.subscribe({
      deliver: (frame) => void (written += frame.text.length),
    }, ["room:42"]);
  }
  Deno.bench(`broker.publish 1 -> ${fanOut}`, { group: "broker only" }, () => {
    broker.publish(undefined, ["room:42", "kind:chat"], data);
  });
}
