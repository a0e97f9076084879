/**
 * The in-memory publish path, no sockets: a publish request's bytes decoded by
 * a connection, run by the publish command, matched by the broker, queued to
 * every subscriber and flushed to an outlet that discards it. Connections are
 * opened on a real server with `MistServer.open`, as a listener opens them.
 */

import { Broker } from "../src/core/broker.ts";
import type { Frame } from "../src/protocol/codec.ts";
import { MistServer } from "../src/server/server.ts";
import { newStats } from "../src/server/transport.ts";

const server = new MistServer();
const stats = newStats();

let written = 0;
const outlet = {
  write(frames: readonly Frame[]) {
    for (const frame of frames) written += frame.size;
  },
  close() {},
};
const info = { listener: "memory", remote: "bench", stats };
const encoder = new TextEncoder();

for (const fanOut of [1, 100]) {
  // Each group has a room of its own, so a publish reaches only its subscribers.
  const room = `room:${fanOut}`;
  const publisher = server.open(outlet, info);
  for (let i = 0; i < fanOut; i++) {
    server.open(outlet, info).receive(
      JSON.stringify({ command: "subscribe", tags: [room] }),
    );
  }
  // Unsorted tags take the general path (decode, validate, encode again);
  // sorted ones are a canonical line, forwarded as it is.
  for (const tags of [[room, "kind:chat"], ["kind:chat", room]]) {
    const path = tags[0] === room ? "decode, encode" : "canonical line";
    const line = encoder.encode(
      JSON.stringify({ command: "publish", tags, data: "x".repeat(100) }),
    );
    Deno.bench(`publish 1 -> ${fanOut} (${path}, match, queue, flush)`, {
      group: "publish path",
      baseline: fanOut === 1 && path === "decode, encode",
    }, async () => {
      publisher.receive(line);
      // Let the subscribers' flushes run, as the event loop would between reads.
      await Promise.resolve();
    });
  }
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
