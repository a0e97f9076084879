import assert from "node:assert/strict";
import { ERROR_TEXT, type ErrorCode, MistError } from "./errors.ts";

Deno.test("MistError.fromText() maps every error text back to its code", () => {
  for (const [code, text] of Object.entries(ERROR_TEXT)) {
    const bare = MistError.fromText(text);
    assert.equal(bare.code, code);
    assert.equal(bare.message, text);
    const detailed = MistError.fromText(`${text}: some detail`);
    assert.equal(detailed.code, code);
    assert.equal(detailed.message, `${text}: some detail`);
    assert.deepEqual(
      detailed,
      new MistError(code as ErrorCode, "some detail"),
    );
  }
});

Deno.test("MistError.fromText() matches whole texts, not any prefix", () => {
  assert.equal(
    MistError.fromText("too many tags: 3 > 2").code,
    "too_many_tags",
  );
  assert.equal(
    MistError.fromText("too many subscriptions").code,
    "too_many_subscriptions",
  );
  assert.equal(MistError.fromText("invalid tagsoup").code, "server_error");
});

Deno.test("MistError.fromText() keeps an unknown text whole under server_error", () => {
  const err = MistError.fromText("the moon is full", { command: "howl" });
  assert.equal(err.code, "server_error");
  assert.equal(err.message, "server error: the moon is full");
  assert.deepEqual(err.context, { command: "howl" });
  assert.equal(err.name, "MistError");
});
