/**
 * Standard output and error of the client subcommands.
 *
 * @module
 */

import { type PartialSyncWriter, writeAllSync } from "../_util/io.ts";

/** Writes all of a text to a stream; `false` once the reader has gone. */
export function write(stream: PartialSyncWriter, text: string): boolean {
  try {
    writeAllSync(stream, text);
  } catch (err) {
    if (err instanceof Deno.errors.BrokenPipe) return false;
    throw err;
  }
  return true;
}

/** Prints a message: whole as JSON, or as the text. */
export function printMessage(
  json: boolean,
  message: object,
  text: string,
): boolean {
  return write(Deno.stdout, `${json ? JSON.stringify(message) : text}\n`);
}
