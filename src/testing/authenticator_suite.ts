/**
 * The conformance suite every {@linkcode Authenticator} runs (STYLE.md §4):
 * each backend's test file calls {@linkcode authenticatorSuite} with a way to
 * open a fresh, empty instance.
 *
 * @module
 */

import assert from "node:assert/strict";
import { type ErrorCode, MistError } from "../protocol/errors.ts";
import type { Authenticator } from "../auth/authenticator.ts";

/** A backend under test, and where it legitimately differs. */
export interface SuiteBackend {
  /** Opens a new authenticator with no tokens. */
  open(): Promise<Authenticator>;
  /**
   * Whether any JavaScript string can be a tag. PostgreSQL's `text` cannot
   * hold NUL or an unpaired surrogate; such a backend refuses those tags with
   * `invalid tags` instead of storing something else. Default `true`.
   */
  anyStringTags?: boolean;
}

/** Tokens that must be stored and told apart like any other. */
export const ODD_TOKENS: readonly string[] = [
  "/",
  "../",
  "../../../../etc/passwd",
  "a/b\\c",
  ".",
  "..",
  "",
  " ",
  "CON",
  "tok.json",
  "tok.json.tmp",
  "🔑 ключ 鍵 مفتاح",
  "e\u0301", // e + combining acute
  "\u00e9", // é, the same text precomposed: a different token
  "\u202etxt.exe",
  "\t\r\n",
  "x".repeat(4096),
  "%2e%2e%2f",
];

/**
 * Asserts that a promise rejects with a {@linkcode MistError} of a code.
 *
 * @param promise what should reject
 * @param code the expected code
 * @returns the error
 */
export async function rejectsWith(
  promise: Promise<unknown>,
  code: ErrorCode,
): Promise<MistError> {
  let caught: unknown;
  try {
    await promise;
  } catch (err) {
    caught = err;
  }
  assert.ok(
    caught instanceof MistError,
    `expected MistError "${code}", got ${
      caught === undefined ? "success" : String(caught)
    }`,
  );
  assert.equal(caught.code, code);
  return caught;
}

/**
 * Runs every conformance case as a step of `t`, each on a fresh instance.
 *
 * @param t the test whose steps these are
 * @param backend how to open the backend under test
 * @returns when every step has run
 */
export async function authenticatorSuite(
  t: Deno.TestContext,
  backend: SuiteBackend,
): Promise<void> {
  const anyStringTags = backend.anyStringTags ?? true;

  async function step(
    name: string,
    fn: (auth: Authenticator) => Promise<void>,
  ): Promise<void> {
    await t.step(name, async () => {
      const auth = await backend.open();
      try {
        await fn(auth);
      } finally {
        await auth.close();
      }
    });
  }

  await step(
    "`addToken()` registers a token `getTags()` then finds, sorted and de-duplicated",
    async (auth) => {
      await auth.addToken("t1", ["b", "a", "c", "a"]);
      assert.deepEqual(await auth.getTags("t1"), ["a", "b", "c"]);
    },
  );

  await step(
    "`addToken()` refuses a registered token and keeps its tags",
    async (auth) => {
      await auth.addToken("t1", ["a"]);
      await rejectsWith(auth.addToken("t1", ["b"]), "token_exists");
      assert.deepEqual(await auth.getTags("t1"), ["a"]);
    },
  );

  await step("`removeToken()` removes a token with its tags", async (auth) => {
    await auth.addToken("t1", ["a", "b"]);
    await auth.removeToken("t1");
    assert.equal(await auth.getTags("t1"), undefined);
    await rejectsWith(auth.removeToken("t1"), "token_not_found");
    // Registered again, it starts from its new tags only.
    await auth.addToken("t1", ["c"]);
    assert.deepEqual(await auth.getTags("t1"), ["c"]);
  });

  await step(
    "every method refuses a missing token, and `getTags()` returns `undefined`",
    async (auth) => {
      await auth.addToken("other", ["a"]);
      await rejectsWith(auth.removeToken("missing"), "token_not_found");
      await rejectsWith(auth.addTags("missing", ["a"]), "token_not_found");
      await rejectsWith(auth.removeTags("missing", ["a"]), "token_not_found");
      await rejectsWith(auth.addTags("missing", []), "token_not_found");
      await rejectsWith(auth.removeTags("missing", []), "token_not_found");
      assert.equal(await auth.getTags("missing"), undefined);
      // A failed call creates nothing.
      assert.equal(await auth.getTags("missing"), undefined);
      assert.deepEqual(await auth.getTags("other"), ["a"]);
    },
  );

  await step(
    "`addTags()` returns every tag granted now, sorted",
    async (auth) => {
      await auth.addToken("t1", ["m"]);
      assert.deepEqual(await auth.addTags("t1", ["z", "a"]), ["a", "m", "z"]);
      assert.deepEqual(await auth.addTags("t1", ["b"]), ["a", "b", "m", "z"]);
      assert.deepEqual(await auth.getTags("t1"), ["a", "b", "m", "z"]);
    },
  );

  await step(
    "`addTags()` ignores tags already granted and repeated ones",
    async (auth) => {
      await auth.addToken("t1", ["a", "b"]);
      assert.deepEqual(await auth.addTags("t1", ["b", "c", "c", "a"]), [
        "a",
        "b",
        "c",
      ]);
      assert.deepEqual(await auth.getTags("t1"), ["a", "b", "c"]);
    },
  );

  await step(
    "`removeTags()` returns the tags left, and ignores tags never granted",
    async (auth) => {
      await auth.addToken("t1", ["a", "b", "c", "d"]);
      assert.deepEqual(await auth.removeTags("t1", ["c", "a", "a"]), [
        "b",
        "d",
      ]);
      assert.deepEqual(await auth.removeTags("t1", ["x"]), ["b", "d"]);
      assert.deepEqual(await auth.removeTags("t1", ["b", "d"]), []);
      // A token with no tags is still registered.
      assert.deepEqual(await auth.getTags("t1"), []);
      await rejectsWith(auth.addToken("t1", []), "token_exists");
    },
  );

  await step("an empty tag list is allowed everywhere", async (auth) => {
    await auth.addToken("t1", []);
    assert.deepEqual(await auth.getTags("t1"), []);
    assert.deepEqual(await auth.addTags("t1", []), []);
    assert.deepEqual(await auth.removeTags("t1", []), []);
    await auth.addTags("t1", ["a"]);
    assert.deepEqual(await auth.addTags("t1", []), ["a"]);
    assert.deepEqual(await auth.removeTags("t1", []), ["a"]);
  });

  await step("tokens are independent of each other", async (auth) => {
    await auth.addToken("alpha", ["a"]);
    await auth.addToken("Alpha", ["A"]);
    await auth.addToken("alpha2", ["a2"]);
    await auth.addTags("alpha", ["x"]);
    await auth.removeTags("Alpha", ["A"]);
    await auth.removeToken("alpha2");
    assert.deepEqual(await auth.getTags("alpha"), ["a", "x"]);
    assert.deepEqual(await auth.getTags("Alpha"), []);
    assert.equal(await auth.getTags("alpha2"), undefined);
    assert.equal(await auth.getTags("alph"), undefined);
  });

  await step(
    "odd tokens (paths, unicode, empty, 4 KiB) are tokens like any other",
    async (auth) => {
      for (const [i, token] of ODD_TOKENS.entries()) {
        await auth.addToken(token, [`tag${i}`]);
      }
      for (const [i, token] of ODD_TOKENS.entries()) {
        assert.deepEqual(
          await auth.getTags(token),
          [`tag${i}`],
          `token #${i}`,
        );
        await rejectsWith(auth.addToken(token, []), "token_exists");
      }
      for (const [i, token] of ODD_TOKENS.entries()) {
        assert.deepEqual(await auth.addTags(token, ["more"]), [
          "more",
          `tag${i}`,
        ]);
        await auth.removeToken(token);
        assert.equal(await auth.getTags(token), undefined, `token #${i}`);
      }
    },
  );

  await step("odd tags are stored exactly", async (auth) => {
    const tags = [
      "with space",
      "comma,separated",
      '"quoted"',
      "{}",
      "[]",
      "a\\b",
      "ключ",
      "鍵",
      "🐟",
      "e\u0301",
      "\u00e9",
      "tab\there",
      "line\nbreak",
      "NULL",
      "'; DROP TABLE mist_tokens; --",
      "t".repeat(1024),
    ];
    await auth.addToken("t1", tags);
    assert.deepEqual(await auth.getTags("t1"), [...tags].sort());
    assert.deepEqual(await auth.removeTags("t1", tags.slice(1)), [tags[0]!]);
  });

  await step(
    anyStringTags
      ? "tags with NUL or an unpaired surrogate are stored exactly"
      : "tags with NUL or an unpaired surrogate are refused as invalid",
    async (auth) => {
      const tags = ["nul\u0000inside", "lone\ud800surrogate"];
      await auth.addToken("t1", ["a"]);
      for (const tag of tags) {
        if (anyStringTags) {
          assert.deepEqual(await auth.addTags("t1", [tag]), ["a", tag].sort());
          assert.deepEqual(await auth.removeTags("t1", [tag]), ["a"]);
        } else {
          await rejectsWith(auth.addTags("t1", [tag]), "invalid_tags");
          await rejectsWith(auth.addToken("t2", [tag]), "invalid_tags");
          assert.equal(await auth.getTags("t2"), undefined);
        }
      }
      assert.deepEqual(await auth.getTags("t1"), ["a"]);
    },
  );

  await step(
    "100 concurrent `addTags()` on one token lose nothing",
    async (auth) => {
      await auth.addToken("t1", []);
      const tags = Array.from(
        { length: 100 },
        (_, i) => `tag${String(i).padStart(3, "0")}`,
      );
      const results = await Promise.all(
        tags.map((tag) => auth.addTags("t1", [tag])),
      );
      assert.deepEqual(await auth.getTags("t1"), tags);
      // Each call saw its own tag, and the sets grow one tag at a time.
      for (const [i, result] of results.entries()) {
        assert.ok(result.includes(tags[i]!));
      }
      assert.deepEqual(
        results.map((r) => r.length).sort((a, b) => a - b),
        tags.map((_, i) => i + 1),
      );
    },
  );

  await step(
    "concurrent `addTags()` and `removeTags()` on one token apply every change",
    async (auth) => {
      const initial = Array.from({ length: 50 }, (_, i) => `old${i}`);
      await auth.addToken("t1", initial);
      const added = Array.from({ length: 50 }, (_, i) => `new${i}`);
      await Promise.all([
        ...added.map((tag) => auth.addTags("t1", [tag])),
        ...initial.map((tag) => auth.removeTags("t1", [tag])),
      ]);
      assert.deepEqual(await auth.getTags("t1"), [...added].sort());
    },
  );

  await step(
    "concurrent `addToken()` of one token: exactly one wins",
    async (auth) => {
      const results = await Promise.allSettled(
        Array.from({ length: 10 }, (_, i) => auth.addToken("t1", [`by${i}`])),
      );
      const won = results.flatMap((r, i) =>
        r.status === "fulfilled" ? [i] : []
      );
      assert.equal(won.length, 1);
      for (const r of results) {
        if (r.status === "rejected") {
          assert.ok(r.reason instanceof MistError);
          assert.equal(r.reason.code, "token_exists");
        }
      }
      assert.deepEqual(await auth.getTags("t1"), [`by${won[0]}`]);
    },
  );

  await step("concurrent calls on many tokens each apply", async (auth) => {
    const tokens = Array.from({ length: 30 }, (_, i) => `token-${i}`);
    await Promise.all(tokens.map((token) => auth.addToken(token, ["base"])));
    await Promise.all(
      tokens.flatMap((token) => [
        auth.addTags(token, [token]),
        auth.addTags(token, ["x"]),
      ]),
    );
    for (const token of tokens) {
      assert.deepEqual(await auth.getTags(token), ["base", token, "x"].sort());
    }
  });

  await step("returned tags are a copy the caller may change", async (auth) => {
    await auth.addToken("t1", ["a"]);
    const tags = (await auth.getTags("t1"))!;
    tags.push("mutated");
    (await auth.addTags("t1", [])).push("mutated");
    assert.deepEqual(await auth.getTags("t1"), ["a"]);
  });

  await step("`healthy()` is true while open", async (auth) => {
    assert.equal(await auth.healthy(), true);
  });

  await step(
    "`close()` is idempotent, and a closed store is unavailable",
    async (auth) => {
      await auth.addToken("t1", ["a"]);
      await auth.close();
      await auth.close();
      assert.equal(await auth.healthy(), false);
      await rejectsWith(auth.getTags("t1"), "authenticator_unavailable");
      await rejectsWith(auth.addToken("t2", []), "authenticator_unavailable");
      await rejectsWith(auth.addTags("t1", ["b"]), "authenticator_unavailable");
      await rejectsWith(
        auth.removeTags("t1", ["a"]),
        "authenticator_unavailable",
      );
      await rejectsWith(auth.removeToken("t1"), "authenticator_unavailable");
    },
  );

  await step("errors never contain the token", async (auth) => {
    const token = "do-not-leak-0123456789";
    await auth.addToken(token, []);
    const errors = [
      await rejectsWith(auth.addToken(token, []), "token_exists"),
      await rejectsWith(auth.addTags(`${token}x`, ["a"]), "token_not_found"),
    ];
    await auth.close();
    errors.push(
      await rejectsWith(auth.getTags(token), "authenticator_unavailable"),
    );
    for (const err of errors) {
      assert.ok(!String(err.message).includes("do-not-leak"), err.message);
      assert.ok(!String(err.stack).includes("do-not-leak"), err.stack);
    }
  });
}
