/**
 * Writing whole buffers: every "write until done" loop of mist, once.
 *
 * @module
 */

/** Something that writes part of a buffer and says how much. */
export interface PartialWriter {
  /** Writes some of `bytes`; returns how many were written. */
  write(bytes: Uint8Array): Promise<number>;
}

/** Something that writes part of a buffer synchronously. */
export interface PartialSyncWriter {
  /** Writes some of `bytes`; returns how many were written. */
  writeSync(bytes: Uint8Array): number;
}

/**
 * Writes a whole buffer, however many writes that takes.
 *
 * @param writer a connection, file or stream
 * @param bytes what to write
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { writeAll } from "./io.ts";
 * const seen: number[] = [];
 * await writeAll({ write: (b) => { seen.push(b[0]!); return Promise.resolve(1); } }, new Uint8Array([1, 2]));
 * assert.deepEqual(seen, [1, 2]);
 * ```
 */
export async function writeAll(
  writer: PartialWriter,
  bytes: Uint8Array,
): Promise<void> {
  // Most writes are taken whole: no view of the rest is made for them.
  let offset = bytes.length === 0 ? 0 : await writer.write(bytes);
  while (offset < bytes.length) {
    offset += await writer.write(bytes.subarray(offset));
  }
}

const encoder = new TextEncoder();

/**
 * Writes a whole buffer or text synchronously (standard output, standard error).
 *
 * @param writer e.g. `Deno.stderr`
 * @param data bytes, or text to write as UTF-8
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { writeAllSync } from "./io.ts";
 * let n = 0;
 * writeAllSync({ writeSync: (b) => { n += b.length; return b.length; } }, "hé");
 * assert.equal(n, 3);
 * ```
 */
export function writeAllSync(
  writer: PartialSyncWriter,
  data: Uint8Array | string,
): void {
  const bytes = typeof data === "string" ? encoder.encode(data) : data;
  let offset = 0;
  while (offset < bytes.length) {
    offset += writer.writeSync(bytes.subarray(offset));
  }
}
