import assert from "node:assert/strict";
import { joinDashValues } from "./_args.ts";

const options = {
  "max-tags": { type: "string" },
  server: { type: "boolean" },
} as const;

Deno.test("joinDashValues() joins a string flag and a negative number", () => {
  assert.deepEqual(joinDashValues(["--max-tags", "-1"], options), [
    "--max-tags=-1",
  ]);
  assert.deepEqual(joinDashValues(["--max-tags", "-.5", "--server"], options), [
    "--max-tags=-.5",
    "--server",
  ]);
});

Deno.test("joinDashValues() leaves flags, boolean flags and what follows -- alone", () => {
  for (
    const args of [
      ["--max-tags", "--server"],
      ["--server", "-1"],
      ["--", "--max-tags", "-1"],
      ["--max-tags=-1"],
      ["--colour", "-1"],
    ]
  ) {
    assert.deepEqual(joinDashValues(args, options), args);
  }
});
