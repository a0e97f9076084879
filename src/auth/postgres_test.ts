/**
 * The parts of the PostgreSQL authenticator that need no PostgreSQL. The
 * suite against a real server is tests/auth/postgres_test.ts.
 */

import assert from "node:assert/strict";
import { deadlineMs } from "./_postgres_pool.ts";
import {
  DEFAULT_CONNECT_TIMEOUT,
  DEFAULT_POOL,
  parsePostgresUrl,
  type PostgresConfig,
} from "./_postgres_url.ts";
import { openPostgres } from "./postgres.ts";

/** A TCP port nobody listens on right now. */
function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

Deno.test("`parsePostgresUrl()` reads the original's form and its variants", async (t) => {
  const defaults = {
    ssl: false,
    max: DEFAULT_POOL,
    connectTimeout: DEFAULT_CONNECT_TIMEOUT,
  } as const;
  const table: [string, PostgresConfig][] = [
    ["postgres://postgres@127.0.0.1:5432?db=postgres", {
      ...defaults,
      host: "127.0.0.1",
      port: 5432,
      username: "postgres",
      database: "postgres",
      display: "postgres://postgres@127.0.0.1:5432/postgres",
    }],
    ["postgres://mist:p%40ss@db.example:6543/tokens", {
      ...defaults,
      host: "db.example",
      port: 6543,
      username: "mist",
      password: "p@ss",
      database: "tokens",
      display: "postgres://mist@db.example:6543/tokens",
    }],
    [
      "postgresql://u@[::1]?db=a%20b&sslmode=verify-full&pool=2&connect_timeout=10",
      {
        host: "::1",
        port: 5432,
        username: "u",
        database: "a b",
        ssl: "verify-full",
        max: 2,
        connectTimeout: 10,
        display: "postgresql://u@[::1]:5432/a%20b",
      },
    ],
    ["postgres://h/same?db=same&sslmode=require", {
      ...defaults,
      host: "h",
      port: 5432,
      database: "same",
      ssl: "require",
      display: "postgres://h:5432/same",
    }],
    ["postgres://?sslmode=prefer", {
      ...defaults,
      host: "localhost",
      port: 5432,
      ssl: "prefer",
      display: "postgres://localhost:5432",
    }],
    ["postgres://h?sslmode=disable", {
      ...defaults,
      host: "h",
      port: 5432,
      display: "postgres://h:5432",
    }],
  ];
  for (const [uri, config] of table) {
    await t.step(uri, () => {
      assert.deepEqual(parsePostgresUrl(new URL(uri)), config);
    });
  }
});

Deno.test("`parsePostgresUrl()` refuses bad parameters without showing the password", async (t) => {
  const table: [string, RegExp][] = [
    ["postgres://u:hunter22@h?db=a&database=b", /Unknown parameter "database"/],
    ["postgres://u:hunter22@h/a?db=b", /two databases, "a" and "b"/],
    [
      "postgres://u:hunter22@h?sslmode=verify-ca",
      /Unsupported sslmode "verify-ca"/,
    ],
    ["postgres://u:hunter22@h?pool=0", /Invalid pool "0".*1 to 100/],
    ["postgres://u:hunter22@h?pool=101", /Invalid pool "101"/],
    ["postgres://u:hunter22@h?pool=2.5", /Invalid pool "2.5"/],
    [
      "postgres://u:hunter22@h?connect_timeout=x",
      /Invalid connect_timeout "x"/,
    ],
  ];
  for (const [uri, message] of table) {
    await t.step(uri.replace("hunter22", "***"), () => {
      assert.throws(() => parsePostgresUrl(new URL(uri)), (err: Error) => {
        assert.match(err.message, message);
        assert.ok(!err.message.includes("hunter22"), err.message);
        return true;
      });
    });
  }
});

Deno.test("`deadlineMs()` leaves postgres.js's own timeouts room to fire first", () => {
  assert.equal(deadlineMs({ connectTimeout: DEFAULT_CONNECT_TIMEOUT }), 11_000);
  assert.equal(deadlineMs({ connectTimeout: 10 }), 18_000);
});

Deno.test("`openPostgres()` says clearly when PostgreSQL cannot be reached, without the password", async () => {
  const port = closedPort();
  await assert.rejects(
    openPostgres(
      new URL(`postgres://mist:hunter22-secret@127.0.0.1:${port}?db=tokens`),
    ),
    (err: Error) => {
      assert.match(
        err.message,
        new RegExp(
          `^Cannot connect to PostgreSQL at postgres://mist@127\\.0\\.0\\.1:${port}/tokens: .*ECONNREFUSED`,
        ),
      );
      assert.ok(!err.message.includes("hunter22"), err.message);
      assert.ok(!String(err.stack).includes("hunter22"), err.stack);
      assert.equal(err.cause, undefined);
      return true;
    },
  );
});
