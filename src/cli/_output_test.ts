import assert from "node:assert/strict";
import { write } from "./_output.ts";

Deno.test("write() writes all of the text, however many writes that takes", () => {
  const bytes: number[] = [];
  const stream = {
    writeSync: (b: Uint8Array) => {
      bytes.push(b[0]!);
      return 1;
    },
  };
  assert.equal(write(stream, "héllo"), true);
  assert.equal(new TextDecoder().decode(new Uint8Array(bytes)), "héllo");
});

Deno.test("write() returns false once the reader has gone", () => {
  const stream = {
    writeSync: (): number => {
      throw new Deno.errors.BrokenPipe("gone");
    },
  };
  assert.equal(write(stream, "x\n"), false);
});

Deno.test("write() rethrows an error other than a broken pipe", () => {
  const stream = {
    writeSync: (): number => {
      throw new Deno.errors.PermissionDenied("no");
    },
  };
  assert.throws(() => write(stream, "x\n"), Deno.errors.PermissionDenied);
});
