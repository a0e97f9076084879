import assert from "node:assert/strict";
import { encode, type Frame } from "../protocol/codec.ts";
import { Outbox, TIMED_FRAME_EVERY } from "./outbox.ts";
import { newStats } from "./transport.ts";

Deno.test("Outbox counts the bytes it writes and times one frame in 16, the first included", async () => {
  const stats = newStats();
  let written = 0;
  const outlet = {
    async write(frames: readonly Frame[]) {
      await new Promise((resolve) => setTimeout(resolve, 1));
      for (const frame of frames) written += frame.size;
    },
    close() {},
  };
  const outbox = new Outbox(outlet, {
    capacity: 1 << 20,
    stats,
    failed: (err) => assert.fail(`write failed: ${err}`),
  });
  outbox.force(encode({ command: "ping" }));
  assert.ok(await outbox.drain(1000));
  assert.equal(stats.flushSeconds.count, 1, "the first frame is timed");
  assert.ok(stats.flushSeconds.sum > 0);
  for (let i = 1; i < 2 * TIMED_FRAME_EVERY; i++) {
    outbox.offer(encode({ command: "publish", tags: ["t"], data: `${i}` }));
    await Promise.resolve();
  }
  assert.ok(await outbox.drain(1000));
  assert.equal(stats.flushSeconds.count, 2);
  assert.equal(stats.bytesSent, written);
  outbox.close();
});
