/**
 * Who a connection is, and what it may do (PROTOCOL.md §4). Pure.
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
 * - `token`: a registered token was presented; `tags` are its grants, kept
 *   current when an admin changes them.
 */
export type Principal =
  | { readonly kind: "open" }
  | { readonly kind: "anonymous" }
  | { readonly kind: "admin" }
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

/**
 * Checks that a principal may subscribe or publish to tags.
 *
 * @param principal who asks
 * @param tags the tags of the command
 * @throws {MistError} `forbidden: not granted [...]` naming the tags it lacks
 */
export function checkGranted(
  principal: Principal,
  tags: readonly string[],
): void {
  if (principal.kind === "open" || principal.kind === "admin") return;
  const missing = principal.kind === "token"
    ? tags.filter((tag) => !principal.tags.has(tag))
    : tags;
  if (missing.length > 0) {
    throw new MistError(
      "forbidden",
      `not granted ${JSON.stringify([...new Set(missing)])}`,
    );
  }
}

/**
 * Whether a principal holds every tag of a set: what a subscription needs to
 * survive a revocation.
 *
 * @param principal who holds the subscription
 * @param tags the subscription's tags
 * @returns whether they are all granted
 */
export function isGranted(
  principal: Principal,
  tags: readonly string[],
): boolean {
  if (principal.kind === "open" || principal.kind === "admin") return true;
  if (principal.kind === "anonymous") return false;
  return tags.every((tag) => principal.tags.has(tag));
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
