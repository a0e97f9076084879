/**
 * Who a connection is, and what it may do (docs/protocol.md §4). Pure.
 *
 * @module
 */

import { MistError } from "../protocol/errors.ts";

/**
 * The identity a connection acts as.
 *
 * - `open`: authentication is off; every basic command is allowed.
 * - `anonymous`: authentication is on and no valid token was presented.
 * - `admin`: the admin token was presented.
 * - `metrics`: the metrics token was presented; it may read `GET /metrics`
 *   and nothing else (no command beyond what `anonymous` may use).
 * - `token`: a registered token was presented; `tags` are its grants, kept
 *   current when an admin changes them.
 */
export type Principal =
  | { readonly kind: "open" }
  | { readonly kind: "anonymous" }
  | { readonly kind: "admin" }
  | { readonly kind: "metrics" }
  | {
    readonly kind: "token";
    /** The token's SHA-256 digest, in hex: how revocations name it. */
    readonly digest: string;
    /** The tags the token grants. */
    readonly tags: ReadonlySet<string>;
  };

/** The principal of every connection while authentication is off. */
export const OPEN: Principal = Object.freeze({ kind: "open" });
/** A connection that presented no valid token. */
export const ANONYMOUS: Principal = Object.freeze({ kind: "anonymous" });
/** A connection that presented the admin token. */
export const ADMIN: Principal = Object.freeze({ kind: "admin" });
/** A request that presented the metrics token. */
export const METRICS: Principal = Object.freeze({ kind: "metrics" });

/**
 * The tags of a command that a principal is not granted.
 *
 * @param principal who asks
 * @param tags the tags of the command
 * @returns the tags it lacks, each once; empty when it may use them all
 */
function notGranted(
  principal: Principal,
  tags: readonly string[],
): readonly string[] {
  // Every publish asks: the answer for one that is granted allocates nothing.
  switch (principal.kind) {
    case "open":
    case "admin":
      return NONE;
    case "anonymous":
    case "metrics":
      return [...new Set(tags)];
    case "token":
      return grantsAll(principal.tags, tags)
        ? NONE
        : [...new Set(tags.filter((tag) => !principal.tags.has(tag)))];
  }
}

const NONE: readonly string[] = Object.freeze([]);

function grantsAll(
  grants: ReadonlySet<string>,
  tags: readonly string[],
): boolean {
  for (const tag of tags) if (!grants.has(tag)) return false;
  return true;
}

function forbidden(missing: readonly string[]): MistError {
  return new MistError("forbidden", `not granted ${JSON.stringify(missing)}`);
}

/**
 * Whether a principal may hold a subscription to these tags: what a
 * subscription needs to be made, and to survive a revocation.
 *
 * @param principal who holds the subscription
 * @param tags the subscription's tags
 * @returns whether every tag is granted
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ANONYMOUS, maySubscribe, OPEN } from "./principal.ts";
 * assert.equal(maySubscribe(OPEN, ["a"]), true);
 * assert.equal(maySubscribe(ANONYMOUS, ["a"]), false);
 * ```
 */
export function maySubscribe(
  principal: Principal,
  tags: readonly string[],
): boolean {
  return notGranted(principal, tags).length === 0;
}

/**
 * Checks that a principal may subscribe to tags (docs/protocol.md §4).
 *
 * @param principal who asks
 * @param tags the subscription's tags
 * @throws {MistError} `forbidden: not granted [...]` naming the tags it lacks
 */
export function checkSubscribe(
  principal: Principal,
  tags: readonly string[],
): void {
  const missing = notGranted(principal, tags);
  if (missing.length > 0) throw forbidden(missing);
}

/**
 * Checks that a principal may publish to tags (docs/protocol.md §4).
 *
 * @param principal who asks
 * @param tags the message's tags
 * @throws {MistError} `forbidden: not granted [...]` naming the tags it lacks
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkPublish } from "./principal.ts";
 * const reader = { kind: "token", digest: "d", tags: new Set(["a"]) } as const;
 * assert.throws(() => checkPublish(reader, ["a", "b"]), /not granted \["b"\]/);
 * ```
 */
export function checkPublish(
  principal: Principal,
  tags: readonly string[],
): void {
  const missing = notGranted(principal, tags);
  if (missing.length > 0) throw forbidden(missing);
}

/**
 * Checks that a principal may use admin commands.
 *
 * @param principal who asks
 * @throws {MistError} `forbidden: admin only`
 */
export function checkAdmin(principal: Principal): void {
  if (principal.kind !== "admin") {
    throw new MistError("forbidden", "admin only");
  }
}

/**
 * Checks that a principal may look at the whole server (the `listall` and
 * `who` commands): anyone while authentication is off, else only the admin.
 *
 * @param principal who asks
 * @throws {MistError} `forbidden: admin only`
 */
export function checkInspect(principal: Principal): void {
  if (principal.kind !== "open" && principal.kind !== "admin") {
    throw new MistError("forbidden", "admin only");
  }
}

/**
 * Checks that a principal may read the server's metrics (`GET /metrics`,
 * docs/protocol.md §8): anyone while authentication is off, else the admin or the
 * holder of the metrics token.
 *
 * @param principal who asks
 * @throws {MistError} `forbidden: admin or metrics token only`
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ANONYMOUS, checkMetrics, METRICS } from "./principal.ts";
 * checkMetrics(METRICS);
 * assert.throws(() => checkMetrics(ANONYMOUS), /forbidden/);
 * ```
 */
export function checkMetrics(principal: Principal): void {
  switch (principal.kind) {
    case "open":
    case "admin":
    case "metrics":
      return;
    default:
      throw new MistError("forbidden", "admin or metrics token only");
  }
}
