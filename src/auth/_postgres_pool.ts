/**
 * The connection pool of the PostgreSQL authenticator: a postgres.js pool
 * behind a limiter, with a deadline on every statement, one retry of the
 * idempotent ones, and replacement of the whole pool when it cannot be
 * trusted any more. The statements themselves live in `postgres.ts`.
 *
 * @module
 */

import { getLogger } from "npm:@logtape/logtape@^2.4.2";
import postgres from "npm:postgres@^3.4.9";
import { abortable } from "../_util/deadline.ts";
import { MistError } from "../protocol/errors.ts";
import { Limiter } from "./_limiter.ts";
import { type PostgresConfig, redactedErrorText } from "./_postgres_url.ts";

const log = getLogger(["mist", "auth"]);

/** Milliseconds PostgreSQL may spend on one statement before cancelling it. */
export const STATEMENT_TIMEOUT_MS = 3_000;
/** Longest wait, in seconds, before trying to reconnect after a failure. */
const MAX_BACKOFF = 1;
/** Least time between two pool replacements after lost connections. */
const REPLACE_INTERVAL_MS = 1_000;

/** A statement that may run twice with the same effect as once. */
export const IDEMPOTENT = true;
/** A statement whose second run would answer differently. */
export const ONCE = false;

/** A postgres.js connection pool. */
export type Sql = postgres.Sql;

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

/**
 * Whether an error means the connection (or the server) went away, rather
 * than a statement failing on a live one.
 *
 * @param err what a statement failed with
 * @returns `true` for anything but a PostgreSQL error of a live connection
 */
export function connectionLost(err: unknown): boolean {
  if (!(err instanceof postgres.PostgresError)) return true;
  // 08: connection exception; 53: insufficient resources; 57P: shutdown.
  return /^(08|53|57P)/.test(err.code);
}

type Options = postgres.Options<Record<string, never>>;

/** One postgres.js pool, and the slots that keep work from queueing inside it. */
interface Generation {
  sql: Sql;
  limiter: Limiter;
  /** Aborted once the pool is torn down: what it still holds is lost. */
  retired: AbortController;
}

/**
 * Statements to PostgreSQL that never hang and never queue without bound:
 *
 * - At most `pool` statements are handed to postgres.js at a time; the rest
 *   wait here, and one whose caller gave up is never sent, so it cannot
 *   change anything after its caller was told it failed.
 * - Every statement has a deadline ({@linkcode deadlineMs}). One that misses
 *   it (a half-open connection, or one postgres.js lost, see
 *   porsager/postgres#1193) makes the whole postgres.js pool be replaced by a
 *   new one, so nothing stuck can wedge the authenticator.
 * - A lost connection fails the callers waiting for a slot at once.
 * - Idempotent statements are retried once after a lost connection, which
 *   hides the stale error a restarted server leaves on the first statement
 *   (porsager/postgres#1223).
 * - The server going away and coming back is logged once each way.
 */
export class PostgresPool {
  /** Longest a statement waits for PostgreSQL, in milliseconds. */
  readonly deadline: number;
  readonly #options: Options;
  readonly #config: PostgresConfig;
  #current: Generation;
  /** Pools replaced and being torn down. */
  readonly #retiring = new Set<Promise<void>>();
  /** When the pool was last replaced (`performance.now()`). */
  #replaced = -Infinity;
  #up = true;
  #closing: Promise<void> | undefined;

  /**
   * Builds the pool; postgres.js connects on the first statement.
   *
   * @param config the connection settings
   */
  constructor(config: PostgresConfig) {
    this.#config = config;
    this.deadline = deadlineMs(config);
    this.#options = {
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
    if (config.username !== undefined) this.#options.username = config.username;
    if (config.password !== undefined) this.#options.password = config.password;
    if (config.database !== undefined) this.#options.database = config.database;
    this.#current = this.#newGeneration();
  }

  /**
   * Runs set-up work (a transaction, say) on the pool within the deadline,
   * outside the limiter and without a retry: for opening, before anyone else
   * uses the pool.
   *
   * @param work what to run
   * @returns what it returns
   * @throws what it throws, or `no answer within N ms`
   */
  async setUp<T>(work: (sql: Sql) => Promise<T>): Promise<T> {
    const expired = AbortSignal.timeout(this.deadline);
    try {
      return await abortable(work(this.#current.sql), expired);
    } catch (err) {
      throw this.#explained(err, expired);
    }
  }

  /**
   * Closes every connection at once, without waiting for anything: for a
   * pool that failed to open.
   *
   * @returns when they are closed
   */
  async abandon(): Promise<void> {
    await this.#current.sql.end({ timeout: 0 });
  }

  /**
   * Runs one statement within the deadline, retrying an idempotent one once
   * after a lost connection; any failure becomes `authenticator unavailable`.
   *
   * @param idempotent {@linkcode IDEMPOTENT} or {@linkcode ONCE}
   * @param make builds the statement on the pool it is given
   * @returns the statement's rows
   * @throws {MistError} `authenticator unavailable`, with the cause
   */
  async query<T extends readonly object[]>(
    idempotent: boolean,
    make: (sql: Sql) => postgres.PendingQuery<T>,
  ): Promise<T> {
    if (this.#closing !== undefined) {
      throw new MistError("authenticator_unavailable", "closed");
    }
    const expired = AbortSignal.timeout(this.deadline);
    try {
      let result: T;
      try {
        result = await this.#attempt(make, expired);
      } catch (err) {
        const retry = idempotent && connectionLost(err) &&
          !expired.aborted && this.#closing === undefined;
        if (!retry) throw err;
        result = await this.#attempt(make, expired);
      }
      if (!this.#up) {
        this.#up = true;
        log.info("PostgreSQL at {server} is available again", {
          server: this.#config.display,
        });
      }
      return result;
    } catch (err) {
      const cause = this.#explained(err, expired);
      if (this.#up) {
        this.#up = false;
        log.warning("PostgreSQL at {server} is unavailable: {reason}", {
          server: this.#config.display,
          reason: redactedErrorText(cause, this.#config.password),
        });
      }
      throw new MistError("authenticator_unavailable", undefined, { cause });
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
      const current = this.#current;
      const closed = new Error("closed");
      current.limiter.rejectWaiting(closed);
      await current.sql.end({ timeout: 5 }).catch(() => {});
      // Whatever it still holds after that is lost: its callers are told now.
      current.retired.abort(closed);
      await Promise.all(this.#retiring);
    })();
    return this.#closing;
  }

  #newGeneration(): Generation {
    return {
      sql: postgres(this.#options),
      limiter: new Limiter(this.#config.max),
      retired: new AbortController(),
    };
  }

  /** The deadline's abort says how long was waited; other errors pass. */
  #explained(err: unknown, expired: AbortSignal): unknown {
    return expired.aborted && err === expired.reason
      ? new Error(`no answer within ${this.deadline} ms`)
      : err;
  }

  /** Runs one statement on the current pool once a slot is free. */
  async #attempt<T extends readonly object[]>(
    make: (sql: Sql) => postgres.PendingQuery<T>,
    signal: AbortSignal,
  ): Promise<T> {
    const current = this.#current;
    const release = await current.limiter.acquire(signal);
    // The slot stays taken until the statement settles, even if we stop waiting.
    const answer = new Promise<T>((resolve) => resolve(make(current.sql)))
      .finally(release);
    try {
      // Nested rather than AbortSignal.any(): in Deno 2.9 a timeout signal
      // combined by any() keeps the process alive until it fires, even once
      // the combined signal is done with.
      return await abortable(abortable(answer, current.retired.signal), signal);
    } catch (err) {
      release();
      if (signal.aborted) {
        // No answer in time: a hung server or connection, or a statement
        // postgres.js lost. Nothing of this pool is trusted any more.
        this.#replace(current, this.#explained(err, signal), 0);
      } else if (connectionLost(err)) {
        // Others on this pool may be lost with it (postgres.js loses
        // statements when the server goes away under them); those waiting
        // would fail one connection attempt at a time.
        current.limiter.rejectWaiting(err);
        this.#replace(current, err, STATEMENT_TIMEOUT_MS);
      }
      throw err;
    }
  }

  /**
   * Sends new work to a new postgres.js pool and tears the old one down: its
   * statements get `graceMs` to finish (PostgreSQL's statement timeout bounds
   * the healthy ones), then whatever it still holds is abandoned as lost.
   */
  #replace(old: Generation, err: unknown, graceMs: number): void {
    if (this.#current !== old || this.#closing !== undefined) return;
    // While the server is down every statement fails: replacing the pool
    // each time would only churn.
    const now = performance.now();
    if (graceMs > 0 && now - this.#replaced < REPLACE_INTERVAL_MS) return;
    this.#replaced = now;
    const text = redactedErrorText(err, this.#config.password);
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
    this.#current = this.#newGeneration();
    old.limiter.rejectWaiting(err);
    const retiring = old.sql.end({ timeout: graceMs / 1000 })
      .catch(() => {})
      .finally(() => old.retired.abort(err));
    this.#retiring.add(retiring);
    retiring.finally(() => this.#retiring.delete(retiring));
  }
}
