/**
 * Access control of a server: turns presented tokens into principals, runs the
 * admin commands against the authenticator, and keeps every live connection's
 * grants current when an admin changes them (docs/protocol.md §4).
 *
 * @module
 */

import { getLogger } from "npm:@logtape/logtape@^2.4.2";
import { limitedLog } from "../_util/rate_limit.ts";
import { MistError } from "../protocol/errors.ts";
import {
  type Authenticator,
  tokenDigest,
  tokensEqual,
} from "../auth/authenticator.ts";
import {
  ADMIN,
  ANONYMOUS,
  METRICS,
  OPEN,
  type Principal,
} from "../core/principal.ts";

const log = getLogger(["mist", "auth"]);

/** How many grant changes are remembered for connections still joining. */
const RECENT_CHANGES = 10_000;

function tokenPrincipal(
  digest: string,
  tags: Iterable<string>,
): Principal & { kind: "token" } {
  return { kind: "token", digest, tags: new Set(tags) };
}

/** A live connection whose grants follow its token's. */
export interface GrantHolder {
  /** Replaces the connection's principal, dropping what it no longer may hold. */
  regrant(principal: Principal): void;
}

/**
 * Called when a token's grants change on this node, so that other nodes can
 * apply the change too.
 *
 * @param digest the token's SHA-256 digest
 * @param tags every tag it grants now, or `null` when it was unregistered
 */
export type GrantsListener = (digest: string, tags: string[] | null) => void;

/**
 * The access control of one server.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { openMemory } from "../auth/memory.ts";
 * import { Access } from "./access.ts";
 * const access = new Access(await openMemory(new URL("memory://")), {
 *   admin: "admin-secret",
 * });
 * assert.deepEqual(await access.principal("admin-secret"), { kind: "admin" });
 * assert.deepEqual(await access.principal(undefined), { kind: "anonymous" });
 * await access.authenticator?.close();
 * ```
 */
export class Access {
  readonly #authenticator: Authenticator | undefined;
  readonly #adminToken: string | undefined;
  readonly #metricsToken: string | undefined;
  #refused = 0;
  readonly #holders = new Map<string, Set<GrantHolder>>();
  #listener: GrantsListener | undefined;
  /** Counts grant changes: a principal remembers the count it was read at. */
  #generation = 0;
  readonly #readAt = new WeakMap<Principal, number>();
  /** The token each principal was read from, and of each token followed. */
  readonly #presented = new WeakMap<Principal, string>();
  readonly #tokens = new Map<string, string>();
  /**
   * The latest changes by token digest, oldest first: a connection that read
   * its grants before a change but started following its token after it
   * (a handshake, a slow authenticator) catches up from here.
   */
  readonly #recent = new Map<
    string,
    { generation: number; tags: readonly string[] | null }
  >();

  /**
   * @param authenticator where tokens live; without one, authentication is off
   * @param tokens the admin token, required with an authenticator, and the
   *   metrics token, which may read the metrics and nothing else
   * @throws {TypeError} for an authenticator without an admin token, or an
   *   empty metrics token
   */
  constructor(
    authenticator?: Authenticator,
    tokens: { admin?: string | undefined; metrics?: string | undefined } = {},
  ) {
    if (authenticator !== undefined && !tokens.admin) {
      throw new TypeError("An authenticator needs an admin token");
    }
    if (tokens.metrics === "") {
      throw new TypeError("The metrics token must not be empty");
    }
    this.#authenticator = authenticator;
    this.#adminToken = authenticator === undefined ? undefined : tokens.admin;
    this.#metricsToken = authenticator === undefined
      ? undefined
      : tokens.metrics;
  }

  /** How many presented tokens were refused as invalid since start. */
  get refused(): number {
    return this.#refused;
  }

  /** Whether authentication is on. */
  get enabled(): boolean {
    return this.#authenticator !== undefined;
  }

  /** The principal of a connection that presented no token: `open` while authentication is off. */
  get unidentified(): Principal {
    return this.#authenticator === undefined ? OPEN : ANONYMOUS;
  }

  /** The authenticator, when authentication is on. */
  get authenticator(): Authenticator | undefined {
    return this.#authenticator;
  }

  /**
   * Who a connection is that presented this token.
   *
   * @param token the presented token, or `undefined` when none was
   * @param connection the id of the connection presenting it, for the log
   *   line of a refusal (one per connection per interval); none for an HTTP
   *   request or an upgrade
   * @returns its principal: `open` while authentication is off, `metrics`
   *   for the metrics token
   * @throws {MistError} `invalid token` for a token that is neither the admin
   *   token, the metrics token nor registered; `authenticator unavailable`
   */
  async principal(
    token: string | undefined,
    connection?: number,
  ): Promise<Principal> {
    if (this.#authenticator === undefined || token === undefined) {
      return this.unidentified;
    }
    // A lone surrogate would hash like U+FFFD: such a token names no one.
    if (!token.isWellFormed()) throw this.#refuse(connection);
    if (tokensEqual(token, this.#adminToken!)) return ADMIN;
    if (
      this.#metricsToken !== undefined &&
      tokensEqual(token, this.#metricsToken)
    ) {
      return METRICS;
    }
    const readAt = this.#generation;
    const tags = await this.#authenticator.getTags(token);
    if (tags === undefined) throw this.#refuse(connection);
    const principal = tokenPrincipal(tokenDigest(token), tags);
    this.#readAt.set(principal, readAt);
    this.#presented.set(principal, token);
    return principal;
  }

  #refuse(connection: number | undefined): MistError {
    this.#refused++;
    // Never the token: only that one was refused, on whichever transport.
    limitedLog(
      log,
      "info",
      "refused-token",
      "Refused an invalid token ({refused} since start)",
      { refused: this.#refused },
      connection,
    );
    return new MistError("invalid_token");
  }

  /**
   * Follows a connection's token: its grants change with the token's. A
   * change made since its principal was read is applied at once.
   *
   * @param principal the connection's token principal, from {@linkcode Access.principal}
   * @param holder the connection
   */
  track(
    principal: Principal & { kind: "token" },
    holder: GrantHolder,
  ): void {
    const digest = principal.digest;
    let holders = this.#holders.get(digest);
    if (holders === undefined) {
      holders = new Set();
      this.#holders.set(digest, holders);
    }
    holders.add(holder);
    const token = this.#presented.get(principal);
    if (token !== undefined) this.#tokens.set(digest, token);
    const readAt = this.#readAt.get(principal);
    const change = this.#recent.get(digest);
    if (readAt !== undefined && change && change.generation > readAt) {
      holder.regrant(tokenPrincipal(digest, change.tags ?? []));
    }
  }

  /**
   * Stops following a connection.
   *
   * @param digest the token's digest
   * @param holder the connection
   */
  untrack(digest: string, holder: GrantHolder): void {
    const holders = this.#holders.get(digest);
    if (holders?.delete(holder) && holders.size === 0) {
      this.#holders.delete(digest);
      this.#tokens.delete(digest);
    }
  }

  /**
   * Sets who hears of grant changes made here (the cluster).
   *
   * @param listener called after each change
   */
  onGrantsChanged(listener: GrantsListener): void {
    this.#listener = listener;
  }

  /**
   * Applies a token's new grants to every live connection using it on this node.
   *
   * @param digest the token's digest
   * @param tags its tags now, or `null` when it was unregistered
   */
  applyGrants(digest: string, tags: readonly string[] | null): void {
    this.#recent.delete(digest);
    this.#recent.set(digest, { generation: ++this.#generation, tags });
    if (this.#recent.size > RECENT_CHANGES) {
      this.#recent.delete(this.#recent.keys().next().value!);
    }
    const holders = this.#holders.get(digest);
    if (holders === undefined) return;
    const principal = tokenPrincipal(digest, tags ?? []);
    for (const holder of [...holders]) holder.regrant(principal);
    log.debug("Grants of a token changed for {count} connection(s)", {
      count: holders.size,
    });
  }

  /**
   * Reads again, from the authenticator, the grants of every token a live
   * connection uses, and applies them here: after this node missed the
   * cluster's grant changes (its link was down). A change that arrives while
   * a token is read wins over what was read.
   *
   * @returns how many tokens could not be read (the authenticator failed)
   */
  async reread(): Promise<number> {
    let failed = 0;
    for (const [digest, token] of [...this.#tokens]) {
      const readAt = this.#generation;
      let tags: string[] | undefined;
      try {
        tags = await this.#authenticator!.getTags(token);
      } catch {
        failed++;
        continue;
      }
      const change = this.#recent.get(digest);
      if (change !== undefined && change.generation > readAt) continue;
      this.applyGrants(digest, tags ?? null);
    }
    return failed;
  }

  #changed(token: string, tags: string[] | null): void {
    const digest = tokenDigest(token);
    this.applyGrants(digest, tags);
    this.#listener?.(digest, tags);
  }

  #store(): Authenticator {
    // Admin commands are only dispatched for admin principals, which exist
    // only while authentication is on.
    return this.#authenticator!;
  }

  /**
   * Registers a token (`register`).
   *
   * @param token the token
   * @param tags its grants
   * @throws {MistError} `invalid data` for a token with a lone surrogate (it
   *   would hash like another); `token already exists`, `authenticator unavailable`
   */
  async register(token: string, tags: readonly string[]): Promise<void> {
    if (!token.isWellFormed()) {
      throw new MistError("invalid_data", "a token must be well-formed text");
    }
    await this.#store().addToken(token, tags);
    this.#changed(token, [...new Set(tags)].sort());
  }

  /**
   * Removes a token (`unregister`); its live connections lose every grant.
   *
   * @param token the token
   * @throws {MistError} `token not found`, `authenticator unavailable`
   */
  async unregister(token: string): Promise<void> {
    await this.#store().removeToken(token);
    this.#changed(token, null);
  }

  /**
   * Grants more tags (`set`).
   *
   * @param token the token
   * @param tags the tags to add
   * @throws {MistError} `token not found`, `authenticator unavailable`
   */
  async grant(token: string, tags: readonly string[]): Promise<void> {
    this.#changed(token, await this.#store().addTags(token, tags));
  }

  /**
   * Revokes tags (`unset`); live connections lose the subscriptions that are
   * no longer granted.
   *
   * @param token the token
   * @param tags the tags to remove
   * @throws {MistError} `token not found`, `authenticator unavailable`
   */
  async revoke(token: string, tags: readonly string[]): Promise<void> {
    this.#changed(token, await this.#store().removeTags(token, tags));
  }

  /**
   * The tags of a token (`tags`).
   *
   * @param token the token
   * @returns its tags, sorted
   * @throws {MistError} `token not found`, `authenticator unavailable`
   */
  async tags(token: string): Promise<string[]> {
    const tags = await this.#store().getTags(token);
    if (tags === undefined) throw new MistError("token_not_found");
    return tags;
  }
}
