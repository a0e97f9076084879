import assert from "node:assert/strict";
import { authenticatorSuite } from "../testing/authenticator_suite.ts";
import { MemoryAuthenticator, openMemory } from "./memory.ts";

Deno.test("`memory://` passes the authenticator suite", async (t) => {
  await authenticatorSuite(t, {
    open: () => openMemory(new URL("memory://")),
  });
});

Deno.test("`MemoryAuthenticator` instances share nothing", async () => {
  await using a = new MemoryAuthenticator();
  await using b = new MemoryAuthenticator();
  await a.addToken("t", ["a"]);
  assert.equal(await b.getTags("t"), undefined);
});
