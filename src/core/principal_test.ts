import assert from "node:assert/strict";
import { MistError } from "../protocol/errors.ts";
import {
  ADMIN,
  ANONYMOUS,
  checkAdmin,
  checkInspect,
  checkPublish,
  checkSubscribe,
  maySubscribe,
  OPEN,
  type Principal,
} from "./principal.ts";

const reader: Principal = {
  kind: "token",
  digest: "d",
  tags: new Set(["a", "b"]),
};

function forbidden(message: string) {
  return (err: unknown) => {
    assert.ok(err instanceof MistError);
    assert.equal(err.code, "forbidden");
    assert.equal(err.message, message);
    return true;
  };
}

const principals: [string, Principal][] = [
  ["open", OPEN],
  ["anonymous", ANONYMOUS],
  ["admin", ADMIN],
  ["a token granting a, b", reader],
];

Deno.test("`maySubscribe()` follows the rule of each principal kind", async (t) => {
  const table: [string, Principal, string[], boolean][] = [
    ["open", OPEN, ["x", "y"], true],
    ["admin", ADMIN, ["x", "y"], true],
    ["anonymous", ANONYMOUS, ["x"], false],
    ["a token, granted tags", reader, ["a", "b"], true],
    ["a token, one granted tag", reader, ["b"], true],
    ["a token, one tag not granted", reader, ["a", "c"], false],
  ];
  for (const [name, principal, tags, expected] of table) {
    await t.step(`${name} ${JSON.stringify(tags)}: ${expected}`, () => {
      assert.equal(maySubscribe(principal, tags), expected);
    });
  }
});

Deno.test("`maySubscribe()` allows anyone no tags at all", async (t) => {
  for (const [name, principal] of principals) {
    await t.step(name, () => assert.equal(maySubscribe(principal, []), true));
  }
});

for (
  const [name, check] of [
    ["checkSubscribe", checkSubscribe],
    ["checkPublish", checkPublish],
  ] as const
) {
  Deno.test(`\`${name}()\` allows open and admin any tags`, () => {
    check(OPEN, ["x", "y"]);
    check(ADMIN, ["x", "y"]);
  });

  Deno.test(`\`${name}()\` allows a token its granted tags`, () => {
    check(reader, ["a"]);
    check(reader, ["b", "a"]);
  });

  Deno.test(`\`${name}()\` refuses a token the tags it lacks, each once, in order`, async (t) => {
    const table: [string[], string][] = [
      [["c"], 'forbidden: not granted ["c"]'],
      [["a", "c", "d"], 'forbidden: not granted ["c","d"]'],
      [["d", "c", "d", "a", "c"], 'forbidden: not granted ["d","c"]'],
    ];
    for (const [tags, message] of table) {
      await t.step(JSON.stringify(tags), () => {
        assert.throws(() => check(reader, tags), forbidden(message));
      });
    }
  });

  Deno.test(`\`${name}()\` refuses anonymous every tag, each once`, () => {
    assert.throws(
      () => check(ANONYMOUS, ["x", "y", "x"]),
      forbidden('forbidden: not granted ["x","y"]'),
    );
  });
}

Deno.test("`checkAdmin()` allows only the admin", async (t) => {
  for (const [name, principal] of principals) {
    await t.step(name, () => {
      if (principal.kind === "admin") checkAdmin(principal);
      else {
        assert.throws(
          () => checkAdmin(principal),
          forbidden("forbidden: admin only"),
        );
      }
    });
  }
});

Deno.test("`checkInspect()` allows open and admin only", async (t) => {
  for (const [name, principal] of principals) {
    await t.step(name, () => {
      if (principal.kind === "admin" || principal.kind === "open") {
        checkInspect(principal);
      } else {
        assert.throws(
          () => checkInspect(principal),
          forbidden("forbidden: admin only"),
        );
      }
    });
  }
});

Deno.test("`checkAdmin()` refuses a token granting every tag asked", () => {
  assert.throws(() => checkAdmin(reader), forbidden("forbidden: admin only"));
});

Deno.test("the shared principals are frozen", () => {
  for (const principal of [OPEN, ANONYMOUS, ADMIN]) {
    assert.ok(Object.isFrozen(principal));
  }
});
