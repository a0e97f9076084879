import assert from "node:assert/strict";
import { EXIT } from "./exit.ts";

Deno.test("EXIT holds the documented exit codes", () => {
  assert.deepEqual(
    { ...EXIT },
    { ok: 0, serverError: 1, usage: 2, unreachable: 3 },
  );
});

Deno.test("EXIT cannot be changed", () => {
  assert.ok(Object.isFrozen(EXIT));
  assert.throws(() => {
    (EXIT as { ok: number }).ok = 9;
  }, TypeError);
  assert.equal(EXIT.ok, 0);
});
