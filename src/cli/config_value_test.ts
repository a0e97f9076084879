import assert from "node:assert/strict";
import { ConfigError } from "./config_error.ts";
import { convertValue, type Kind, parseSize } from "./config_value.ts";

function thrown(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err;
  }
  assert.fail("did not throw");
}

Deno.test("convertValue() converts what each kind accepts", async (t) => {
  const table: [Kind, unknown, unknown][] = [
    ["boolean", true, true],
    ["boolean", false, false],
    ["boolean", " TRUE ", true],
    ["boolean", "1", true],
    ["boolean", "false", false],
    ["boolean", "0", false],
    ["string", "node-a", "node-a"],
    ["secret", "s3cret", "s3cret"],
    ["list", "tcp://a:1", ["tcp://a:1"]],
    ["list", " tcp://a:1 , ws://b:2 ,", ["tcp://a:1", "ws://b:2"]],
    ["list", ["tcp://a:1,tcp://b:2", "ws://c:3"], [
      "tcp://a:1",
      "tcp://b:2",
      "ws://c:3",
    ]],
    ["list", [], []],
    ["origins", "*", ["*"]],
    ["origins", "HTTPS://App.example.com:443, http://localhost:3000", [
      "https://app.example.com",
      "http://localhost:3000",
    ]],
    ["origins", ["http://[::1]:80"], ["http://[::1]"]],
    ["level", "debug", "DEBUG"],
    ["level", "warning", "WARN"],
    ["level", "Error", "ERROR"],
    ["format", "JSON", "json"],
    ["format", "text", "text"],
    ["count", 3, 3],
    ["count", " 42 ", 42],
    ["seconds", 0, 0],
    ["seconds", "2.5", 2.5],
    ["seconds", 3600, 3600],
    ["size", "8MiB", 8 * 1024 * 1024],
    ["size", 512, 512],
  ];
  for (const [kind, value, expected] of table) {
    await t.step(
      `${kind} ${JSON.stringify(value)} → ${JSON.stringify(expected)}`,
      () => {
        assert.deepEqual(convertValue(kind, value, "--x"), expected);
      },
    );
  }
});

Deno.test("convertValue() rejects what a kind does not accept, naming where and what it expected", async (t) => {
  const table: [Kind, unknown, string][] = [
    ["boolean", "yes", 'expected true or false, got "yes"'],
    ["boolean", 1, "expected true or false, got 1"],
    ["string", "", 'expected a non-empty string, got ""'],
    ["string", 7, "expected a non-empty string, got 7"],
    ["list", 5, "expected a list of URLs, got 5"],
    ["list", ["tcp://a:1", 2], 'expected a list of URLs, got ["tcp://a:1",2]'],
    ["list", "not a url", "expected URLs such as tcp://127.0.0.1:1445"],
    ["origins", 5, "expected a list of origins, got 5"],
    ["origins", "*,localhost:3000", '"localhost:3000" is not an origin'],
    ["origins", "https://a.example/app", '"https://a.example/app" is not an'],
    ["level", "loud", 'got "loud"'],
    ["level", 3, "got 3"],
    ["format", "xml", 'expected text or json, got "xml"'],
    ["count", 0, "expected a positive integer, got 0"],
    ["count", 1.5, "expected a positive integer, got 1.5"],
    ["count", "-1", 'expected a positive integer, got "-1"'],
    ["count", "2e3", 'expected a positive integer, got "2e3"'],
    ["seconds", -1, "expected a number of seconds from 0 to 3600, got -1"],
    ["seconds", 3601, "got 3601"],
    ["seconds", "soon", 'got "soon"'],
    ["size", "8 parsecs", "expected a size such as 1048576, 512KiB or 8MiB"],
  ];
  for (const [kind, value, message] of table) {
    await t.step(`${kind} ${JSON.stringify(value)}`, () => {
      const err = thrown(() =>
        convertValue(kind, value, '"key" in config file f.yaml')
      );
      assert.ok(
        err.message.startsWith(
          'Invalid value for "key" in config file f.yaml: ',
        ),
        err.message,
      );
      assert.ok(err.message.includes(message), err.message);
    });
  }
});

Deno.test("convertValue() never echoes a secret's value", async (t) => {
  const table: [unknown, string][] = [
    ["", "got a string"],
    [12345, "got a number"],
    [["hunter2"], "got a list"],
    [{ token: "hunter2" }, "got a object"],
  ];
  for (const [value, got] of table) {
    await t.step(JSON.stringify(value), () => {
      const err = thrown(() => convertValue("secret", value, "MIST_TOKEN"));
      assert.equal(
        err.message,
        `Invalid value for MIST_TOKEN: expected a non-empty string, ${got}`,
      );
      assert.ok(!err.message.includes("hunter2"));
      assert.ok(!err.message.includes("12345"));
    });
  }
});

Deno.test("parseSize() reads bytes and units", async (t) => {
  const table: [unknown, number | undefined][] = [
    [1, 1],
    [1048576, 1048576],
    ["1048576", 1048576],
    ["10b", 10],
    ["2kb", 2000],
    ["512KiB", 512 * 1024],
    [" 8 MiB ", 8 * 1024 ** 2],
    ["1MB", 1000 ** 2],
    ["1GB", 1000 ** 3],
    ["1gib", 1024 ** 3],
    [0, undefined],
    [-5, undefined],
    [1.5, undefined],
    [Number.MAX_SAFE_INTEGER + 1, undefined],
    ["0", undefined],
    ["0KiB", undefined],
    ["1.5MiB", undefined],
    ["-1", undefined],
    ["12 furlongs", undefined],
    ["KiB", undefined],
    ["", undefined],
    ["9999999999GiB", undefined],
    [null, undefined],
    [true, undefined],
  ];
  for (const [value, expected] of table) {
    await t.step(`${JSON.stringify(value)} → ${expected}`, () => {
      assert.equal(parseSize(value), expected);
    });
  }
});
