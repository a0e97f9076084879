/**
 * Small shared helpers for text: error descriptions, argument checks, host
 * names in URLs.
 *
 * @module
 */

/**
 * A short description of anything thrown, for logs and messages.
 *
 * @param err what was thrown
 * @returns its message, or its text
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { errorText } from "./text.ts";
 * assert.equal(errorText(new Error("boom")), "boom");
 * assert.equal(errorText(42), "42");
 * ```
 */
export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Checks that a setting is a positive safe integer.
 *
 * @param name the setting's name, for the message
 * @param value its value
 * @returns the value
 * @throws {RangeError} when it is not a positive integer
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { positiveInteger } from "./text.ts";
 * assert.equal(positiveInteger("maxTags", 64), 64);
 * assert.throws(() => positiveInteger("maxTags", 0), RangeError);
 * ```
 */
export function positiveInteger(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new RangeError(`${name} must be a positive integer, got ${value}`);
  }
  return value;
}

/**
 * A URL's host name as a socket API takes it: an IPv6 address without its brackets.
 *
 * @param hostname `URL.hostname`, e.g. `[::1]`
 * @returns e.g. `::1`
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { unbracket } from "./text.ts";
 * assert.equal(unbracket("[::1]"), "::1");
 * assert.equal(unbracket("localhost"), "localhost");
 * ```
 */
export function unbracket(hostname: string): string {
  return hostname.startsWith("[") && hostname.endsWith("]")
    ? hostname.slice(1, -1)
    : hostname;
}

/**
 * A host as a URL writes it: an IPv6 address in brackets.
 *
 * @param hostname e.g. `::1`
 * @returns e.g. `[::1]`
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { bracket } from "./text.ts";
 * assert.equal(bracket("::1"), "[::1]");
 * assert.equal(bracket("127.0.0.1"), "127.0.0.1");
 * ```
 */
export function bracket(hostname: string): string {
  return hostname.includes(":") && !hostname.startsWith("[")
    ? `[${hostname}]`
    : hostname;
}
