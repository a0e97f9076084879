/**
 * `postgres://USER:PASS@HOST:PORT?db=NAME`: tokens in a PostgreSQL table, the
 * store every node of a cluster can share.
 *
 * The table `mist_tokens` (created when absent) holds one row per token:
 * its SHA-256 digest, never the token, and its tags as a `text[]`. Each
 * method is one parameterised statement, so concurrent changes to one token
 * are serialised by PostgreSQL's row lock and none is lost.
 *
 * When PostgreSQL cannot be reached, every method fails within seconds with
 * `authenticator unavailable`, and the pool reconnects by itself once it is
 * back (`_postgres_pool.ts`). The URL's password is never logged nor put in
 * an error (`_postgres_url.ts`).
 *
 * This module loads postgres.js; `builtin.ts` imports it only when a
 * `postgres:` URI is opened.
 *
 * @module
 */

import { getLogger } from "npm:@logtape/logtape@^2.4.2";
import postgres from "npm:postgres@^3.4.9";
import { MistError } from "../protocol/errors.ts";
import { IDEMPOTENT, ONCE, PostgresPool } from "./_postgres_pool.ts";
import { parsePostgresUrl, redactedErrorText } from "./_postgres_url.ts";
import { normalizeTags } from "./_tags.ts";
import { type Authenticator, tokenDigest } from "./authenticator.ts";

const log = getLogger(["mist", "auth"]);

/** Tags as a JSON array: how they travel to and from PostgreSQL. */
function json(tags: readonly string[]): string {
  return JSON.stringify(tags);
}

/** The tags of the one row a statement returned, or `token not found`. */
function tagsOf(rows: readonly { tags?: unknown }[]): string[] {
  const row = rows[0];
  if (row === undefined) throw new MistError("token_not_found");
  return normalizeTags(row.tags as string[]);
}

/** PostgreSQL's `text` holds neither NUL nor an unpaired surrogate. */
function checkTags(tags: readonly string[]): void {
  for (const tag of tags) {
    if (tag.includes("\0") || !tag.isWellFormed()) {
      throw new MistError(
        "invalid_tags",
        "PostgreSQL cannot store a NUL character or an unpaired surrogate",
      );
    }
  }
}

/**
 * An authenticator backed by one PostgreSQL table, `mist_tokens`:
 *
 * ```sql
 * CREATE TABLE mist_tokens (
 *   digest     text PRIMARY KEY CHECK (digest ~ '^[0-9a-f]{64}$'),
 *   tags       text[] NOT NULL DEFAULT '{}',
 *   created_at timestamptz NOT NULL DEFAULT now(),
 *   updated_at timestamptz NOT NULL DEFAULT now()
 * )
 * ```
 *
 * Every statement goes through a {@linkcode PostgresPool}: bounded, with a
 * deadline, and a pool that replaces itself when it cannot be trusted.
 * Statements with the same effect when run twice (`getTags`, `addTags`,
 * `removeTags`, `healthy`) are retried once after a lost connection;
 * `addToken` and `removeToken` are not.
 *
 * @example
 * Not run by `deno test --doc`: it needs a PostgreSQL server
 * (tests/auth/postgres_test.ts starts one).
 *
 * ```ts ignore
 * import { PostgresAuthenticator } from "./postgres.ts";
 *
 * await using auth = await PostgresAuthenticator.open(
 *   new URL("postgres://mist:secret@127.0.0.1:5432?db=mist"),
 * );
 * await auth.addToken("s3cret", ["news"]);
 * ```
 */
export class PostgresAuthenticator implements Authenticator, AsyncDisposable {
  readonly #pool: PostgresPool;

  private constructor(pool: PostgresPool) {
    this.#pool = pool;
  }

  /**
   * Connects, and creates the table when it is absent.
   *
   * @param url a `postgres:` URI (see {@linkcode parsePostgresUrl})
   * @returns the authenticator
   * @throws {Error} for a bad URI, or when PostgreSQL cannot be reached or
   *   the table cannot be created; the message names the server without the
   *   password
   */
  static async open(url: URL): Promise<PostgresAuthenticator> {
    const config = parsePostgresUrl(url);
    const pool = new PostgresPool(config);
    try {
      await pool.setUp((sql) =>
        sql.begin(async (tx) => {
          // Nodes of a cluster start together; CREATE TABLE IF NOT EXISTS races.
          await tx`SELECT pg_advisory_xact_lock(${0x6d697374})`;
          await tx`
            CREATE TABLE IF NOT EXISTS mist_tokens (
              digest     text PRIMARY KEY CHECK (digest ~ '^[0-9a-f]{64}$'),
              tags       text[] NOT NULL DEFAULT '{}',
              created_at timestamptz NOT NULL DEFAULT now(),
              updated_at timestamptz NOT NULL DEFAULT now()
            )`;
        })
      );
    } catch (err) {
      await pool.abandon();
      // Class 42: connected, but not allowed to create the table (or similar).
      const what = err instanceof postgres.PostgresError &&
          err.code.startsWith("42")
        ? "Cannot create the table of the PostgreSQL authenticator at"
        : "Cannot connect to PostgreSQL at";
      // No `cause`: this message is all that leaves, and it has no password.
      throw new Error(
        `${what} ${config.display}: ${redactedErrorText(err, config.password)}`,
      );
    }
    log.info("PostgreSQL authenticator at {server}", {
      server: config.display,
    });
    return new PostgresAuthenticator(pool);
  }
  /**
   * Registers a token with its tags.
   *
   * @param token the token
   * @param tags the tags it grants (may be empty)
   * @throws {MistError} `token already exists`; `invalid tags` for a tag
   *   PostgreSQL cannot store; `authenticator unavailable`
   */
  async addToken(token: string, tags: readonly string[]): Promise<void> {
    checkTags(tags);
    const digest = tokenDigest(token);
    const granted = json(normalizeTags(tags));
    // Not retried: after a lost answer, a retry could find the row the first
    // attempt inserted and wrongly report "token already exists".
    const rows = await this.#pool.query(ONCE, (sql) =>
      sql`
        INSERT INTO mist_tokens (digest, tags)
        VALUES (
          ${digest},
          ARRAY(SELECT jsonb_array_elements_text(${granted}::text::jsonb))
        )
        ON CONFLICT (digest) DO NOTHING
        RETURNING 1`);
    if (rows.length === 0) throw new MistError("token_exists");
  }

  /**
   * Removes a token and all its tags.
   *
   * @param token the token
   * @throws {MistError} `token not found`; `authenticator unavailable`
   */
  async removeToken(token: string): Promise<void> {
    const digest = tokenDigest(token);
    const rows = await this.#pool.query(
      ONCE,
      (sql) =>
        sql`DELETE FROM mist_tokens WHERE digest = ${digest} RETURNING 1`,
    );
    if (rows.length === 0) throw new MistError("token_not_found");
  }

  /**
   * Grants more tags to a token.
   *
   * @param token the token
   * @param tags the tags to add
   * @returns every tag the token grants now, sorted
   * @throws {MistError} `token not found`; `invalid tags` for a tag
   *   PostgreSQL cannot store; `authenticator unavailable`
   */
  async addTags(token: string, tags: readonly string[]): Promise<string[]> {
    checkTags(tags);
    const digest = tokenDigest(token);
    const added = json(tags);
    // One statement: the row lock orders concurrent changes, and each one
    // computes from the row as the one before left it.
    const rows = await this.#pool.query(IDEMPOTENT, (sql) =>
      sql`
        UPDATE mist_tokens
        SET tags = ARRAY(
              SELECT unnest(tags)
              UNION
              SELECT jsonb_array_elements_text(${added}::text::jsonb)
            ),
            updated_at = now()
        WHERE digest = ${digest}
        RETURNING to_jsonb(tags) AS tags`);
    return tagsOf(rows);
  }

  /**
   * Takes tags away from a token.
   *
   * @param token the token
   * @param tags the tags to remove
   * @returns every tag the token still grants, sorted
   * @throws {MistError} `token not found`; `authenticator unavailable`
   */
  async removeTags(token: string, tags: readonly string[]): Promise<string[]> {
    const digest = tokenDigest(token);
    const removed = json(tags);
    const rows = await this.#pool.query(IDEMPOTENT, (sql) =>
      sql`
        UPDATE mist_tokens
        SET tags = ARRAY(
              SELECT unnest(tags)
              EXCEPT
              SELECT jsonb_array_elements_text(${removed}::text::jsonb)
            ),
            updated_at = now()
        WHERE digest = ${digest}
        RETURNING to_jsonb(tags) AS tags`);
    return tagsOf(rows);
  }

  /**
   * The tags a token grants.
   *
   * @param token the token
   * @returns its tags, sorted, or `undefined` when it is not registered
   * @throws {MistError} `authenticator unavailable`
   */
  async getTags(token: string): Promise<string[] | undefined> {
    const digest = tokenDigest(token);
    const rows = await this.#pool.query(
      IDEMPOTENT,
      (sql) =>
        sql`SELECT to_jsonb(tags) AS tags FROM mist_tokens WHERE digest = ${digest}`,
    );
    return rows.length === 0 ? undefined : tagsOf(rows);
  }

  /**
   * Whether PostgreSQL answers a trivial query now.
   *
   * @returns `true` when it does; `false` when it does not or once closed
   */
  async healthy(): Promise<boolean> {
    try {
      await this.#pool.query(IDEMPOTENT, (sql) => sql`SELECT 1`);
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Lets running statements finish (for up to 5 s), then closes every
   * connection. Idempotent.
   *
   * @returns when every connection is closed
   */
  close(): Promise<void> {
    return this.#pool.close();
  }

  /** Same as {@linkcode PostgresAuthenticator.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * Opens a `postgres:` authenticator.
 *
 * @param url `postgres://USER:PASS@HOST:PORT?db=NAME` (see {@linkcode parsePostgresUrl})
 * @returns the authenticator, connected and with its table in place
 * @throws {Error} when the URI is bad or PostgreSQL cannot be reached
 */
export function openPostgres(url: URL): Promise<PostgresAuthenticator> {
  return PostgresAuthenticator.open(url);
}
