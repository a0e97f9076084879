/**
 * Test kit for code built on mist: the conformance suites every authenticator
 * and backplane implementation runs, an in-process backplane, and a client
 * that talks to a server in memory.
 *
 * @example Talk to a server with no socket
 * ```ts
 * import assert from "node:assert/strict";
 * import { MistServer } from "@mist/mist";
 * import { MemoryClient } from "@mist/mist/testing";
 *
 * await using server = new MistServer();
 * await using client = new MemoryClient(server);
 * await client.send({ command: "ping" });
 * assert.equal((await client.next()).data, "pong");
 * ```
 *
 * @module
 */

export { MemoryClient } from "./src/testing/memory_client.ts";
export {
  authenticatorSuite,
  ODD_TOKENS,
  rejectsWith,
  type SuiteBackend,
} from "./src/testing/authenticator_suite.ts";
export {
  type BackplaneFixture,
  backplaneSuite,
  Recorder,
  type Register,
} from "./src/testing/backplane_suite.ts";
export {
  Changes,
  eventually,
  type EventuallyOptions,
  next,
  until,
  within,
} from "./src/testing/eventually.ts";
export { random } from "./src/testing/random.ts";
export { MemoryBus, MemoryLink } from "./src/cluster/backplane_memory.ts";
