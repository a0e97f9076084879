/**
 * Captures LogTape records in a test.
 *
 * @module
 */

import { configure, type LogRecord, reset } from "npm:@logtape/logtape@^2.4.2";

/** Every `mist` record logged while a function runs, and what it returned. */
export async function captureLogs<T>(
  fn: () => Promise<T>,
): Promise<{ records: LogRecord[]; result: T }> {
  const records: LogRecord[] = [];
  await configure({
    reset: true,
    sinks: { test: (record) => records.push(record) },
    loggers: [
      { category: ["mist"], lowestLevel: "trace", sinks: ["test"] },
      { category: ["logtape", "meta"], lowestLevel: "error", sinks: [] },
    ],
  });
  try {
    return { records, result: await fn() };
  } finally {
    await reset();
  }
}

/** A record as one line of text: its message and properties, for searching. */
export function recordText(record: LogRecord): string {
  return `${record.message.map(String).join("")} ${
    JSON.stringify(record.properties)
  }`;
}
