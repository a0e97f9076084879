/**
 * Tests that need a service binary (redis-server, PostgreSQL, Chromium): one
 * rule for all of them. When the binary is missing the test does not run: it
 * is reported as ignored, with the reason in its name and once on standard
 * error, or, under `CI=true`, as a failure that says what CI must install.
 *
 * @module
 */

import assert from "node:assert/strict";
import { writeAllSync } from "../src/_util/io.ts";
import type { Register } from "../src/testing/backplane_suite.ts";

/** A service some tests need. */
export interface Service {
  /** What it is called in messages, e.g. `"Redis"`. */
  readonly name: string;
  /** Why it cannot run here, or `undefined` when it can. */
  readonly missing: string | undefined;
  /** What CI must install, e.g. `apt-get install redis-server`. */
  readonly install: string;
}

/** Declares a test that needs a service; see the module's doc. */
export type ServiceTest = (
  name: string,
  fn: (t: Deno.TestContext) => Promise<void>,
  register?: Register,
) => void;

/**
 * The test declaration for tests that need a service.
 *
 * @param service the service
 * @returns `serviceTest(name, fn, register?)`: `register` (default
 *   `Deno.test`) registers the test when the service is there, e.g. another
 *   service's declaration for a test that needs both
 */
export function requiring(service: Service): ServiceTest {
  let warned = false;
  return (name, fn, register = (name, fn) => Deno.test(name, fn)) => {
    const missing = service.missing;
    if (missing === undefined) {
      register(name, fn);
    } else if (Deno.env.get("CI") === "true") {
      Deno.test(name, () => {
        assert.fail(`${missing}; CI must install it (${service.install})`);
      });
    } else {
      if (!warned) {
        warned = true;
        writeAllSync(
          Deno.stderr,
          `SKIP: ${missing}, so the ${service.name} tests are ignored (${service.install})\n`,
        );
      }
      Deno.test({ name: `${name} (ignored: ${missing})`, ignore: true, fn });
    }
  };
}
