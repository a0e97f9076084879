/**
 * Reading a `postgres:` authenticator URI into connection settings, and
 * keeping its password out of every message.
 *
 * @module
 */

import { errorText, unbracket } from "../_util/text.ts";

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
  const host = unbracket(url.hostname) || "localhost";
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

/**
 * The text of an error, with the password cut out should it appear.
 *
 * @param err what was thrown
 * @param password the password to hide (one under 3 characters is left alone:
 *   it would match innocent text)
 * @returns the text, safe for a log or a message
 */
export function redactedErrorText(
  err: unknown,
  password: string | undefined,
): string {
  const text = errorText(err);
  return password !== undefined && password.length >= 3
    ? text.replaceAll(password, "***")
    : text;
}
