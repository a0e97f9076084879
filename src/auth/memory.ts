/**
 * `memory://`: tokens kept in the server's own memory, gone when it stops.
 * For a single server and for tests.
 *
 * @module
 */

import { MistError } from "../protocol/errors.ts";
import { normalizeTags } from "./_tags.ts";
import { type Authenticator, tokenDigest } from "./authenticator.ts";

/**
 * An authenticator that keeps every token in a map, keyed by the token's
 * SHA-256 digest (so not even a heap dump lists the tokens themselves).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemoryAuthenticator } from "./memory.ts";
 *
 * await using auth = new MemoryAuthenticator();
 * await auth.addToken("s3cret", ["b", "a"]);
 * assert.deepEqual(await auth.getTags("s3cret"), ["a", "b"]);
 * ```
 */
export class MemoryAuthenticator implements Authenticator, AsyncDisposable {
  readonly #tokens = new Map<string, Set<string>>();
  #closed = false;

  /**
   * Registers a token with its tags.
   *
   * @param token the token
   * @param tags the tags it grants (may be empty)
   * @throws {MistError} `token already exists`; `authenticator unavailable` once closed
   */
  addToken(token: string, tags: readonly string[]): Promise<void> {
    return this.#run(() => {
      const digest = tokenDigest(token);
      if (this.#tokens.has(digest)) throw new MistError("token_exists");
      this.#tokens.set(digest, new Set(tags));
    });
  }

  /**
   * Removes a token and all its tags.
   *
   * @param token the token
   * @throws {MistError} `token not found`; `authenticator unavailable` once closed
   */
  removeToken(token: string): Promise<void> {
    return this.#run(() => {
      if (!this.#tokens.delete(tokenDigest(token))) {
        throw new MistError("token_not_found");
      }
    });
  }

  /**
   * Grants more tags to a token.
   *
   * @param token the token
   * @param tags the tags to add
   * @returns every tag the token grants now, sorted
   * @throws {MistError} `token not found`; `authenticator unavailable` once closed
   */
  addTags(token: string, tags: readonly string[]): Promise<string[]> {
    return this.#run(() => {
      const granted = this.#granted(token);
      for (const tag of tags) granted.add(tag);
      return normalizeTags(granted);
    });
  }

  /**
   * Takes tags away from a token.
   *
   * @param token the token
   * @param tags the tags to remove
   * @returns every tag the token still grants, sorted
   * @throws {MistError} `token not found`; `authenticator unavailable` once closed
   */
  removeTags(token: string, tags: readonly string[]): Promise<string[]> {
    return this.#run(() => {
      const granted = this.#granted(token);
      for (const tag of tags) granted.delete(tag);
      return normalizeTags(granted);
    });
  }

  /**
   * The tags a token grants.
   *
   * @param token the token
   * @returns its tags, sorted, or `undefined` when it is not registered
   * @throws {MistError} `authenticator unavailable` once closed
   */
  getTags(token: string): Promise<string[] | undefined> {
    return this.#run(() => {
      const granted = this.#tokens.get(tokenDigest(token));
      return granted === undefined ? undefined : normalizeTags(granted);
    });
  }

  /**
   * Whether the store answers: always, until it is closed.
   *
   * @returns `true` until {@linkcode MemoryAuthenticator.close} is called
   */
  healthy(): Promise<boolean> {
    return Promise.resolve(!this.#closed);
  }

  /** Forgets every token; later calls fail with `authenticator unavailable`. Idempotent. */
  close(): Promise<void> {
    this.#closed = true;
    this.#tokens.clear();
    return Promise.resolve();
  }

  /** Same as {@linkcode MemoryAuthenticator.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #granted(token: string): Set<string> {
    const granted = this.#tokens.get(tokenDigest(token));
    if (granted === undefined) throw new MistError("token_not_found");
    return granted;
  }

  /** Runs a synchronous operation as a promise, refusing once closed. */
  #run<T>(fn: () => T): Promise<T> {
    try {
      if (this.#closed) {
        throw new MistError("authenticator_unavailable", "closed");
      }
      return Promise.resolve(fn());
    } catch (err) {
      return Promise.reject(err);
    }
  }
}

/**
 * Opens a `memory://` authenticator. The URI carries nothing else.
 *
 * @param _url `memory://`
 * @returns a new, empty store
 */
export function openMemory(_url: URL): Promise<MemoryAuthenticator> {
  return Promise.resolve(new MemoryAuthenticator());
}
