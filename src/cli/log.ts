/**
 * Logging set-up for the program. The library only asks LogTape for loggers
 * under the `mist` category; the program decides where records go.
 *
 * @module
 */

import {
  configure,
  getTextFormatter,
  type LogLevel,
  type LogRecord,
  reset,
  type Sink,
} from "npm:@logtape/logtape@^2.4.2";
import { writeAllSync } from "../_util/io.ts";

/** The log levels of the original mist, least to most severe. */
export const LOG_LEVELS = [
  "TRACE",
  "DEBUG",
  "INFO",
  "WARN",
  "ERROR",
  "FATAL",
] as const;

/** A log level name as the command line and config file spell it. */
export type LogLevelName = typeof LOG_LEVELS[number];

const TO_LOGTAPE: Record<LogLevelName, LogLevel> = {
  TRACE: "trace",
  DEBUG: "debug",
  INFO: "info",
  WARN: "warning",
  ERROR: "error",
  FATAL: "fatal",
};

const FROM_LOGTAPE: Record<LogLevel, LogLevelName> = {
  trace: "TRACE",
  debug: "DEBUG",
  info: "INFO",
  warning: "WARN",
  error: "ERROR",
  fatal: "FATAL",
};

/** How each log line is written: `text` for people, `json` for log collectors. */
export const LOG_FORMATS = ["text", "json"] as const;

/** A log format as the command line and config file spell it. */
export type LogFormat = typeof LOG_FORMATS[number];

/** Between the parts of a category, as in `mist.server`: plain ASCII. */
const CATEGORY_SEPARATOR = ".";

/** How {@linkcode lineSink} writes. */
export interface LineSinkOptions {
  /** `text` (the default): `2026-01-01T00:00:00.000Z [INFO ] mist.server: ...`; `json`: one JSON object per line. */
  format?: LogFormat;
  /** Where the bytes go (standard error by default). */
  write?: (bytes: Uint8Array) => number;
}

/**
 * A sink that writes each record as one line, synchronously, so that nothing
 * is lost when the process exits right after logging.
 *
 * @param options the format and where the bytes go
 * @returns the sink
 */
export function lineSink(options: LineSinkOptions = {}): Sink {
  const { format = "text", write = (b) => Deno.stderr.writeSync(b) } = options;
  const formatter = format === "json" ? jsonLine : getTextFormatter({
    timestamp: "rfc3339",
    level: (level) => FROM_LOGTAPE[level].padEnd(5),
    category: CATEGORY_SEPARATOR,
    value: "bare",
  });
  return (record: LogRecord) => {
    writeAllSync({ writeSync: write }, formatter(record));
  };
}

/**
 * One record as a JSON line, in the shape of LogTape's `jsonLinesFormatter`
 * (`@timestamp`, `level`, `message`, `logger`, `properties`) but with the
 * message rendered as the text format renders it: LogTape's own quotes every
 * string value (`"TCP" listener on "tcp://..."`), and with mist's level names.
 */
function jsonLine(record: LogRecord): string {
  const message = record.message
    .map((part, i) => i % 2 === 0 ? String(part) : bare(part))
    .join("");
  return JSON.stringify({
    "@timestamp": new Date(record.timestamp).toISOString(),
    level: FROM_LOGTAPE[record.level],
    message,
    logger: record.category.join(CATEGORY_SEPARATOR),
    properties: record.properties,
  }, jsonValue) + "\n";
}

function bare(value: unknown): string {
  if (typeof value === "string") return value;
  if (value instanceof Error) return value.message;
  return JSON.stringify(value, jsonValue) ?? String(value);
}

function jsonValue(_key: string, value: unknown): unknown {
  if (typeof value === "bigint") return value.toString();
  if (value instanceof Error) {
    return { name: value.name, message: value.message };
  }
  return value;
}

/**
 * Sends every `mist` record at or above a level to standard error, one line each.
 *
 * @param level the least severe level to write
 * @param format how each line is written (default `text`)
 */
export async function setupLogging(
  level: LogLevelName,
  format: LogFormat = "text",
): Promise<void> {
  await configure({
    reset: true,
    sinks: { stderr: lineSink({ format }) },
    loggers: [
      { category: ["mist"], lowestLevel: TO_LOGTAPE[level], sinks: ["stderr"] },
      {
        category: ["logtape", "meta"],
        lowestLevel: "error",
        sinks: ["stderr"],
      },
    ],
  });
}

/** Undoes {@linkcode setupLogging}. */
export async function teardownLogging(): Promise<void> {
  await reset();
}
