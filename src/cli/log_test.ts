import assert from "node:assert/strict";
import type { LogRecord } from "npm:@logtape/logtape@^2.4.2";
import { lineSink } from "./log.ts";

function record(fields: Partial<LogRecord> = {}): LogRecord {
  return {
    category: ["mist", "server"],
    level: "warning",
    message: ["", "TCP", " listener on ", "tcp://127.0.0.1:1", ""],
    rawMessage: "{scheme} listener on {url}",
    timestamp: Date.UTC(2026, 0, 2, 3, 4, 5, 6),
    properties: { scheme: "TCP", url: "tcp://127.0.0.1:1", n: 10n },
    ...fields,
  };
}

function written(format: "text" | "json", entry: LogRecord): string {
  const chunks: Uint8Array[] = [];
  lineSink({
    format,
    write: (bytes) => {
      chunks.push(bytes.slice());
      return bytes.length;
    },
  })(entry);
  return new TextDecoder().decode(
    new Uint8Array(chunks.flatMap((chunk) => [...chunk])),
  );
}

Deno.test("lineSink() writes text with mist's level names and a dot between categories", () => {
  assert.equal(
    written("text", record()),
    "2026-01-02T03:04:05.006Z [WARN ] mist.server: TCP listener on tcp://127.0.0.1:1\n",
  );
});

Deno.test("lineSink() writes one JSON object per line with the message as text renders it", () => {
  const line = written("json", record());
  assert.ok(line.endsWith("}\n") && !line.slice(0, -1).includes("\n"));
  assert.deepEqual(JSON.parse(line), {
    "@timestamp": "2026-01-02T03:04:05.006Z",
    level: "WARN",
    message: "TCP listener on tcp://127.0.0.1:1",
    logger: "mist.server",
    properties: { scheme: "TCP", url: "tcp://127.0.0.1:1", n: "10" },
  });
  const error = JSON.parse(written(
    "json",
    record({
      message: ["", new Error("boom"), ""],
      properties: { error: new Error("boom") },
    }),
  ));
  assert.equal(error.message, "boom");
  assert.deepEqual(error.properties.error, { name: "Error", message: "boom" });
});
