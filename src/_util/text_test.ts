import assert from "node:assert/strict";
import { bracket, errorText, positiveInteger, unbracket } from "./text.ts";

Deno.test("`errorText()` describes anything thrown", async (t) => {
  const table: [string, unknown, string][] = [
    ["an Error", new Error("boom"), "boom"],
    ["a TypeError", new TypeError("bad"), "bad"],
    ["a DOMException", new DOMException("late", "TimeoutError"), "late"],
    ["a string", "plain", "plain"],
    ["a number", 42, "42"],
    ["undefined", undefined, "undefined"],
    ["null", null, "null"],
    ["an object", { a: 1 }, "[object Object]"],
  ];
  for (const [name, err, expected] of table) {
    await t.step(name, () => assert.equal(errorText(err), expected));
  }
});

Deno.test("`positiveInteger()` returns a positive safe integer", async (t) => {
  for (const value of [1, 2, 64, Number.MAX_SAFE_INTEGER]) {
    await t.step(String(value), () => {
      assert.equal(positiveInteger("n", value), value);
    });
  }
});

Deno.test("`positiveInteger()` refuses anything else with a RangeError naming the setting", async (t) => {
  const table = [0, -1, 1.5, NaN, Infinity, Number.MAX_SAFE_INTEGER + 1];
  for (const value of table) {
    await t.step(String(value), () => {
      assert.throws(() => positiveInteger("maxTags", value), {
        name: "RangeError",
        message: `maxTags must be a positive integer, got ${value}`,
      });
    });
  }
});

Deno.test("`unbracket()` takes the brackets off an IPv6 address only", async (t) => {
  const table: [string, string][] = [
    ["[::1]", "::1"],
    ["[2001:db8::5]", "2001:db8::5"],
    ["[]", ""],
    ["localhost", "localhost"],
    ["127.0.0.1", "127.0.0.1"],
    ["::1", "::1"],
    ["[::1", "[::1"],
    ["::1]", "::1]"],
    ["", ""],
  ];
  for (const [input, expected] of table) {
    await t.step(JSON.stringify(input), () => {
      assert.equal(unbracket(input), expected);
    });
  }
});

Deno.test("`bracket()` puts brackets around an IPv6 address only", async (t) => {
  const table: [string, string][] = [
    ["::1", "[::1]"],
    ["2001:db8::5", "[2001:db8::5]"],
    ["[::1]", "[::1]"],
    ["localhost", "localhost"],
    ["127.0.0.1", "127.0.0.1"],
    ["", ""],
  ];
  for (const [input, expected] of table) {
    await t.step(JSON.stringify(input), () => {
      assert.equal(bracket(input), expected);
    });
  }
});

Deno.test("`bracket()` undoes `unbracket()` for a URL's host name", async (t) => {
  for (
    const url of [
      "tcp://[::1]:1",
      "tcp://[fe80::1]:1",
      "tcp://example.com:1",
      "tcp://10.0.0.1:1",
    ]
  ) {
    await t.step(url, () => {
      const hostname = new URL(url).hostname;
      assert.equal(bracket(unbracket(hostname)), hostname);
    });
  }
});
