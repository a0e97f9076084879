import assert from "node:assert/strict";
import { setImmediate } from "node:timers";
import { MistServer } from "../server/server.ts";
import { newStats } from "../server/transport.ts";
import { Frame } from "../protocol/codec.ts";
import {
  lineOutlet,
  type LineStream,
  READ_BUFFER,
  serveConnection,
  WRITE_CHUNK_BYTES,
} from "./line_stream.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A stream fed from a list of chunks, recording what is written. */
class ScriptedStream implements LineStream {
  readonly remote = "script:1";
  readonly written: string[] = [];
  /** The size of the buffer each read was given. */
  readonly buffers: number[] = [];
  closed = 0;
  readonly #chunks: Uint8Array[];

  constructor(chunks: string[]) {
    this.#chunks = chunks.map((chunk) => encoder.encode(chunk));
  }

  read(buffer: Uint8Array): Promise<number | null> {
    this.buffers.push(buffer.length);
    const chunk = this.#chunks.shift();
    if (chunk === undefined) return Promise.resolve(null); // the peer finished
    // What does not fit is read next time, as from a socket.
    if (chunk.length > buffer.length) {
      this.#chunks.unshift(chunk.subarray(buffer.length));
    }
    const n = Math.min(chunk.length, buffer.length);
    buffer.set(chunk.subarray(0, n));
    return Promise.resolve(n);
  }

  write(bytes: Uint8Array): Promise<void> {
    this.written.push(...decoder.decode(bytes).split("\n").filter(Boolean));
    return Promise.resolve();
  }

  close(): void {
    this.closed++;
  }
}

Deno.test("serveConnection() answers lines cut anywhere, counts bytes, and closes after the peer finishes", async () => {
  await using server = new MistServer();
  const stats = newStats();
  const stream = new ScriptedStream([
    '{"command":"pi',
    'ng","id":1}\r\n{"command":"list"}\n\n{"comm',
    'and":"ping"}\n',
  ]);
  await serveConnection(stream, "script://", server, stats);
  assert.deepEqual(stream.written.map((line) => JSON.parse(line)), [
    { command: "ping", tags: [], data: "pong", id: 1 },
    { command: "list", tags: [], data: "[]" },
    { command: "ping", tags: [], data: "pong" },
  ]);
  assert.equal(stream.closed, 1);
  assert.equal(stats.accepted, 1);
  assert.equal(stats.connections, 0);
  assert.equal(
    stats.bytesReceived,
    encoder.encode(
      '{"command":"ping","id":1}\r\n{"command":"list"}\n\n{"command":"ping"}\n',
    ).length,
  );
});

Deno.test("serveConnection() refuses a line over the limit without reading it into memory, then goes on", async () => {
  await using server = new MistServer({ limits: { maxMessageBytes: 64 } });
  const stream = new ScriptedStream([
    `{"command":"publish","data":"${"x".repeat(100)}`,
    `${"y".repeat(100)}"}\n{"command":"ping"}\n`,
  ]);
  await serveConnection(stream, "script://", server, newStats());
  assert.deepEqual(stream.written.map((line) => JSON.parse(line)), [
    { command: "", error: "message too large" },
    { command: "ping", tags: [], data: "pong" },
  ]);
});

Deno.test("serveConnection() reads into a buffer that grows for a busy client and shrinks back when it is quiet", async () => {
  await using server = new MistServer();
  const ping = '{"command":"ping"}\n';
  const busy = ping.repeat(Math.ceil(4 * READ_BUFFER.largest / ping.length));
  // Enough small reads to halve it back down all the way.
  const halvings = Math.log2(READ_BUFFER.largest / READ_BUFFER.smallest);
  const quiet = Array.from(
    { length: READ_BUFFER.shrinkAfter * (halvings + 1) },
    () => ping,
  );
  const stream = new ScriptedStream([busy, ...quiet]);
  await serveConnection(stream, "script://", server, newStats());
  assert.equal(stream.buffers[0], READ_BUFFER.smallest);
  assert.equal(Math.max(...stream.buffers), READ_BUFFER.largest);
  assert.equal(stream.buffers.at(-1), READ_BUFFER.smallest);
  // Every line was read whatever the buffer's size.
  assert.equal(
    stream.written.length,
    busy.length / ping.length + quiet.length,
  );
});

Deno.test("lineOutlet() writes frames in order in chunks of at most WRITE_CHUNK_BYTES, a large frame as it is", async () => {
  const writes: Uint8Array[] = [];
  const large = new Frame(
    JSON.stringify({ data: "x".repeat(WRITE_CHUNK_BYTES) }),
  );
  const outlet = lineOutlet({
    remote: "script:1",
    read: () => Promise.resolve(null),
    write(bytes) {
      // A chunk is reused once written: keep a copy, or the frame itself.
      writes.push(bytes === large.line ? bytes : bytes.slice());
      return Promise.resolve();
    },
    close() {},
  });
  const small = Array.from(
    { length: 3000 },
    (_, i) => new Frame(JSON.stringify({ command: "publish", data: `${i}` })),
  );
  const frames = [...small.slice(0, 1500), large, ...small.slice(1500)];
  await outlet.write(frames);
  assert.ok(writes.length > 2);
  for (const bytes of writes) {
    assert.ok(bytes.length <= WRITE_CHUNK_BYTES || bytes === large.line);
  }
  // The large frame's shared bytes, not a copy.
  assert.ok(writes.includes(large.line));
  const text = writes.map((bytes) => decoder.decode(bytes)).join("");
  assert.equal(text, frames.map((frame) => frame.text + "\n").join(""));
});

Deno.test("serveConnection() gives each connection a read buffer of its own, even where they share a slab", async () => {
  await using server = new MistServer();
  const count = 300;
  const buffers: Uint8Array[][] = [];
  const streams = Array.from({ length: count }, (_, i) => {
    const stream = new ScriptedStream([`{"command":"ping","id":${i}}\n`]);
    const read = stream.read.bind(stream);
    const mine: Uint8Array[] = [];
    buffers.push(mine);
    stream.read = (buffer) => {
      mine.push(buffer);
      return read(buffer);
    };
    return stream;
  });
  await Promise.all(
    streams.map((stream) =>
      serveConnection(stream, "script://", server, newStats())
    ),
  );
  const regions: [ArrayBufferLike, number, number][] = buffers.map((mine) => {
    const [first] = mine;
    assert.ok(first !== undefined);
    // Its line, then the end of the stream, read into the same buffer.
    assert.ok(mine.every((buffer) => buffer === first));
    return [first.buffer, first.byteOffset, first.byteOffset + first.length];
  });
  for (let i = 0; i < count; i++) {
    for (let j = i + 1; j < count; j++) {
      const [a, aStart, aEnd] = regions[i]!;
      const [b, bStart, bEnd] = regions[j]!;
      assert.ok(a !== b || aEnd <= bStart || bEnd <= aStart, "shared bytes");
    }
  }
  // Shared slabs: far fewer backing buffers than connections.
  assert.ok(new Set(regions.map(([buffer]) => buffer)).size < count / 10);
  streams.forEach((stream, i) =>
    assert.deepEqual(stream.written.map((line) => JSON.parse(line)), [
      { command: "ping", tags: [], data: "pong", id: i },
    ])
  );
});

Deno.test("lineOutlet() writes the same joined bytes to every connection that writes the same shared frames, and its own otherwise", async () => {
  const outlet = (writes: Uint8Array[]) =>
    lineOutlet({
      remote: "script:1",
      read: () => Promise.resolve(null),
      write(bytes) {
        writes.push(bytes);
        return Promise.resolve();
      },
      close() {},
    });
  const frames = Array.from({ length: 5 }, (_, i) => {
    const frame = new Frame(
      JSON.stringify({ command: "publish", data: `${i}` }),
    );
    frame.shared = true;
    return frame;
  });
  const a: Uint8Array[] = [], b: Uint8Array[] = [], c: Uint8Array[] = [];
  await outlet(a).write(frames);
  await outlet(b).write([...frames]);
  // One frame differs in the middle: not the same bytes.
  const other = [...frames];
  other[2] = new Frame(JSON.stringify({ command: "publish", data: "x" }));
  other[2]!.shared = true;
  await outlet(c).write(other);
  const text = (list: readonly Frame[]) =>
    list.map((frame) => frame.text + "\n").join("");
  assert.equal(a.length, 1);
  assert.equal(b[0], a[0]);
  assert.notEqual(c[0], a[0]);
  assert.equal(decoder.decode(a[0]!), text(frames));
  assert.equal(decoder.decode(c[0]!), text(other));
});

Deno.test("serveConnection() lets the event loop turn between reads that complete at once", async () => {
  // Reads from a scripted stream resolve at once, as Deno's reads of bytes
  // already buffered do: a loop that only chained them would not let the
  // event loop turn (timers, other sockets, pending writes) until the end.
  await using server = new MistServer();
  const line = `{"command":"publish","tags":["t"],"data":"${
    "x".repeat(80)
  }"}\n`;
  const chunk = line.repeat(Math.ceil(READ_BUFFER.largest / line.length));
  const reads = 40;
  const stream = new ScriptedStream(Array(reads).fill(chunk));
  let turns = 0;
  let done = false;
  const tick = () => {
    turns++;
    if (!done) setImmediate(tick);
  };
  setImmediate(tick);
  await serveConnection(stream, "script://", server, newStats());
  done = true;
  // The buffer grows from its smallest size for the first reads, then each
  // full read waits for the next turn.
  assert.ok(turns >= reads / 2, `${turns} turns in ${reads} full reads`);
});
