import assert from "node:assert/strict";
import { MistServer } from "../server/server.ts";
import { newStats } from "../server/transport.ts";
import { type LineStream, serveConnection } from "./line_stream.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A stream fed from a list of chunks, recording what is written. */
class ScriptedStream implements LineStream {
  readonly remote = "script:1";
  readonly written: string[] = [];
  closed = 0;
  readonly #chunks: Uint8Array[];

  constructor(chunks: string[]) {
    this.#chunks = chunks.map((chunk) => encoder.encode(chunk));
  }

  read(buffer: Uint8Array): Promise<number | null> {
    const chunk = this.#chunks.shift();
    if (chunk === undefined) return Promise.resolve(null); // the peer finished
    buffer.set(chunk);
    return Promise.resolve(chunk.length);
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
