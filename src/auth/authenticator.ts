/**
 * The authenticator boundary: where tokens and their granted tags live, and the
 * registry of implementations by URI scheme (`memory:`, `scribble:`, `postgres:`).
 *
 * @module
 */

import { createHash, timingSafeEqual } from "node:crypto";
import { Registry } from "../_util/registry.ts";

/**
 * A store of tokens, each granting a set of tags (docs/protocol.md §4).
 *
 * Every method fails with a {@linkcode MistError}: `token already exists`,
 * `token not found`, or `authenticator unavailable` when the backing store
 * cannot be reached (the caller turns that into an error reply; the store
 * recovers by itself when its backend is back).
 *
 * Implementations never write a token anywhere (logs, errors, disk) except
 * where they must, and the persistent ones store only its SHA-256 digest.
 */
export interface Authenticator {
  /**
   * Registers a token with its tags.
   *
   * @param token the token
   * @param tags the tags it grants (may be empty)
   * @throws {MistError} `token already exists`
   */
  addToken(token: string, tags: readonly string[]): Promise<void>;
  /**
   * Removes a token and all its tags.
   *
   * @param token the token
   * @throws {MistError} `token not found`
   */
  removeToken(token: string): Promise<void>;
  /**
   * Grants more tags to a token.
   *
   * @param token the token
   * @param tags the tags to add
   * @returns every tag the token grants now, sorted
   * @throws {MistError} `token not found`
   */
  addTags(token: string, tags: readonly string[]): Promise<string[]>;
  /**
   * Takes tags away from a token.
   *
   * @param token the token
   * @param tags the tags to remove
   * @returns every tag the token still grants, sorted
   * @throws {MistError} `token not found`
   */
  removeTags(token: string, tags: readonly string[]): Promise<string[]>;
  /**
   * The tags a token grants.
   *
   * @param token the token
   * @returns its tags, sorted, or `undefined` when it is not registered
   */
  getTags(token: string): Promise<string[] | undefined>;
  /**
   * Whether the backing store answers now (for `/health`).
   *
   * @returns `true` when it does
   */
  healthy(): Promise<boolean>;
  /** Releases the store's resources. Idempotent. */
  close(): Promise<void>;
}

/**
 * Opens an authenticator for a URI of its scheme.
 *
 * @param url e.g. `scribble:///?db=/var/lib/mist`
 * @returns the authenticator, ready for use
 * @throws {Error} for a URI it cannot use, with a message that says why
 */
export type AuthenticatorFactory = (url: URL) => Promise<Authenticator>;

const authenticators = new Registry<AuthenticatorFactory>("authenticator");

/**
 * Registers an authenticator factory under a URI scheme, replacing any before it.
 *
 * @param scheme the scheme without `:`, e.g. `"memory"` (matched case-insensitively)
 * @param factory what opens an authenticator of that scheme
 */
export function registerAuthenticator(
  scheme: string,
  factory: AuthenticatorFactory,
): void {
  authenticators.register(scheme, factory);
}

/**
 * Opens the authenticator a URI names.
 *
 * @param uri e.g. `memory://`, `scribble://?db=/tmp/mist`, `postgres://user@host:5432?db=mist`
 * @returns the authenticator
 * @throws {Error} for an invalid URI; {@linkcode TypeError} for a scheme
 *   nobody registered; whatever its factory throws for a URI it refuses
 */
export async function openAuthenticator(uri: string): Promise<Authenticator> {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    // Not echoed: the URI may hold a password.
    throw new Error("Invalid authenticator URI: not a URL");
  }
  return await authenticators.require(url)(url);
}

/**
 * The SHA-256 digest of a token, in hex: what persistent stores keep, and how
 * a token is named between nodes of a cluster.
 *
 * @param token the token
 * @returns 64 hex digits
 */
export function tokenDigest(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

/**
 * Compares a presented token with a known one in constant time.
 *
 * @param presented what the client sent
 * @param known the real token
 * @returns whether they are equal
 */
export function tokensEqual(presented: string, known: string): boolean {
  // Digests have equal lengths, so the comparison never reveals the length.
  const a = createHash("sha256").update(presented, "utf8").digest();
  const b = createHash("sha256").update(known, "utf8").digest();
  return timingSafeEqual(a, b);
}
