import assert from "node:assert/strict";
import { openAuthenticator, registerAuthenticator } from "./authenticator.ts";
import { MemoryAuthenticator } from "./memory.ts";

Deno.test("`openAuthenticator()` finds the factory of the URI's scheme, in any case, and passes it the URL", async () => {
  const seen: string[] = [];
  registerAuthenticator("Test-Store", (url) => {
    seen.push(url.href);
    return Promise.resolve(new MemoryAuthenticator());
  });
  const auth = await openAuthenticator("TEST-STORE://somewhere?x=1");
  assert.ok(auth instanceof MemoryAuthenticator);
  await auth.close();
  assert.deepEqual(seen, ["test-store://somewhere?x=1"]);
});

Deno.test("`openAuthenticator()` refuses a URI that is not a URL without repeating it", async () => {
  await assert.rejects(
    openAuthenticator("not a uri hunter22"),
    (err: Error) => {
      assert.equal(err.message, "Invalid authenticator URI: not a URL");
      return true;
    },
  );
});

Deno.test("`openAuthenticator()` refuses an unknown scheme with a `TypeError` that lists the known ones", async () => {
  registerAuthenticator(
    "listed",
    () => Promise.resolve(new MemoryAuthenticator()),
  );
  await assert.rejects(
    openAuthenticator("ldap://u:hunter22@h"),
    (err: unknown) => {
      assert.ok(err instanceof TypeError);
      assert.match(
        err.message,
        /^Unknown authenticator scheme "ldap"; known: .*listed:\/\//,
      );
      assert.ok(!err.message.includes("hunter22"));
      return true;
    },
  );
});
