import assert from "node:assert/strict";
import { writeAll, writeAllSync } from "./io.ts";

function chunked(most: number) {
  const chunks: number[][] = [];
  return {
    chunks,
    bytes: () => chunks.flat(),
    write(bytes: Uint8Array): number {
      const n = Math.min(most, bytes.length);
      chunks.push([...bytes.subarray(0, n)]);
      return n;
    },
  };
}

Deno.test("`writeAll()` writes the whole buffer however little each write takes", async (t) => {
  const bytes = new Uint8Array([1, 2, 3, 4, 5, 6, 7]);
  const table: [number, number][] = [[1, 7], [2, 4], [3, 3], [7, 1], [100, 1]];
  for (const [most, writes] of table) {
    await t.step(`${most} byte(s) at a time: ${writes} write(s)`, async () => {
      const writer = chunked(most);
      await writeAll(
        { write: (b) => Promise.resolve(writer.write(b)) },
        bytes,
      );
      assert.deepEqual(writer.bytes(), [...bytes]);
      assert.equal(writer.chunks.length, writes);
    });
  }
});

Deno.test("`writeAll()` does not write an empty buffer", async () => {
  let calls = 0;
  await writeAll({ write: () => Promise.resolve(++calls) }, new Uint8Array());
  assert.equal(calls, 0);
});

Deno.test("`writeAll()` rejects with the writer's error", async () => {
  await assert.rejects(
    writeAll(
      { write: () => Promise.reject(new Error("broken pipe")) },
      new Uint8Array([1]),
    ),
    /broken pipe/,
  );
});

Deno.test("`writeAllSync()` writes the whole buffer however little each write takes", async (t) => {
  for (const most of [1, 2, 5, 64]) {
    await t.step(`${most} byte(s) at a time`, () => {
      const writer = chunked(most);
      writeAllSync(
        { writeSync: (b) => writer.write(b) },
        new Uint8Array([9, 8, 7, 6, 5]),
      );
      assert.deepEqual(writer.bytes(), [9, 8, 7, 6, 5]);
      assert.equal(writer.chunks.length, Math.ceil(5 / most));
    });
  }
});

Deno.test("`writeAllSync()` writes text as UTF-8", () => {
  const writer = chunked(1);
  writeAllSync({ writeSync: (b) => writer.write(b) }, "hé✓");
  assert.deepEqual(
    new TextDecoder().decode(new Uint8Array(writer.bytes())),
    "hé✓",
  );
  assert.equal(writer.chunks.length, 6);
});

Deno.test("`writeAllSync()` throws the writer's error", () => {
  assert.throws(
    () =>
      writeAllSync({
        writeSync: () => {
          throw new Error("closed");
        },
      }, "x"),
    /closed/,
  );
});
