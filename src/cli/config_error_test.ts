import assert from "node:assert/strict";
import { ConfigError } from "./config_error.ts";

Deno.test("ConfigError is an Error named ConfigError with its message", () => {
  const err = new ConfigError("Invalid value for --port");
  assert.ok(err instanceof Error);
  assert.ok(err instanceof ConfigError);
  assert.equal(err.name, "ConfigError");
  assert.equal(err.message, "Invalid value for --port");
  assert.match(String(err), /^ConfigError: Invalid value for --port$/);
});
