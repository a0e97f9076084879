import assert from "node:assert/strict";
import { testCertificate } from "../../tests/_certificates.ts";
import { checkCertificate } from "./listener.ts";

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
