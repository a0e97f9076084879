/**
 * The conformance suite every backplane runs (the in-process bus, Redis): the
 * contract of `Backplane` in src/cluster/backplane.ts.
 *
 * @module
 */

import assert from "node:assert/strict";
import type {
  Backplane,
  BackplaneHandlers,
  LinkState,
} from "../cluster/backplane.ts";
import { eventually } from "./eventually.ts";

/** What a backplane implementation gives the suite. */
export interface BackplaneFixture extends AsyncDisposable {
  /** A new, unstarted backplane of the fixture's cluster. */
  attach(): Backplane;
  /** Takes the transport away from under every backplane (stop Redis, fail the bus). */
  fail(): Promise<void>;
  /** Brings the transport back. */
  restore(): Promise<void>;
}

/** Handlers that record what a backplane reports. */
export class Recorder implements BackplaneHandlers {
  /** Every payload received, in order. */
  readonly received: string[] = [];
  /** Every link state reported, in order. */
  readonly states: LinkState[] = [];
  /** The reason given with each state. */
  readonly reasons: (string | undefined)[] = [];
  /** Payloads the backplane said it lost. */
  lostCount = 0;

  /** Records a payload. */
  receive(payload: string): void {
    this.received.push(payload);
  }

  /** Records a link state. */
  state(state: LinkState, reason?: string): void {
    this.states.push(state);
    this.reasons.push(reason);
  }

  /** Counts lost payloads. */
  lost(count: number): void {
    this.lostCount += count;
  }
}

/** Registers a test, the way the implementation's tests must be registered. */
export type Register = (
  name: string,
  fn: (t: Deno.TestContext) => Promise<void>,
) => void;

/**
 * Registers the conformance tests of one backplane implementation.
 *
 * @param implementation its name, prefixed to each test's name
 * @param open makes a fresh fixture for one test
 * @param register `Deno.test`, or a wrapper that may skip
 */
export function backplaneSuite(
  implementation: string,
  open: () => Promise<BackplaneFixture>,
  register: Register = (name, fn) => Deno.test(name, fn),
): void {
  const started = async (fixture: BackplaneFixture, count: number) => {
    const nodes = Array.from({ length: count }, () => {
      const backplane = fixture.attach();
      const recorder = new Recorder();
      backplane.start(recorder);
      return { backplane, recorder };
    });
    await eventually(
      () => nodes.every(({ backplane }) => backplane.state === "up"),
      "every backplane is up",
    );
    return nodes;
  };
  const closeAll = async (nodes: { backplane: Backplane }[]) => {
    for (const { backplane } of nodes) await backplane.close();
  };

  register(
    `${implementation}: \`start()\` links by itself and reports \`up\` once`,
    async () => {
      await using fixture = await open();
      const nodes = await started(fixture, 1);
      const { backplane, recorder } = nodes[0]!;
      assert.deepEqual(recorder.states, ["up"]);
      assert.throws(() => backplane.start(new Recorder()), /already started/);
      assert.doesNotMatch(backplane.description, /:[^/@]*@/, "no credentials");
      await closeAll(nodes);
    },
  );

  register(
    `${implementation}: a payload reaches every node, the publisher's included, in publish order`,
    async () => {
      await using fixture = await open();
      const nodes = await started(fixture, 3);
      const [a, b] = nodes as [typeof nodes[0], typeof nodes[0]];
      for (let i = 0; i < 500; i++) {
        assert.equal(a.backplane.publish(`a${i}`), true);
        assert.equal(b.backplane.publish(`b${i}`), true);
      }
      for (const { recorder } of nodes) {
        await eventually(
          () => recorder.received.length >= 1000,
          "every payload arrived",
        );
        const expect = (prefix: string) =>
          Array.from({ length: 500 }, (_, i) => `${prefix}${i}`);
        assert.deepEqual(
          recorder.received.filter((p) => p.startsWith("a")),
          expect("a"),
        );
        assert.deepEqual(
          recorder.received.filter((p) => p.startsWith("b")),
          expect("b"),
        );
      }
      await closeAll(nodes);
      for (const { recorder } of nodes) {
        assert.equal(recorder.received.length, 1000, "nothing more");
        assert.equal(recorder.lostCount, 0);
      }
    },
  );

  register(
    `${implementation}: payloads arrive intact, large and small`,
    async () => {
      await using fixture = await open();
      const nodes = await started(fixture, 2);
      const payloads = [
        "",
        '{"kind":"message","data":"line\\nbreak \\u2603 ☃ ünï"}',
        "x".repeat(1 << 20),
        "tail",
      ];
      for (const payload of payloads) {
        assert.equal(nodes[0]!.backplane.publish(payload), true);
      }
      const { recorder } = nodes[1]!;
      await eventually(
        () => recorder.received.length >= payloads.length,
        "every payload arrived",
      );
      assert.deepEqual(recorder.received, payloads);
      await closeAll(nodes);
    },
  );

  register(
    `${implementation}: while the transport is down \`publish()\` refuses at once, and the link comes back by itself`,
    async () => {
      await using fixture = await open();
      const nodes = await started(fixture, 2);
      const [a, b] = nodes as [typeof nodes[0], typeof nodes[0]];
      await fixture.fail();
      await eventually(
        () => a.backplane.state === "down" && b.backplane.state === "down",
        "both links are down",
      );
      assert.equal(a.backplane.publish("while down"), false);
      assert.equal(a.recorder.states.at(-1), "down");
      assert.equal(typeof a.recorder.reasons.at(-1), "string", "a reason");
      await fixture.restore();
      await eventually(
        () => a.backplane.state === "up" && b.backplane.state === "up",
        "both links are up again",
      );
      // Once per change: the states alternate. (A Redis that is shutting down
      // may still accept a connection, so more than one down/up is possible.)
      const states = a.recorder.states;
      assert.deepEqual(states.slice(0, 2), ["up", "down"]);
      assert.equal(states.at(-1), "up");
      assert.ok(
        states.every((s, i) => i === 0 || s !== states[i - 1]),
        `${states}`,
      );
      assert.equal(a.backplane.publish("after"), true);
      await eventually(
        () => b.recorder.received.includes("after"),
        "a payload after the relink arrived",
      );
      assert.ok(!b.recorder.received.includes("while down"));
      await closeAll(nodes);
    },
  );

  register(
    `${implementation}: \`close()\` is idempotent, and a closed backplane refuses and reports nothing`,
    async () => {
      await using fixture = await open();
      const nodes = await started(fixture, 2);
      const [a, b] = nodes as [typeof nodes[0], typeof nodes[0]];
      await a.backplane.close();
      await a.backplane.close();
      assert.equal(a.backplane.state, "down");
      assert.equal(a.backplane.publish("x"), false);
      assert.deepEqual(a.recorder.states, ["up"]);
      b.backplane.publish("to a closed node");
      await eventually(
        () => b.recorder.received.length === 1,
        "the publisher got its own payload",
      );
      assert.deepEqual(a.recorder.received, []);
      await b.backplane.close();
    },
  );
}
