import assert from "node:assert/strict";
import {
  batchOf,
  Counts,
  LineScanner,
  mistFrame,
  mistLine,
  now,
  respLine,
  STAMP,
  stampOf,
  stampText,
} from "./bench_wire.ts";

const encoder = new TextEncoder();

/** Feeds `text` to a scanner in pieces of `size` bytes. */
function feed(scanner: LineScanner, text: string, size: number): void {
  const bytes = encoder.encode(text);
  for (let i = 0; i < bytes.length; i += size) {
    scanner.push(bytes.slice(i, i + size));
  }
}

function stamp(): string {
  return (now() - 5).toFixed(3);
}

const publish = (tail = "x".repeat(300)) =>
  JSON.stringify({
    command: "publish",
    tags: ["t"],
    data: `@${stamp()}@${tail}`,
  }) + "\n";

Deno.test("the mist scanner counts deliveries, pongs and dropped notices however reads split them", async (t) => {
  const text = publish() + publish("") +
    '{"command":"ping","tags":[],"data":"pong"}\n' +
    '{"command":"dropped","data":"42"}\n' + publish("y");
  for (const size of [1, 2, 7, 13, 64, 191, 192, 193, 1000, 100_000]) {
    await t.step(`reads of ${size} bytes`, () => {
      const counts = new Counts(1);
      feed(new LineScanner(mistLine(counts)), text, size);
      assert.equal(counts.received, 3);
      assert.equal(counts.pongs, 1);
      assert.equal(counts.dropped, 42);
      // Every delivery's stamp was read: about 5 ms old.
      assert.equal(counts.histogram.total, 3);
      assert.ok(counts.histogram.percentile(0.5) >= 4000);
      assert.ok(counts.histogram.max < 1_000_000);
    });
  }
});

Deno.test("Counts samples one delivery in sampleEvery", () => {
  const counts = new Counts(4);
  feed(new LineScanner(mistLine(counts)), publish().repeat(40), 4096);
  assert.equal(counts.received, 40);
  assert.equal(counts.histogram.total, 10);
});

Deno.test("the RESP scanner counts messages and pongs, not subscribe replies", () => {
  const message = (payload: string) =>
    `*3\r\n$7\r\nmessage\r\n$1\r\nt\r\n$${payload.length}\r\n${payload}\r\n`;
  const text = "*3\r\n$9\r\nsubscribe\r\n$1\r\nt\r\n:1\r\n" +
    "*2\r\n$4\r\npong\r\n$0\r\n\r\n" + message(`@${stamp()}@xx`) +
    message(`@${stamp()}@`) + "+PONG\r\n:1\r\n";
  for (const size of [1, 5, 64, 4096]) {
    const counts = new Counts(1);
    feed(new LineScanner(respLine(counts)), text, size);
    assert.equal(counts.received, 2, `reads of ${size}`);
    assert.equal(counts.pongs, 2);
    assert.equal(counts.histogram.total, 2);
  }
});

Deno.test("Counts.until() resolves on a pong and times out with the reason", async () => {
  const counts = new Counts(1);
  const waiting = counts.until(() => counts.pongs >= 1, 5000, "a pong");
  counts.pong();
  await waiting;
  await assert.rejects(
    counts.until(() => false, 20, "nothing"),
    /timed out waiting for nothing/,
  );
  counts.end();
  await assert.rejects(
    counts.until(() => false, 5000, "x"),
    /the server closed a connection/,
  );
});

Deno.test("a plain WebSocket frame is one delivery, a line-mode frame several", () => {
  const counts = new Counts(1);
  const plain = mistLine(counts);
  const lines = mistFrame(counts);
  // Framed inside a larger buffer: nothing outside [s, e) may be read.
  const framed = (text: string): [Uint8Array, number, number] => [
    encoder.encode(`\n${text}${publish()}`),
    1,
    1 + encoder.encode(text).length,
  ];
  plain(...framed(publish().trimEnd()));
  plain(...framed('{"command":"dropped","data":"7"}'));
  lines(...framed(
    publish() + publish("") + '{"command":"ping","tags":[],"data":"pong"}\n',
  ));
  lines(...framed('{"command":"dropped","data":"5"}\n'));
  assert.equal(counts.received, 3);
  assert.equal(counts.pongs, 1);
  assert.equal(counts.dropped, 12);
  assert.equal(counts.histogram.total, 3);
  assert.ok(counts.histogram.percentile(0.5) >= 4000);
});

Deno.test("batchOf keeps each message's end", () => {
  const [batch, ends] = batchOf(["a\n", "é\n", "\n"]);
  assert.deepEqual([...batch], [0x61, 10, 0xc3, 0xa9, 10, 10]);
  assert.deepEqual(ends, [2, 5, 6]);
});

Deno.test("a stamp is STAMP characters and reads back to the µs", () => {
  for (const ms of [now(), 1796137395756.379, 0.001]) {
    const text = stampText(ms);
    assert.equal(text.length, STAMP);
    const bytes = encoder.encode(`{"data":"@${text}@xx"}`);
    const read = stampOf(bytes, bytes.indexOf(0x40), bytes.length);
    assert.ok(Math.abs(read - ms) < 0.0006, `${ms} read as ${read}`);
  }
  const bytes = encoder.encode("@123@");
  assert.equal(stampOf(bytes, 0, bytes.length), 0, "too short: no stamp");
});

Deno.test("a stamp written in another Worker is read on the same clock", async () => {
  // The Worker stamps after it sees our stamp in shared memory, so on one
  // clock its stamp is never earlier than ours; raw performance.now() counts
  // from each thread's own start and would be off by the gap between them.
  const shared = new SharedArrayBuffer(24);
  const times = new Float64Array(shared, 0, 2);
  const flag = new Int32Array(shared, 16, 1);
  const source = `
    import { now } from ${
    JSON.stringify(import.meta.resolve("./bench_wire.ts"))
  };
    self.onmessage = (e) => {
      const times = new Float64Array(e.data, 0, 2);
      const flag = new Int32Array(e.data, 16, 1);
      while (Atomics.load(flag, 0) !== 1) {}
      times[1] = now();
      Atomics.store(flag, 0, 2);
      self.postMessage(0);
    };`;
  // Started later than this thread: its origin differs from ours.
  await new Promise((resolve) => setTimeout(resolve, 50));
  const worker = new Worker(
    `data:application/javascript,${encodeURIComponent(source)}`,
    { type: "module" },
  );
  try {
    const done = new Promise((resolve) => (worker.onmessage = resolve));
    worker.postMessage(shared);
    await new Promise((resolve) => setTimeout(resolve, 20));
    times[0] = now();
    Atomics.store(flag, 0, 1);
    await done;
    assert.equal(Atomics.load(flag, 0), 2);
    const age = times[1]! - times[0]!;
    // Microseconds of slack for the wall clock's rounding.
    assert.ok(age >= -0.01, `the Worker's stamp is ${-age} ms earlier`);
    assert.equal(
      Number(stampText(times[1]!)) >= Number(stampText(times[0]!)) - 0.01,
      true,
    );
  } finally {
    worker.terminate();
  }
});
