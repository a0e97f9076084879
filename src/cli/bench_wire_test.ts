import assert from "node:assert/strict";
import {
  Counts,
  LineScanner,
  mistLine,
  mistText,
  now,
  respLine,
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

Deno.test("the WebSocket counter reads one message a frame, or several in line mode", () => {
  const counts = new Counts(1);
  const text = mistText(counts);
  text(publish().trimEnd());
  text(
    publish() + publish("") + '{"command":"ping","tags":[],"data":"pong"}\n',
  );
  text('{"command":"dropped","data":"7"}');
  assert.equal(counts.received, 3);
  assert.equal(counts.pongs, 1);
  assert.equal(counts.dropped, 7);
  assert.equal(counts.histogram.total, 3);
  assert.ok(counts.histogram.percentile(0.5) >= 4000);
});
