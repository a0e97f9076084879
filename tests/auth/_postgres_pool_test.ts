/**
 * The PostgreSQL authenticator's pool on its own, against a real PostgreSQL:
 * what the authenticator's tests cannot see from outside (retries counted,
 * the limiter, errors passed or wrapped, what is logged).
 */

import assert from "node:assert/strict";
import postgres from "npm:postgres@^3.4.9";
import {
  connectionLost,
  deadlineMs,
  IDEMPOTENT,
  ONCE,
  PostgresPool,
  STATEMENT_TIMEOUT_MS,
} from "../../src/auth/_postgres_pool.ts";
import { parsePostgresUrl } from "../../src/auth/_postgres_url.ts";
import { MistError } from "../../src/protocol/errors.ts";
import { captureLogs, recordText } from "../_logs.ts";
import { postgresTest, startPostgres } from "../_postgres.ts";

function pgError(code: string): postgres.PostgresError {
  const error = new postgres.PostgresError(`error ${code}`);
  Object.assign(error, { code });
  return error;
}

Deno.test("`connectionLost()` tells a lost connection from a failed statement", async (t) => {
  const table: [string, unknown, boolean][] = [
    ["08006 connection failure", pgError("08006"), true],
    ["08P01 protocol violation", pgError("08P01"), true],
    ["53300 too many connections", pgError("53300"), true],
    ["57P01 admin shutdown", pgError("57P01"), true],
    ["57P03 cannot connect now", pgError("57P03"), true],
    ["42601 syntax error", pgError("42601"), false],
    ["23505 unique violation", pgError("23505"), false],
    ["57014 query canceled (statement timeout)", pgError("57014"), false],
    ["a socket error", new Deno.errors.ConnectionReset("reset"), true],
    ["a plain Error", new Error("CONNECTION_ENDED"), true],
    ["not an Error", "what", true],
  ];
  for (const [name, err, lost] of table) {
    await t.step(`${name}: ${lost}`, () => {
      assert.equal(connectionLost(err), lost);
    });
  }
});

Deno.test("`deadlineMs()` covers a backoff, the connect timeout, a second and two statements", async (t) => {
  for (const connectTimeout of [1, 3, 120]) {
    await t.step(`connect_timeout ${connectTimeout}`, () => {
      assert.equal(
        deadlineMs({ connectTimeout }),
        (connectTimeout + 2) * 1000 + 2 * STATEMENT_TIMEOUT_MS,
      );
    });
  }
  assert.equal(deadlineMs({ connectTimeout: 3 }), 11_000);
});

postgresTest("`PostgresPool` against a real PostgreSQL", async (t) => {
  await using pg = await startPostgres();
  const config = (query = "") =>
    parsePostgresUrl(new URL(`${pg.url}&connect_timeout=2${query}`));

  await t.step("`query()` returns the statement's rows", async () => {
    const pool = new PostgresPool(config());
    try {
      const rows = await pool.query(IDEMPOTENT, (sql) => sql`select 1 as one`);
      assert.deepEqual([...rows], [{ one: 1 }]);
    } finally {
      await pool.close();
    }
  });

  await t.step(
    "`query()` retries an idempotent statement once after a lost connection",
    async () => {
      const pool = new PostgresPool(config());
      try {
        let calls = 0;
        const rows = await captureLogs(() =>
          pool.query(
            IDEMPOTENT,
            (sql) =>
              ++calls === 1
                ? sql`select pg_terminate_backend(pg_backend_pid()) as x`
                : sql`select 2 as two`,
          )
        ).then(({ result }) => result);
        assert.equal(calls, 2);
        assert.deepEqual([...rows], [{ two: 2 }]);
      } finally {
        await pool.close();
      }
    },
  );

  await t.step("`query()` does not retry a statement marked ONCE", async () => {
    const pool = new PostgresPool(config());
    try {
      let calls = 0;
      await captureLogs(async () => {
        await assert.rejects(
          pool.query(ONCE, (sql) => {
            calls++;
            return sql`select pg_terminate_backend(pg_backend_pid()) as x`;
          }),
          (err: unknown) => {
            assert.ok(err instanceof MistError);
            assert.equal(err.code, "authenticator_unavailable");
            assert.ok(connectionLost(err.cause));
            return true;
          },
        );
      });
      assert.equal(calls, 1);
      // The pool works again afterwards.
      const rows = await pool.query(ONCE, (sql) => sql`select 3 as three`);
      assert.deepEqual([...rows], [{ three: 3 }]);
    } finally {
      await pool.close();
    }
  });

  await t.step(
    "`query()` does not retry a statement that failed on a live connection",
    async () => {
      const pool = new PostgresPool(config());
      try {
        let calls = 0;
        const { records } = await captureLogs(async () => {
          await assert.rejects(
            pool.query(IDEMPOTENT, (sql) => {
              calls++;
              return sql`select * from no_such_table`;
            }),
            (err: unknown) => {
              assert.ok(err instanceof MistError);
              assert.equal(err.code, "authenticator_unavailable");
              assert.ok(err.cause instanceof postgres.PostgresError);
              assert.equal(err.cause.code, "42P01");
              return true;
            },
          );
        });
        assert.equal(calls, 1);
        assert.ok(
          !records.some((r) => /opening new connections/.test(recordText(r))),
          "a failed statement does not replace the pool",
        );
      } finally {
        await pool.close();
      }
    },
  );

  await t.step(
    "`query()` hands postgres.js at most `pool` statements at a time",
    async () => {
      const pool = new PostgresPool(config("&pool=2"));
      try {
        let running = 0;
        let most = 0;
        await Promise.all(
          Array.from({ length: 8 }, () =>
            pool.query(IDEMPOTENT, (sql) => {
              most = Math.max(most, ++running);
              const query = sql`select pg_sleep(0.02) as slept`;
              // Registered before the pool's own wait: runs before the slot is freed.
              query.then(() => running--, () => running--);
              return query;
            })),
        );
        assert.equal(most, 2);
      } finally {
        await pool.close();
      }
    },
  );

  await t.step(
    "unavailability is logged once, recovery once, the password cut out",
    async () => {
      const pool = new PostgresPool(
        parsePostgresUrl(
          new URL(
            `postgres://postgres:hunter22@127.0.0.1:${pg.port}?db=postgres&connect_timeout=2`,
          ),
        ),
      );
      try {
        const { records } = await captureLogs(async () => {
          for (let i = 0; i < 2; i++) {
            await assert.rejects(
              pool.query(IDEMPOTENT, (sql) => sql`select hunter22_column`),
              { name: "MistError" },
            );
          }
          await pool.query(IDEMPOTENT, (sql) => sql`select 1 as one`);
          await pool.query(IDEMPOTENT, (sql) => sql`select 1 as one`);
        });
        const texts = records.map(recordText);
        const down = texts.filter((t) => /is unavailable/.test(t));
        const up = texts.filter((t) => /is available again/.test(t));
        assert.equal(down.length, 1, texts.join("\n"));
        assert.equal(up.length, 1, texts.join("\n"));
        assert.match(down[0]!, /\*\*\*_column/);
        assert.ok(!texts.some((t) => t.includes("hunter22")), texts.join("\n"));
      } finally {
        await pool.close();
      }
    },
  );

  await t.step(
    "`setUp()` runs work on the pool and passes its error unchanged",
    async () => {
      const pool = new PostgresPool(config());
      try {
        const rows = await pool.setUp((sql) => sql`select 4 as four`);
        assert.deepEqual([...rows], [{ four: 4 }]);
        const error = new Error("set-up failed");
        await assert.rejects(
          pool.setUp(() => Promise.reject(error)),
          (e) => e === error,
        );
      } finally {
        await pool.close();
      }
    },
  );

  await t.step(
    "`close()` is idempotent, and `query()` after it is unavailable",
    async () => {
      const pool = new PostgresPool(config());
      await pool.query(IDEMPOTENT, (sql) => sql`select 1`);
      const first = pool.close();
      assert.equal(pool.close(), first);
      await first;
      let calls = 0;
      await assert.rejects(
        pool.query(IDEMPOTENT, (sql) => {
          calls++;
          return sql`select 1`;
        }),
        { name: "MistError", message: "authenticator unavailable: closed" },
      );
      assert.equal(calls, 0);
    },
  );

  await t.step("`abandon()` closes a pool at once", async () => {
    const pool = new PostgresPool(config());
    await pool.query(IDEMPOTENT, (sql) => sql`select 1`);
    await pool.abandon();
    await pool.close();
  });
});
