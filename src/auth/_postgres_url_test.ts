import assert from "node:assert/strict";
import {
  DEFAULT_CONNECT_TIMEOUT,
  DEFAULT_POOL,
  parsePostgresUrl,
  type PostgresConfig,
  redactedErrorText,
} from "./_postgres_url.ts";

function parse(uri: string): PostgresConfig {
  return parsePostgresUrl(new URL(uri));
}

Deno.test("`parsePostgresUrl()` reads every accepted form", async (t) => {
  const defaults = {
    host: "localhost",
    port: 5432,
    ssl: false,
    max: DEFAULT_POOL,
    connectTimeout: DEFAULT_CONNECT_TIMEOUT,
  } as const;
  const table: [string, PostgresConfig][] = [
    ["postgres://", { ...defaults, display: "postgres://localhost:5432" }],
    ["postgres://db.example:6543", {
      ...defaults,
      host: "db.example",
      port: 6543,
      display: "postgres://db.example:6543",
    }],
    ["postgres://mist:secret@db:5433?db=tokens", {
      ...defaults,
      host: "db",
      port: 5433,
      username: "mist",
      password: "secret",
      database: "tokens",
      display: "postgres://mist@db:5433/tokens",
    }],
    ["postgres://mist@db/tokens", {
      ...defaults,
      host: "db",
      username: "mist",
      database: "tokens",
      display: "postgres://mist@db:5432/tokens",
    }],
    ["postgresql://db/tokens?db=tokens", {
      ...defaults,
      host: "db",
      database: "tokens",
      display: "postgresql://db:5432/tokens",
    }],
    ["postgres://[::1]:5433/t", {
      ...defaults,
      host: "::1",
      port: 5433,
      database: "t",
      display: "postgres://[::1]:5433/t",
    }],
    ["postgres://us%40er:p%3Ass@h/my%20db", {
      ...defaults,
      host: "h",
      username: "us@er",
      password: "p:ss",
      database: "my db",
      display: "postgres://us%40er@h:5432/my%20db",
    }],
    ["postgres://h?sslmode=disable", {
      ...defaults,
      host: "h",
      display: "postgres://h:5432",
    }],
    ["postgres://h?sslmode=prefer", {
      ...defaults,
      host: "h",
      ssl: "prefer",
      display: "postgres://h:5432",
    }],
    ["postgres://h?sslmode=require", {
      ...defaults,
      host: "h",
      ssl: "require",
      display: "postgres://h:5432",
    }],
    ["postgres://h?sslmode=verify-full&pool=1&connect_timeout=120", {
      ...defaults,
      host: "h",
      ssl: "verify-full",
      max: 1,
      connectTimeout: 120,
      display: "postgres://h:5432",
    }],
    ["postgres://h?pool=100&connect_timeout=1", {
      ...defaults,
      host: "h",
      max: 100,
      connectTimeout: 1,
      display: "postgres://h:5432",
    }],
  ];
  for (const [uri, expected] of table) {
    await t.step(uri, () => assert.deepEqual(parse(uri), expected));
  }
});

Deno.test("`parsePostgresUrl()` leaves out the settings a URI does not give", () => {
  const config = parse("postgres://h");
  for (const key of ["username", "password", "database"]) {
    assert.equal(Object.hasOwn(config, key), false, key);
  }
});

Deno.test("`parsePostgresUrl()` refuses every bad form with a message saying why", async (t) => {
  const table: [string, string][] = [
    [
      "postgres://h?database=x",
      'Unknown parameter "database" in the postgres authenticator URI; known: db, sslmode, pool, connect_timeout',
    ],
    [
      "postgres://h/one?db=two",
      'Postgres authenticator URI names two databases, "one" and "two"',
    ],
    [
      "postgres://h?sslmode=verify-ca",
      'Unsupported sslmode "verify-ca"; use one of disable, prefer, require, verify-full',
    ],
    [
      "postgres://h?pool=0",
      'Invalid pool "0" in the postgres authenticator URI; expected a whole number from 1 to 100',
    ],
    [
      "postgres://h?pool=101",
      'Invalid pool "101" in the postgres authenticator URI; expected a whole number from 1 to 100',
    ],
    [
      "postgres://h?pool=2.5",
      'Invalid pool "2.5" in the postgres authenticator URI; expected a whole number from 1 to 100',
    ],
    [
      "postgres://h?pool=",
      'Invalid pool "" in the postgres authenticator URI; expected a whole number from 1 to 100',
    ],
    [
      "postgres://h?pool=-1",
      'Invalid pool "-1" in the postgres authenticator URI; expected a whole number from 1 to 100',
    ],
    [
      "postgres://h?connect_timeout=0",
      'Invalid connect_timeout "0" in the postgres authenticator URI; expected a whole number from 1 to 120',
    ],
    [
      "postgres://h?connect_timeout=121",
      'Invalid connect_timeout "121" in the postgres authenticator URI; expected a whole number from 1 to 120',
    ],
    [
      "postgres://h?connect_timeout=1e1",
      'Invalid connect_timeout "1e1" in the postgres authenticator URI; expected a whole number from 1 to 120',
    ],
  ];
  for (const [uri, message] of table) {
    await t.step(uri, () => {
      assert.throws(() => parse(uri), { message });
    });
  }
});

Deno.test("`parsePostgresUrl()` never echoes the password in an error", async (t) => {
  const uris = [
    "postgres://u:hunter22@h?bogus=1",
    "postgres://u:hunter22@h/a?db=b",
    "postgres://u:hunter22@h?sslmode=nope",
    "postgres://u:hunter22@h?pool=999",
    "postgres://u:hunter22@h?connect_timeout=x",
  ];
  for (const uri of uris) {
    await t.step(uri, () => {
      assert.throws(() => parse(uri), (err: unknown) => {
        assert.ok(err instanceof Error);
        assert.ok(!err.message.includes("hunter22"), err.message);
        return true;
      });
    });
  }
});

Deno.test("`parsePostgresUrl()` keeps the password out of `display`", () => {
  const config = parse("postgres://u:hunter22@h:1/d");
  assert.equal(config.password, "hunter22");
  assert.ok(!config.display.includes("hunter22"));
});

Deno.test("`redactedErrorText()` cuts out every copy of the password", async (t) => {
  const table: [string, unknown, string | undefined, string][] = [
    [
      "an Error",
      new Error("auth for s3cret failed: s3cret"),
      "s3cret",
      "auth for *** failed: ***",
    ],
    ["a string", "bad s3cret", "s3cret", "bad ***"],
    ["no password", new Error("auth s3cret"), undefined, "auth s3cret"],
    ["a short password is left alone", new Error("a b ab"), "ab", "a b ab"],
    ["three characters are cut", new Error("xabcx"), "abc", "x***x"],
    ["a password not present", new Error("refused"), "s3cret", "refused"],
  ];
  for (const [name, err, password, expected] of table) {
    await t.step(name, () => {
      assert.equal(redactedErrorText(err, password), expected);
    });
  }
});
