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
 * back. The URL's password is never logged nor put in an error.
 *
 * This module loads postgres.js; `builtin.ts` imports it only when a
 * `postgres:` URI is opened.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import postgres from "postgres";
import { MistError } from "../protocol/errors.ts";
import { Limiter } from "./_limiter.ts";
import { normalizeTags } from "./_tags.ts";
import { type Authenticator, tokenDigest } from "./authenticator.ts";

const log = getLogger(["mist", "auth"]);

/** The query parameters a `postgres:` URI may carry. */
const PARAMETERS = ["db", "sslmode", "pool", "connect_timeout"] as const;

/** `sslmode` values and postgres.js's `ssl` option for each. */
const SSL_MODES = {
  disable: false,
  prefer: "prefer",
  require: "require",
  "verify-full": "verify-full",
} as const;

/** Connections in the pool unless `pool` says otherwise. */
export const DEFAULT_POOL = 4;
/** Seconds to open a connection (TCP, TLS, authentication) unless `connect_timeout` says otherwise. */
export const DEFAULT_CONNECT_TIMEOUT = 3;
/** Milliseconds PostgreSQL may spend on one statement before cancelling it. */
export const STATEMENT_TIMEOUT_MS = 3_000;
/** Longest wait, in seconds, before trying to reconnect after a failure. */
const MAX_BACKOFF = 1;

/**
 * Longest a method waits for PostgreSQL, in milliseconds: long enough for
 * what postgres.js does on a working path (wait out one reconnect backoff,
 * connect, run the statement), one retry of the statement, and a second to
 * spare, so that postgres.js's own timeouts fire first and this one is the
 * backstop for a server that stopped answering mid-statement.
 *
 * @param config the connection settings
 * @returns milliseconds (11 000 with the defaults)
 */
export function deadlineMs(
  config: Pick<PostgresConfig, "connectTimeout">,
): number {
  return (MAX_BACKOFF + config.connectTimeout + 1) * 1000 +
    2 * STATEMENT_TIMEOUT_MS;
}

/** How to reach PostgreSQL, as a `postgres:` URI says. */
export interface PostgresConfig {
  /** Host name or address (brackets of IPv6 removed); default `localhost`. */
  host: string;
  /** TCP port; default 5432. */
  port: number;
  /** User name, when the URI gives one (otherwise postgres.js's default). */
  username?: string;
  /** Password, when the URI gives one. Never printed. */
  password?: string;
  /** Database, from `db` or the path, when the URI gives one. */
  database?: string;
  /** postgres.js's `ssl` option, from `sslmode` (default `disable`). */
  ssl: false | "prefer" | "require" | "verify-full";
  /** Largest number of connections, from `pool`. */
  max: number;
  /** Seconds to connect, from `connect_timeout`. */
  connectTimeout: number;
  /** The URI without its password, for messages and logs. */
  display: string;
}

/**
 * Reads a `postgres:` (or `postgresql:`) URI: the original's form
 * `postgres://USER:PASS@HOST:PORT?db=NAME`, the database also accepted as the
 * path (`postgres://USER@HOST:PORT/NAME`), plus `sslmode` (`disable`,
 * `prefer`, `require`, `verify-full`), `pool` (1–100 connections) and
 * `connect_timeout` (seconds, 1–120).
 *
 * @param url the URI
 * @returns the connection settings
 * @throws {Error} for an unknown parameter or a bad value; never with the password
 */
export function parsePostgresUrl(url: URL): PostgresConfig {
  const params = url.searchParams;
  for (const key of params.keys()) {
    if (!(PARAMETERS as readonly string[]).includes(key)) {
      throw new Error(
        `Unknown parameter "${key}" in the postgres authenticator URI; known: ${
          PARAMETERS.join(", ")
        }`,
      );
    }
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1") || "localhost";
  const port = url.port === "" ? 5432 : Number(url.port);
  const username = decodeURIComponent(url.username) || undefined;
  const password = decodeURIComponent(url.password) || undefined;

  const fromQuery = params.get("db") || undefined;
  const fromPath = decodeURIComponent(url.pathname.replace(/^\//, "")) ||
    undefined;
  if (
    fromQuery !== undefined && fromPath !== undefined && fromQuery !== fromPath
  ) {
    throw new Error(
      `Postgres authenticator URI names two databases, "${fromPath}" and "${fromQuery}"`,
    );
  }
  const database = fromQuery ?? fromPath;

  const sslmode = params.get("sslmode") ?? "disable";
  if (!Object.hasOwn(SSL_MODES, sslmode)) {
    throw new Error(
      `Unsupported sslmode "${sslmode}"; use one of ${
        Object.keys(SSL_MODES).join(", ")
      }`,
    );
  }
  const ssl = SSL_MODES[sslmode as keyof typeof SSL_MODES];
  const max = integerParam(params, "pool", DEFAULT_POOL, 1, 100);
  const connectTimeout = integerParam(
    params,
    "connect_timeout",
    DEFAULT_CONNECT_TIMEOUT,
    1,
    120,
  );

  const user = username === undefined ? "" : `${encodeURIComponent(username)}@`;
  const where = host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
  const display = `${url.protocol}//${user}${where}${
    database === undefined ? "" : `/${encodeURIComponent(database)}`
  }`;

  const config: PostgresConfig = {
    host,
    port,
    ssl,
    max,
    connectTimeout,
    display,
  };
  if (username !== undefined) config.username = username;
  if (password !== undefined) config.password = password;
  if (database !== undefined) config.database = database;
  return config;
}

function integerParam(
  params: URLSearchParams,
  name: string,
  fallback: number,
  min: number,
  max: number,
): number {
  const text = params.get(name);
  if (text === null) return fallback;
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < min || value > max) {
    throw new Error(
      `Invalid ${name} "${text}" in the postgres authenticator URI; expected a whole number from ${min} to ${max}`,
    );
  }
  return value;
}

/** The message of an error, with the password cut out should it appear. */
function reason(err: unknown, password: string | undefined): string {
  let text = err instanceof Error ? err.message : String(err);
  if (password !== undefined && password.length >= 3) {
    text = text.replaceAll(password, "***");
  }
  return text;
}

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

type Sql = postgres.Sql;
type Options = postgres.Options<Record<string, never>>;

/** One postgres.js pool, and the slots that keep work from queueing inside it. */
interface Pool {
  sql: Sql;
  limiter: Limiter;
  /** Aborted once the pool is torn down: what it still holds is lost. */
  retired: AbortController;
}

/** Least time between two pool replacements after lost connections. */
const REPLACE_INTERVAL_MS = 1_000;

/** A statement that may run twice with the same effect as once. */
const IDEMPOTENT = true;
/** A statement whose second run would answer differently. */
const ONCE = false;

/**
 * Whether an error means the connection (or the server) went away, rather
 * than a statement failing on a live one.
 */
function connectionLost(err: unknown): boolean {
  if (!(err instanceof postgres.PostgresError)) return true;
  // 08: connection exception; 53: insufficient resources; 57P: shutdown.
  return /^(08|53|57P)/.test(err.code);
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
 * Resilience, beyond postgres.js's own reconnection:
 *
 * - At most `pool` statements are handed to postgres.js at a time; the rest
 *   wait here, and one whose caller gave up is never sent, so it cannot
 *   change anything after its caller was told it failed.
 * - Every method has a deadline ({@linkcode deadlineMs}). A statement that
 *   misses it (a half-open connection, or one postgres.js lost, see
 *   porsager/postgres#1193) makes the whole pool be replaced by a new one,
 *   so nothing stuck can wedge the authenticator.
 * - A lost connection fails the callers waiting for a slot at once.
 * - Statements with the same effect when run twice (`getTags`, `addTags`,
 *   `removeTags`, `healthy`) are retried once after a lost connection, which
 *   hides the stale error a restarted server leaves on the first statement
 *   (porsager/postgres#1223). `addToken` and `removeToken` are not.
 *
 * @example
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
  readonly #options: Options;
  readonly #config: PostgresConfig;
  /** Longest a method waits for PostgreSQL, in milliseconds. */
  readonly #deadline: number;
  #pool: Pool;
  /** Pools replaced and being torn down. */
  readonly #retiring = new Set<Promise<void>>();
  /** When the pool was last replaced (`performance.now()`). */
  #replaced = -Infinity;
  #up = true;
  #closing: Promise<void> | undefined;

  private constructor(options: Options, config: PostgresConfig) {
    this.#options = options;
    this.#config = config;
    this.#deadline = deadlineMs(config);
    this.#pool = this.#newPool();
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
    const options: Options = {
      host: config.host,
      port: config.port,
      ssl: config.ssl,
      max: config.max,
      connect_timeout: config.connectTimeout,
      idle_timeout: 60,
      // postgres.js fetches the array types on each new connection in a
      // promise nobody handles: losing the connection during that fetch is an
      // unhandled rejection, which ends the process (porsager/postgres#1192).
      // Tags travel as JSON instead.
      fetch_types: false,
      // Reconnect quickly: a statement waits out the backoff before it can fail.
      backoff: (retries: number) => Math.min(0.05 * 2 ** retries, MAX_BACKOFF),
      onnotice: (notice) =>
        log.debug("PostgreSQL notice: {message}", { message: notice.message }),
      connection: {
        application_name: "mist",
        statement_timeout: STATEMENT_TIMEOUT_MS,
      },
    };
    if (config.username !== undefined) options.username = config.username;
    if (config.password !== undefined) options.password = config.password;
    if (config.database !== undefined) options.database = config.database;
    const auth = new PostgresAuthenticator(options, config);
    try {
      await withDeadline(
        auth.#pool.sql.begin(async (tx) => {
          // Nodes of a cluster start together; CREATE TABLE IF NOT EXISTS races.
          await tx`SELECT pg_advisory_xact_lock(${0x6d697374})`;
          await tx`
            CREATE TABLE IF NOT EXISTS mist_tokens (
              digest     text PRIMARY KEY CHECK (digest ~ '^[0-9a-f]{64}$'),
              tags       text[] NOT NULL DEFAULT '{}',
              created_at timestamptz NOT NULL DEFAULT now(),
              updated_at timestamptz NOT NULL DEFAULT now()
            )`;
        }),
        auth.#deadline,
      );
    } catch (err) {
      await auth.#pool.sql.end({ timeout: 0 });
      // Class 42: connected, but not allowed to create the table (or similar).
      const what = err instanceof postgres.PostgresError &&
          err.code.startsWith("42")
        ? "Cannot create the table of the PostgreSQL authenticator at"
        : "Cannot connect to PostgreSQL at";
      // No `cause`: this message is all that leaves, and it has no password.
      throw new Error(
        `${what} ${config.display}: ${reason(err, config.password)}`,
      );
    }
    log.info("PostgreSQL authenticator at {server}", {
      server: config.display,
    });
    return auth;
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
    const rows = await this.#query(ONCE, (sql) =>
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
    const rows = await this.#query(
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
    const rows = await this.#query(IDEMPOTENT, (sql) =>
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
    const rows = await this.#query(IDEMPOTENT, (sql) =>
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
    const rows = await this.#query(
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
      await this.#query(IDEMPOTENT, (sql) => sql`SELECT 1`);
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
    this.#closing ??= (async () => {
      const pool = this.#pool;
      const closed = new Error("closed");
      pool.limiter.rejectWaiting(closed);
      await pool.sql.end({ timeout: 5 }).catch(() => {});
      // Whatever it still holds after that is lost: its callers are told now.
      pool.retired.abort(closed);
      await Promise.all(this.#retiring);
    })();
    return this.#closing;
  }

  /** Same as {@linkcode PostgresAuthenticator.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #newPool(): Pool {
    return {
      sql: postgres(this.#options),
      limiter: new Limiter(this.#config.max),
      retired: new AbortController(),
    };
  }

  /**
   * Runs one statement within the deadline, retrying an idempotent one once
   * after a lost connection; any failure becomes `authenticator unavailable`.
   */
  async #query<T extends readonly object[]>(
    idempotent: boolean,
    make: (sql: Sql) => postgres.PendingQuery<T>,
  ): Promise<T> {
    if (this.#closing !== undefined) {
      throw new MistError("authenticator_unavailable", "closed");
    }
    const expired = new AbortController();
    const timer = setTimeout(
      () => expired.abort(new Error(`no answer within ${this.#deadline} ms`)),
      this.#deadline,
    );
    try {
      let result: T;
      try {
        result = await this.#attempt(make, expired.signal);
      } catch (err) {
        const retry = idempotent && connectionLost(err) &&
          !expired.signal.aborted && this.#closing === undefined;
        if (!retry) throw err;
        result = await this.#attempt(make, expired.signal);
      }
      if (!this.#up) {
        this.#up = true;
        log.info("PostgreSQL at {server} is available again", {
          server: this.#config.display,
        });
      }
      return result;
    } catch (err) {
      if (this.#up) {
        this.#up = false;
        log.warning("PostgreSQL at {server} is unavailable: {reason}", {
          server: this.#config.display,
          reason: reason(err, this.#config.password),
        });
      }
      throw new MistError("authenticator_unavailable", undefined, {
        cause: err,
      });
    } finally {
      clearTimeout(timer);
    }
  }

  /** Runs one statement on the current pool once a slot is free. */
  async #attempt<T extends readonly object[]>(
    make: (sql: Sql) => postgres.PendingQuery<T>,
    signal: AbortSignal,
  ): Promise<T> {
    const pool = this.#pool;
    const release = await pool.limiter.acquire(signal);
    // The slot stays taken until the statement settles, even if we stop waiting.
    const answer = new Promise<T>((resolve) => resolve(make(pool.sql)))
      .finally(release);
    try {
      return await untilAborted(
        answer,
        AbortSignal.any([signal, pool.retired.signal]),
      );
    } catch (err) {
      release();
      if (signal.aborted) {
        // No answer in time: a hung server or connection, or a statement
        // postgres.js lost. Nothing of this pool is trusted any more.
        this.#replace(pool, err, 0);
      } else if (connectionLost(err)) {
        // Others on this pool may be lost with it (postgres.js loses
        // statements when the server goes away under them); those waiting
        // would fail one connection attempt at a time.
        pool.limiter.rejectWaiting(err);
        this.#replace(pool, err, STATEMENT_TIMEOUT_MS);
      }
      throw err;
    }
  }

  /**
   * Sends new work to a new pool and tears the old one down: its statements
   * get `graceMs` to finish (PostgreSQL's statement timeout bounds the healthy
   * ones), then whatever it still holds is abandoned as lost.
   */
  #replace(pool: Pool, err: unknown, graceMs: number): void {
    if (this.#pool !== pool || this.#closing !== undefined) return;
    // While the server is down every statement fails: replacing the pool
    // each time would only churn.
    const now = performance.now();
    if (graceMs > 0 && now - this.#replaced < REPLACE_INTERVAL_MS) return;
    this.#replaced = now;
    const text = reason(err, this.#config.password);
    if (graceMs === 0) {
      log.warning(
        "PostgreSQL at {server} did not answer in time ({reason}); opening new connections",
        { server: this.#config.display, reason: text },
      );
    } else {
      log.debug(
        "PostgreSQL at {server} lost a connection ({reason}); opening new connections",
        { server: this.#config.display, reason: text },
      );
    }
    this.#pool = this.#newPool();
    pool.limiter.rejectWaiting(err);
    const retiring = pool.sql.end({ timeout: graceMs / 1000 })
      .catch(() => {})
      .finally(() => pool.retired.abort(err));
    this.#retiring.add(retiring);
    retiring.finally(() => this.#retiring.delete(retiring));
  }
}

/** Settles like `promise`, or rejects once `ms` milliseconds have passed. */
async function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  const expired = new AbortController();
  const timer = setTimeout(
    () => expired.abort(new Error(`no answer within ${ms} ms`)),
    ms,
  );
  try {
    return await untilAborted(promise, expired.signal);
  } finally {
    clearTimeout(timer);
  }
}

/** Settles like `promise`, or rejects with the signal's reason once it aborts. */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  // Whoever stops waiting must not leave a rejection unhandled behind.
  promise.catch(() => {});
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const abort = () => reject(signal.reason);
    signal.addEventListener("abort", abort, { once: true });
    promise.then(resolve, reject).finally(() =>
      signal.removeEventListener("abort", abort)
    );
  });
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
