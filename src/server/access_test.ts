import assert from "node:assert/strict";
import { Access } from "./access.ts";
import { tokenDigest } from "../auth/authenticator.ts";
import { MemoryAuthenticator } from "../auth/memory.ts";
import type { Principal } from "../core/principal.ts";

class Holder {
  principal: Principal | undefined;
  regrant(principal: Principal): void {
    this.principal = principal;
  }
}

Deno.test("Access.track() applies a change made after the grants were read", async () => {
  const authenticator = new MemoryAuthenticator();
  await authenticator.addToken("user", ["a", "b"]);
  const access = new Access(authenticator, { admin: "admin" });
  const principal = await access.principal("user");
  assert.ok(principal.kind === "token");
  assert.deepEqual([...principal.tags], ["a", "b"]);
  // Another node revokes "b" while this connection is still joining.
  access.applyGrants(tokenDigest("user"), ["a"]);
  const holder = new Holder();
  access.track(principal, holder);
  assert.ok(holder.principal?.kind === "token");
  assert.deepEqual([...holder.principal.tags], ["a"]);

  // A principal read after the change needs nothing more.
  const fresh = await access.principal("user");
  const other = new Holder();
  access.track(fresh as Principal & { kind: "token" }, other);
  assert.equal(other.principal, undefined);
  await authenticator.close();
});

Deno.test("Access.principal() refuses wrong and malformed tokens, knows the admin", async () => {
  const authenticator = new MemoryAuthenticator();
  const access = new Access(authenticator, { admin: "admin" });
  assert.deepEqual(await access.principal("admin"), { kind: "admin" });
  assert.deepEqual(await access.principal(undefined), { kind: "anonymous" });
  await assert.rejects(access.principal("nobody"), {
    message: "invalid token",
  });
  await assert.rejects(access.principal("\ud800"), {
    message: "invalid token",
  });
  assert.deepEqual(await new Access().principal("anything"), { kind: "open" });
  assert.throws(() => new Access(authenticator), TypeError);
  await authenticator.close();
});

Deno.test("Access.principal() knows the metrics token and counts refused tokens", async () => {
  const authenticator = new MemoryAuthenticator();
  const access = new Access(authenticator, {
    admin: "admin",
    metrics: "scrape",
  });
  assert.deepEqual(await access.principal("scrape"), { kind: "metrics" });
  assert.equal(access.refused, 0);
  await assert.rejects(access.principal("nobody"), {
    message: "invalid token",
  });
  await assert.rejects(access.principal("\ud800"), {
    message: "invalid token",
  });
  assert.equal(access.refused, 2);
  // Without authentication the metrics token means nothing.
  assert.deepEqual(
    await new Access(undefined, { metrics: "scrape" }).principal("scrape"),
    {
      kind: "open",
    },
  );
  assert.throws(
    () => new Access(authenticator, { admin: "a", metrics: "" }),
    TypeError,
  );
  await authenticator.close();
});
