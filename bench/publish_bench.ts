/**
 * The in-memory publish path, no sockets: a publish request's bytes decoded by
 * a session, matched by the broker, queued to every subscriber and flushed to
 * an outlet that discards it.
 */

import { Broker } from "../src/broker/broker.ts";
import { commandTable } from "../src/commands.ts";
import { newStats } from "../src/listeners/listener.ts";
import { DEFAULT_LIMITS, type Frame } from "../src/protocol.ts";
import { Session, type SessionHost } from "../src/session.ts";

function host(): SessionHost {
  const broker = new Broker<Session>();
  return {
    broker,
    limits: DEFAULT_LIMITS,
    queueBytes: 8 * 1024 * 1024,
    commands: commandTable(),
    route: (from, tags, data) => void broker.publish(from, tags, data),
    release: () => {},
  };
}

let written = 0;
const outlet = {
  write(frames: readonly Frame[]) {
    for (const frame of frames) written += frame.size;
  },
  close() {},
};
const stats = newStats();
const info = { listener: "bench://", remote: "bench", stats };

const request = new TextEncoder().encode(
  JSON.stringify({
    command: "publish",
    tags: ["room:42", "kind:chat"],
    data: "x".repeat(100),
  }),
);

for (const fanOut of [1, 100]) {
  const server = host();
  const publisher = new Session(server, outlet, info);
  for (let i = 0; i < fanOut; i++) {
    new Session(server, outlet, info).subscribe(["room:42"]);
  }
  Deno.bench(`publish 1 -> ${fanOut} (decode, match, queue, flush)`, {
    group: "publish path",
    baseline: fanOut === 1,
  }, async () => {
    publisher.handle(request);
    // Let the subscribers' flushes run, as the event loop would between reads.
    await Promise.resolve();
  });
}

const data = "x".repeat(100);
for (const fanOut of [1, 100]) {
  const broker = new Broker<{ deliver(frame: Frame): void }>();
  const subscriber = {
    deliver: (frame: Frame) => void (written += frame.size),
  };
  for (let i = 0; i < fanOut; i++) {
    broker.subscribe({ ...subscriber }, ["room:42"]);
  }
  Deno.bench(`broker.publish 1 -> ${fanOut}`, { group: "broker only" }, () => {
    broker.publish(undefined, ["room:42", "kind:chat"], data);
  });
}
