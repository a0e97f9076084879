import assert from "node:assert/strict";
import { testCertificate } from "../../tests/_certificates.ts";
import { canRebind, checkCertificate, rebindable } from "./listener.ts";

Deno.test({
  name:
    "rebindable() binds beside itself, but a port another listener holds stays in use",
  ignore: !canRebind(),
  fn() {
    using first = Deno.listen(rebindable({ hostname: "127.0.0.1", port: 0 }));
    const { port } = first.addr;
    // The same listener binding again, as a new certificate does.
    using second = Deno.listen({
      hostname: "127.0.0.1",
      port,
      reusePort: true,
    });
    assert.equal(second.addr.port, port);
    // A second server asking for the port is refused, not let in beside it.
    assert.throws(
      () => rebindable({ hostname: "127.0.0.1", port }),
      Deno.errors.AddrInUse,
    );
  },
});

const a = await testCertificate();
const b = await testCertificate();

Deno.test({
  name: "checkCertificate() takes a pair and refuses bad PEM or another key",
  ignore: a === undefined || b === undefined,
  fn() {
    checkCertificate({ cert: a!.cert, key: a!.key });
    assert.throws(
      () => checkCertificate({ cert: a!.cert, key: b!.key }),
      /KeyMismatch/,
    );
    assert.throws(
      () => checkCertificate({ cert: "not a certificate", key: a!.key }),
      /No certificates/,
    );
  },
});
