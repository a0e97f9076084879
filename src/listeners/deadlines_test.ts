import assert from "node:assert/strict";
import { Deadlines } from "./deadlines.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

Deno.test("Deadlines close what is late, not what was cleared or armed again, and stop their timer once none is armed", async () => {
  const deadlines = new Deadlines();
  const closed: string[] = [];
  const conn = (name: string) => ({ close: () => closed.push(name) });
  const late = conn("late"), cleared = conn("cleared"), moved = conn("moved");
  deadlines.arm(late, 40);
  deadlines.arm(cleared, 40);
  deadlines.arm(moved, 40);
  deadlines.clear(cleared);
  await sleep(20);
  deadlines.arm(moved, 200);
  await sleep(60);
  assert.deepEqual(closed, ["late"]);
  deadlines.clear(moved);
  // Nothing armed: the timer stops by itself (the test's sanitizer would
  // report a timer left running).
  await sleep(300);
  assert.deepEqual(closed, ["late"]);
  deadlines.arm(conn("off"), 0); // no deadline
});
