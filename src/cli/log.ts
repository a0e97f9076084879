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

/**
 * A sink that writes each record as one line, synchronously, so that nothing
 * is lost when the process exits right after logging.
 *
 * @param write where the bytes go (standard error by default)
 * @returns the sink
 */
export function lineSink(
  write: (bytes: Uint8Array) => number = (b) => Deno.stderr.writeSync(b),
): Sink {
  const format = getTextFormatter({
    timestamp: "rfc3339",
    level: (level) => FROM_LOGTAPE[level].padEnd(5),
    value: "bare",
  });
  return (record: LogRecord) => {
    writeAllSync({ writeSync: write }, format(record));
  };
}

/**
 * Sends every `mist` record at or above a level to standard error, one line each.
 *
 * @param level the least severe level to write
 */
export async function setupLogging(level: LogLevelName): Promise<void> {
  await configure({
    reset: true,
    sinks: { stderr: lineSink() },
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
