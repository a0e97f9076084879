import assert from "node:assert/strict";
import { ConfigError } from "./config_error.ts";
import { readConfigFile, readTokenFile } from "./config_file.ts";

async function rejected(promise: Promise<unknown>): Promise<ConfigError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err;
  }
  assert.fail("did not reject");
}

async function withFile(
  text: string,
  fn: (path: string, dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/file`;
    await Deno.writeTextFile(path, text);
    await fn(path, dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("readConfigFile() returns the file's mapping of keys", async () => {
  await withFile(
    "max-tags: 8\nlisten:\n  - tcp://127.0.0.1:0\n",
    async (path) => {
      assert.deepEqual(await readConfigFile(path), {
        "max-tags": 8,
        listen: ["tcp://127.0.0.1:0"],
      });
    },
  );
});

Deno.test("readConfigFile() reads an empty file as no keys", async (t) => {
  for (const text of ["", "\n", "# only a comment\n", "~\n"]) {
    await t.step(JSON.stringify(text), async () => {
      await withFile(text, async (path) => {
        assert.deepEqual(await readConfigFile(path), {});
      });
    });
  }
});

Deno.test("readConfigFile() rejects a file that is not a mapping", async (t) => {
  for (const text of ["- a\n- b\n", "42\n", "just text\n"]) {
    await t.step(JSON.stringify(text), async () => {
      await withFile(text, async (path) => {
        const err = await rejected(readConfigFile(path));
        assert.equal(
          err.message,
          `Config file ${path} must be a mapping of keys`,
        );
      });
    });
  }
});

Deno.test("readConfigFile() names the line and column of bad YAML", async () => {
  await withFile("a: 1\nb: [1, 2\n", async (path) => {
    const err = await rejected(readConfigFile(path));
    assert.ok(
      err.message.startsWith(`Config file ${path} is not valid YAML: `),
      err.message,
    );
    assert.match(err.message, /line \d+, column \d+/);
    assert.equal(err.message, err.message.trimEnd());
  });
});

Deno.test("readConfigFile() says why a file cannot be read", async () => {
  await withFile("", async (_path, dir) => {
    const missing = `${dir}/missing.yaml`;
    assert.equal(
      (await rejected(readConfigFile(missing))).message,
      `Cannot read config file ${missing}: no such file`,
    );
    assert.equal(
      (await rejected(readConfigFile(dir))).message,
      `Cannot read config file ${dir}: a directory`,
    );
  });
});

Deno.test("readTokenFile() returns the token without trailing line breaks", async (t) => {
  const table: [string, string][] = [
    ["tok-1", "tok-1"],
    ["tok-1\n", "tok-1"],
    ["tok-1\r\n", "tok-1"],
    ["tok-1\n\n\r\n", "tok-1"],
    ["  spaced tok  \n", "  spaced tok  "],
  ];
  for (const [text, token] of table) {
    await t.step(JSON.stringify(text), async () => {
      await withFile(text, async (path) => {
        assert.equal(await readTokenFile(path, "--token-file"), token);
      });
    });
  }
});

Deno.test("readTokenFile() rejects an empty or many-line file without showing it", async (t) => {
  const table: [string, string][] = [
    ["", "is empty"],
    ["\n\n", "is empty"],
    ["   \n", "is empty"],
    ["secret-a\nsecret-b\n", "must hold the token on one line"],
    ["secret-a\r\nsecret-b", "must hold the token on one line"],
  ];
  for (const [text, problem] of table) {
    await t.step(JSON.stringify(text), async () => {
      await withFile(text, async (path) => {
        const err = await rejected(readTokenFile(path, "token-file"));
        assert.equal(err.message, `The file of token-file ${path} ${problem}`);
        assert.ok(!err.message.includes("secret"));
      });
    });
  }
});

Deno.test("readTokenFile() says why a file cannot be read, naming the key", async () => {
  await withFile("", async (_path, dir) => {
    const missing = `${dir}/missing`;
    assert.equal(
      (await rejected(readTokenFile(missing, "--token-file"))).message,
      `Cannot read --token-file ${missing}: no such file`,
    );
    assert.equal(
      (await rejected(readTokenFile(dir, "MIST_TOKEN_FILE"))).message,
      `Cannot read MIST_TOKEN_FILE ${dir}: a directory`,
    );
  });
});
