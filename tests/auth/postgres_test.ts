/**
 * The PostgreSQL authenticator against a real PostgreSQL started in a temp
 * dir: the shared suite, outages, two nodes on one database, and what ends up
 * in the tables.
 */

import assert from "node:assert/strict";
import postgres from "npm:postgres@^3.4.9";
import { abortable, sleep } from "../../src/_util/deadline.ts";
import { MistError } from "../../src/protocol/errors.ts";
import { tokenDigest } from "../../src/auth/authenticator.ts";
import {
  authenticatorSuite,
  ODD_TOKENS,
  rejectsWith,
} from "../../src/testing/authenticator_suite.ts";
import { openPostgres } from "../../src/auth/postgres.ts";
import { captureLogs, recordText } from "../_logs.ts";
import {
  type PostgresServer,
  postgresTest,
  startPostgres,
} from "../_postgres.ts";
import { TcpProxy } from "../_tcp_proxy.ts";

/** A superuser connection to the test server, for set-up and inspection. */
function adminSql(pg: PostgresServer, database = "postgres"): postgres.Sql {
  return postgres({
    host: "127.0.0.1",
    port: pg.port,
    username: "postgres",
    database,
    max: 1,
    onnotice: () => {},
  });
}

let databases = 0;

/** Creates an empty database and returns the authenticator URI for it. */
async function freshDatabase(
  pg: PostgresServer,
  admin: postgres.Sql,
): Promise<string> {
  const name = `mist_test_${++databases}`;
  await admin.unsafe(`CREATE DATABASE ${name}`);
  return `postgres://postgres@127.0.0.1:${pg.port}?db=${name}`;
}

/**
 * Fails the test when a promise has not settled after `ms`: a guard against
 * hangs, not a speed assertion.
 */
async function notHanging<T>(promise: Promise<T>, ms: number): Promise<T> {
  const hang = AbortSignal.timeout(ms);
  try {
    return await abortable(promise, hang);
  } catch (err) {
    throw err === hang.reason
      ? new Error(`did not settle within ${ms} ms`)
      : err;
  }
}

/** Retries `fn` while it fails with `authenticator unavailable` (bounded). */
async function untilAvailable<T>(fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1;; attempt++) {
    try {
      return await fn();
    } catch (err) {
      const retry = err instanceof MistError &&
        err.code === "authenticator_unavailable" && attempt < 120;
      if (!retry) throw err;
      await sleep(250);
    }
  }
}

postgresTest("`postgres://` passes the authenticator suite", async (t) => {
  await using pg = await startPostgres();
  const admin = adminSql(pg);
  try {
    await authenticatorSuite(t, {
      open: async () => openPostgres(new URL(await freshDatabase(pg, admin))),
      anyStringTags: false,
    });
  } finally {
    await admin.end();
  }
});

postgresTest(
  "PostgreSQL stopping makes every method `authenticator unavailable` promptly; the same instance recovers when it is back",
  async () => {
    await using pg = await startPostgres();
    const token = "outage-token-5f0c9a";
    // Trust authentication ignores the password; it must still never show.
    const url =
      `postgres://postgres:hunter22-secret@127.0.0.1:${pg.port}?db=postgres`;
    const { records } = await captureLogs(async () => {
      await using auth = await openPostgres(new URL(url));
      await auth.addToken(token, ["a"]);

      await pg.stop();
      const guard = 20_000;
      await notHanging(
        rejectsWith(auth.getTags(token), "authenticator_unavailable"),
        guard,
      );
      await notHanging(
        rejectsWith(auth.addToken("other", []), "authenticator_unavailable"),
        guard,
      );
      await notHanging(
        rejectsWith(auth.addTags(token, ["b"]), "authenticator_unavailable"),
        guard,
      );
      await notHanging(
        rejectsWith(auth.removeTags(token, ["a"]), "authenticator_unavailable"),
        guard,
      );
      await notHanging(
        rejectsWith(auth.removeToken(token), "authenticator_unavailable"),
        guard,
      );
      // Many at once, more than the pool: each fails, none waits forever.
      const many = await notHanging(
        Promise.allSettled(
          Array.from({ length: 30 }, () => auth.getTags(token)),
        ),
        guard,
      );
      for (const result of many) {
        assert.equal(result.status, "rejected");
        assert.equal(
          (result as PromiseRejectedResult).reason.code,
          "authenticator_unavailable",
        );
      }
      assert.equal(await notHanging(auth.healthy(), guard), false);

      await pg.start();
      // No restart of the authenticator: it reconnects by itself.
      assert.deepEqual(await untilAvailable(() => auth.getTags(token)), ["a"]);
      assert.equal(await auth.healthy(), true);
      assert.deepEqual(await auth.addTags(token, ["b"]), ["a", "b"]);
      await auth.addToken("other", []);
      assert.deepEqual(await auth.getTags("other"), []);
    });
    const texts = records.map(recordText);
    assert.ok(
      texts.some((t) => /unavailable/.test(t)),
      `no warning logged:\n${texts.join("\n")}`,
    );
    assert.ok(
      texts.some((t) => /available again/.test(t)),
      `no recovery logged:\n${texts.join("\n")}`,
    );
    for (const text of texts) {
      assert.ok(!text.includes("hunter22"), text);
      assert.ok(!text.includes(token), text);
    }
  },
);

postgresTest(
  "changes in flight when PostgreSQL stops either succeed or fail as unavailable, and every success is kept",
  async () => {
    await using pg = await startPostgres();
    await captureLogs(async () => {
      await using auth = await openPostgres(new URL(pg.url));
      await auth.addToken("t1", []);
      const tags = Array.from({ length: 40 }, (_, i) => `tag${i}`);
      const inFlight = Promise.allSettled(
        tags.map((tag) => auth.addTags("t1", [tag])),
      );
      await pg.stop();
      const results = await notHanging(inFlight, 20_000);
      const succeeded: string[] = [];
      for (const [i, result] of results.entries()) {
        if (result.status === "fulfilled") succeeded.push(tags[i]!);
        else {
          assert.ok(result.reason instanceof MistError, String(result.reason));
          assert.equal(result.reason.code, "authenticator_unavailable");
        }
      }
      await pg.start();
      const stored = await untilAvailable(() => auth.getTags("t1"));
      for (const tag of succeeded) assert.ok(stored!.includes(tag), tag);
    });
  },
);

postgresTest(
  "a PostgreSQL that stops answering (frozen) fails every method by the deadline; the same instance recovers when it answers again",
  async (t) => {
    await using pg = await startPostgres();
    const table: [string, string, RegExp][] = [
      // One connection, open and frozen: only the deadline can free it.
      ["with one connection", "pool=1", /did not answer in time/],
      // Also new connections that time out: either way, new connections.
      ["with a pool", "pool=4", /opening new connections/],
    ];
    for (const [name, param, replaced] of table) {
      await t.step(name, async () => {
        // connect_timeout=1: a 9 s deadline (deadlineMs) rather than 11 s.
        const url = `${pg.url}&connect_timeout=1&${param}`;
        const { records } = await captureLogs(async () => {
          await using auth = await openPostgres(new URL(url));
          await auth.addToken(`t-${param}`, ["a"]);
          await auth.getTags(`t-${param}`); // a pooled connection is open and idle
          await pg.pause();
          try {
            const results = await notHanging(
              Promise.allSettled([
                auth.getTags(`t-${param}`),
                auth.addTags(`t-${param}`, ["b"]),
                auth.addToken("other", []),
                auth.healthy(),
              ]),
              30_000,
            );
            for (const result of results.slice(0, 3)) {
              assert.equal(result.status, "rejected");
              const reason = (result as PromiseRejectedResult).reason;
              assert.ok(reason instanceof MistError, String(reason));
              assert.equal(reason.code, "authenticator_unavailable");
            }
            assert.deepEqual(results[3], { status: "fulfilled", value: false });
          } finally {
            await pg.resume();
          }
          assert.deepEqual(
            await untilAvailable(() => auth.getTags(`t-${param}`)),
            ["a"],
          );
          assert.equal(await auth.healthy(), true);
          assert.deepEqual(await auth.addTags(`t-${param}`, ["c"]), ["a", "c"]);
        });
        const texts = records.map((r) => `${r.level} ${recordText(r)}`);
        assert.ok(
          texts.some((text) => replaced.test(text)),
          `the stuck pool was not replaced:\n${texts.join("\n")}`,
        );
      });
    }
  },
);

postgresTest(
  "a connection that goes silent for good does not wedge the authenticator: the next call uses new connections",
  async () => {
    await using pg = await startPostgres();
    await using proxy = new TcpProxy({ hostname: "127.0.0.1", port: pg.port });
    // One connection, so a statement stuck on it would hold the whole pool.
    const url =
      `postgres://postgres@127.0.0.1:${proxy.port}?db=postgres&pool=1&connect_timeout=1`;
    await captureLogs(async () => {
      await using auth = await openPostgres(new URL(url));
      await auth.addToken("t1", ["a"]);
      proxy.silenceExisting();
      const stuck = await notHanging(
        Promise.allSettled([auth.getTags("t1"), auth.addTags("t1", ["b"])]),
        30_000,
      );
      for (const result of stuck) {
        assert.equal(result.status, "rejected");
        assert.equal(
          (result as PromiseRejectedResult).reason.code,
          "authenticator_unavailable",
        );
      }
      // The silent connection never answers again; new ones do.
      assert.deepEqual(await notHanging(auth.getTags("t1"), 30_000), ["a"]);
      assert.deepEqual(await auth.addTags("t1", ["c"]), ["a", "c"]);
    });
  },
);

postgresTest(
  "two instances on one database (two nodes) lose no concurrent update",
  async () => {
    await using pg = await startPostgres();
    await using a = await openPostgres(new URL(pg.url));
    await using b = await openPostgres(new URL(pg.url));
    await a.addToken("shared", ["base"]);
    const tags = Array.from({ length: 100 }, (_, i) => `tag${i}`);
    await Promise.all(
      tags.map((tag, i) => (i % 2 === 0 ? a : b).addTags("shared", [tag])),
    );
    await Promise.all([a.removeTags("shared", ["base"]), b.getTags("shared")]);
    assert.deepEqual(await b.getTags("shared"), [...tags].sort());
    // A token registered by one is seen, and refused again, by the other.
    await rejectsWith(b.addToken("shared", []), "token_exists");
    await b.removeToken("shared");
    assert.equal(await a.getTags("shared"), undefined);
  },
);

postgresTest(
  "no token appears in PostgreSQL's tables or log: only digests",
  async () => {
    await using pg = await startPostgres();
    const admin = adminSql(pg);
    try {
      const url = await freshDatabase(pg, admin);
      const tokens = [
        `s3cret-${crypto.randomUUID()}`,
        `../${crypto.randomUUID()}`,
        `ключ-${crypto.randomUUID()}`,
        crypto.randomUUID().repeat(120),
        ...ODD_TOKENS.filter((t) => t.length >= 8),
      ];
      {
        await using auth = await openPostgres(new URL(url));
        for (const token of tokens) {
          await auth.addToken(token, ["news", "sport"]);
          await auth.addTags(token, ["weather"]);
          await auth.removeTags(token, ["sport"]);
          // Errors go to PostgreSQL's log with their statement; none may name a token.
          await rejectsWith(auth.addToken(token, []), "token_exists");
        }
        await auth.removeToken(tokens[0]!);
      }
      const db = adminSql(pg, new URL(url).searchParams.get("db")!);
      try {
        const tables = await db<{ name: string }[]>`
        SELECT quote_ident(table_schema) || '.' || quote_ident(table_name) AS name
        FROM information_schema.tables
        WHERE table_schema NOT IN ('pg_catalog', 'information_schema')`;
        assert.deepEqual(tables.map((t) => t.name), ["public.mist_tokens"]);
        let dump = "";
        for (const { name } of tables) {
          const rows = await db.unsafe<{ row: string }[]>(
            `SELECT t::text AS row FROM ${name} t`,
          );
          dump += rows.map((r) => r.row).join("\n");
        }
        const stored = await db<{ digest: string; tags: string[] }[]>`
        SELECT digest, tags FROM mist_tokens ORDER BY digest`;
        assert.deepEqual(
          stored.map((r) => r.digest),
          tokens.slice(1).map(tokenDigest).sort(),
        );
        for (const row of stored) {
          assert.deepEqual(row.tags, [
            "news",
            "weather",
          ]);
        }
        const log = await Deno.readTextFile(`${pg.dir}/postgres.log`);
        for (const token of tokens) {
          assert.ok(!dump.includes(token), "a token is in a table");
          assert.ok(!log.includes(token), "a token is in PostgreSQL's log");
        }
      } finally {
        await db.end();
      }
    } finally {
      await admin.end();
    }
  },
);

postgresTest(
  "`openPostgres()` explains a refused connection: missing database, sslmode",
  async (t) => {
    await using pg = await startPostgres();
    const base = `postgres://postgres:hunter22-secret@127.0.0.1:${pg.port}`;
    const table: [string, RegExp][] = [
      [
        `${base}?db=nope`,
        /^Cannot connect to PostgreSQL at postgres:\/\/postgres@127\.0\.0\.1:\d+\/nope: database "nope" does not exist/,
      ],
      // The test server has no TLS.
      [
        `${base}?db=postgres&sslmode=require`,
        /^Cannot connect to PostgreSQL at postgres:\/\/postgres@127\.0\.0\.1:\d+\/postgres: /,
      ],
    ];
    for (const [uri, message] of table) {
      await t.step(uri.replace("hunter22-secret", "***"), async () => {
        await assert.rejects(
          notHanging(openPostgres(new URL(uri)), 30_000),
          (err: Error) => {
            assert.match(err.message, message);
            assert.ok(!err.message.includes("hunter22"), err.message);
            return true;
          },
        );
      });
    }
    await t.step("sslmode=prefer falls back to plain TCP", async () => {
      await using auth = await openPostgres(
        new URL(`${base}?db=postgres&sslmode=prefer`),
      );
      assert.equal(await auth.healthy(), true);
    });
  },
);

postgresTest(
  "the table is created once, even by nodes starting together",
  async () => {
    await using pg = await startPostgres();
    const admin = adminSql(pg);
    try {
      const url = new URL(await freshDatabase(pg, admin));
      const nodes = await Promise.all(
        Array.from({ length: 5 }, () => openPostgres(url)),
      );
      await nodes[0]!.addToken("t", ["a"]);
      for (const node of nodes) {
        assert.deepEqual(await node.getTags("t"), [
          "a",
        ]);
      }
      await Promise.all(nodes.map((node) => node.close()));
    } finally {
      await admin.end();
    }
  },
);
