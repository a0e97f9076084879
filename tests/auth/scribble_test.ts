import assert from "node:assert/strict";
import { join } from "node:path";
import {
  authenticatorSuite,
  ODD_TOKENS,
  rejectsWith,
} from "../../src/testing/authenticator_suite.ts";
import { tokenDigest } from "../../src/auth/authenticator.ts";
import { captureLogs } from "../_logs.ts";
import {
  openScribble,
  ScribbleAuthenticator,
  scribbleDir,
} from "../../src/auth/scribble.ts";

const TOKEN_FILE = /^[0-9a-f]{64}\.json$/;

/** A temp directory removed, with everything in it, on dispose. */
async function tempDir(): Promise<AsyncDisposable & { path: string }> {
  const path = await Deno.makeTempDir({ prefix: "mist_scribble_" });
  return {
    path,
    [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }),
  };
}

/** Every path under `root`, relative to it, sorted. */
async function tree(root: string, prefix = ""): Promise<string[]> {
  const paths: string[] = [];
  for await (const entry of Deno.readDir(join(root, prefix))) {
    const path = prefix === "" ? entry.name : `${prefix}/${entry.name}`;
    paths.push(path);
    if (entry.isDirectory) paths.push(...await tree(root, path));
  }
  return paths.sort();
}

Deno.test("`scribble://` passes the authenticator suite", async (t) => {
  await using root = await tempDir();
  let n = 0;
  await authenticatorSuite(t, {
    open: () => openScribble(new URL(`scribble://?db=${root.path}/db${n++}`)),
  });
});

Deno.test("`scribbleDir()` reads the directory from `db` or from the path", async (t) => {
  const cwd = Deno.cwd();
  const table: [string, string][] = [
    ["scribble://?db=/var/lib/mist", "/var/lib/mist"],
    ["scribble:///var/lib/mist", "/var/lib/mist"],
    ["scribble:///?db=/var/lib/mist", "/var/lib/mist"],
    ["scribble:///var/lib/mist?db=/var/lib/mist/", "/var/lib/mist"],
    ["scribble:///with%20space", "/with space"],
    ["scribble://?db=/tmp/a%26b", "/tmp/a&b"],
    ["scribble://?db=relative/dir", join(cwd, "relative/dir")],
  ];
  for (const [uri, dir] of table) {
    await t.step(uri, () => {
      assert.equal(scribbleDir(new URL(uri)), dir);
    });
  }
});

Deno.test("`scribbleDir()` refuses a URI without one clear directory", async (t) => {
  const table: [string, RegExp][] = [
    ["scribble://", /names no directory/],
    ["scribble:///", /names no directory/],
    ["scribble://?db=", /names no directory/],
    ["scribble://somehost/dir", /names a host "somehost"/],
    ["scribble:///a?db=/b", /two directories, "\/a" and "\/b"/],
    ["scribble://?db=/a&dir=/b", /Unknown parameter "dir"/],
  ];
  for (const [uri, message] of table) {
    await t.step(uri, () => {
      assert.throws(() => scribbleDir(new URL(uri)), message);
    });
  }
});

Deno.test("`ScribbleAuthenticator.open()` creates a missing directory", async () => {
  await using root = await tempDir();
  const dir = join(root.path, "a", "b");
  await using auth = await ScribbleAuthenticator.open(dir);
  assert.equal(auth.dir, dir);
  assert.ok((await Deno.stat(dir)).isDirectory);
  assert.equal(await auth.healthy(), true);
});

Deno.test("a restart with the same directory keeps every token", async () => {
  await using root = await tempDir();
  const dir = join(root.path, "db");
  {
    await using auth = await ScribbleAuthenticator.open(dir);
    for (const [i, token] of ODD_TOKENS.entries()) {
      await auth.addToken(token, [`tag${i}`, "shared"]);
    }
    await auth.addToken("empty", []);
    await auth.addToken("removed", ["x"]);
    await auth.removeToken("removed");
    await auth.addTags(ODD_TOKENS[0]!, ["added"]);
    await auth.removeTags(ODD_TOKENS[1]!, ["shared"]);
  }
  await using auth = await ScribbleAuthenticator.open(dir);
  for (const [i, token] of ODD_TOKENS.entries()) {
    const expected = i === 0
      ? ["added", "shared", "tag0"]
      : i === 1
      ? ["tag1"]
      : ["shared", `tag${i}`];
    assert.deepEqual(await auth.getTags(token), expected, `token #${i}`);
  }
  assert.deepEqual(await auth.getTags("empty"), []);
  assert.equal(await auth.getTags("removed"), undefined);
  assert.equal((await tree(dir)).length, ODD_TOKENS.length + 1);
});

Deno.test("token files appear only in the directory, named by digest, whatever the token", async () => {
  await using root = await tempDir();
  const dir = join(root.path, "db");
  await using auth = await ScribbleAuthenticator.open(dir);
  for (const token of ODD_TOKENS) await auth.addToken(token, ["t"]);
  // Nothing escaped into the parent, nothing nested inside.
  assert.deepEqual(await tree(root.path), [
    "db",
    ...ODD_TOKENS.map((t) => `db/${tokenDigest(t)}.json`).sort(),
  ]);
  for (const name of await tree(dir)) assert.match(name, TOKEN_FILE);
  // Only the owner may read them.
  const { mode } = await Deno.stat(join(dir, `${tokenDigest("/")}.json`));
  assert.equal(mode! & 0o777, 0o600);
});

Deno.test("neither file names nor contents contain a token", async () => {
  await using root = await tempDir();
  await using auth = await ScribbleAuthenticator.open(root.path);
  const tokens = [
    `s3cret-${crypto.randomUUID()}`,
    `../${crypto.randomUUID()}`,
    `${crypto.randomUUID()}/..`,
    `ключ-${crypto.randomUUID()}`,
    crypto.randomUUID().repeat(120), // over 4 KiB
  ];
  for (const token of tokens) {
    await auth.addToken(token, ["news", "sport"]);
    await auth.addTags(token, ["weather"]);
    await auth.removeTags(token, ["sport"]);
  }
  const names = await tree(root.path);
  assert.equal(names.length, tokens.length);
  for (const name of names) {
    const text = await Deno.readTextFile(join(root.path, name));
    assert.deepEqual(JSON.parse(text), { tags: ["news", "weather"] });
    for (const token of tokens) {
      assert.ok(!name.includes(token));
      assert.ok(!text.includes(token));
    }
  }
});

Deno.test("concurrent updates from many callers all reach the disk", async () => {
  await using root = await tempDir();
  const tokens = Array.from({ length: 10 }, (_, i) => `token${i}`);
  const tags = Array.from({ length: 20 }, (_, i) => `tag${i}`);
  {
    await using auth = await ScribbleAuthenticator.open(root.path);
    await Promise.all(tokens.map((token) => auth.addToken(token, ["gone"])));
    await Promise.all(
      tokens.flatMap((token) => [
        ...tags.map((tag) => auth.addTags(token, [tag])),
        auth.removeTags(token, ["gone"]),
      ]),
    );
  }
  await using auth = await ScribbleAuthenticator.open(root.path);
  for (const token of tokens) {
    assert.deepEqual(await auth.getTags(token), [...tags].sort());
  }
  // No temp file is left behind.
  assert.equal((await tree(root.path)).length, tokens.length);
});

Deno.test("a corrupt file at start-up is logged with its path and skipped; the rest loads", async () => {
  await using root = await tempDir();
  {
    await using auth = await ScribbleAuthenticator.open(root.path);
    await auth.addToken("good1", ["a"]);
    await auth.addToken("good2", ["b", "c"]);
  }
  const corrupt = {
    [tokenDigest("bad-json")]: "{not json",
    [tokenDigest("bad-shape")]: '{"tags":[1,2]}',
    [tokenDigest("bad-array")]: '["a"]',
    [tokenDigest("bad-utf8")]: new Uint8Array([0x7b, 0xff, 0x7d]),
    [tokenDigest("empty")]: "",
  };
  const corruptPaths: string[] = [];
  for (const [digest, contents] of Object.entries(corrupt)) {
    const path = join(root.path, `${digest}.json`);
    corruptPaths.push(path);
    if (typeof contents === "string") await Deno.writeTextFile(path, contents);
    else await Deno.writeFile(path, contents);
  }
  // What a crash mid-write leaves, and files that are none of ours: ignored.
  const temp = `.${tokenDigest("x")}.${crypto.randomUUID()}.tmp`;
  await Deno.writeTextFile(join(root.path, temp), '{"tags":["trunc');
  await Deno.writeTextFile(join(root.path, "README"), "not a token");
  await Deno.mkdir(join(root.path, `${tokenDigest("dir")}.json`));

  const { records, result } = await captureLogs(() =>
    ScribbleAuthenticator.open(root.path)
  );
  await using opened = result;
  const errors = records.filter((r) => r.level === "error");
  assert.deepEqual(
    errors.map((r) => r.properties.path).sort(),
    corruptPaths.sort(),
  );
  for (const record of errors) {
    assert.match(String(record.rawMessage), /corrupt token file/);
  }
  assert.deepEqual(await opened.getTags("good1"), ["a"]);
  assert.deepEqual(await opened.getTags("good2"), ["b", "c"]);
  assert.equal(await opened.getTags("bad-json"), undefined);
  // Registering a token whose file was corrupt replaces that file.
  await opened.addToken("bad-json", ["fixed"]);
  assert.deepEqual(
    JSON.parse(
      await Deno.readTextFile(
        join(root.path, `${tokenDigest("bad-json")}.json`),
      ),
    ),
    { tags: ["fixed"] },
  );
});

Deno.test("a change that cannot be written is `authenticator unavailable` and changes nothing", async () => {
  await using root = await tempDir();
  const dir = join(root.path, "db");
  const auth = await ScribbleAuthenticator.open(dir);
  try {
    await auth.addToken("t1", ["a"]);
    await Deno.remove(dir, { recursive: true });
    assert.equal(await auth.healthy(), false);
    const { records } = await captureLogs(async () => {
      await rejectsWith(auth.addTags("t1", ["b"]), "authenticator_unavailable");
      await rejectsWith(
        auth.addToken("t2", ["b"]),
        "authenticator_unavailable",
      );
    });
    assert.equal(records.filter((r) => r.level === "error").length, 2);
    assert.deepEqual(await auth.getTags("t1"), ["a"]);
    assert.equal(await auth.getTags("t2"), undefined);
  } finally {
    await auth.close();
  }
});
