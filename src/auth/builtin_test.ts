import assert from "node:assert/strict";
import { join } from "node:path";
import { BUILTIN_AUTHENTICATORS, openAuthenticator } from "./builtin.ts";
import { MemoryAuthenticator } from "./memory.ts";
import { ScribbleAuthenticator } from "./scribble.ts";

const decoder = new TextDecoder();

Deno.test("`openAuthenticator()` opens `memory://` and `scribble://` once builtin.ts is imported", async () => {
  const memory = await openAuthenticator("memory://");
  assert.ok(memory instanceof MemoryAuthenticator);
  await memory.close();
  const dir = await Deno.makeTempDir();
  try {
    const scribble = await openAuthenticator(`scribble://?db=${dir}/db`);
    assert.ok(scribble instanceof ScribbleAuthenticator);
    assert.equal(scribble.dir, `${dir}/db`);
    await scribble.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("`openAuthenticator()` names the built-in schemes when it does not know one", async () => {
  await assert.rejects(
    openAuthenticator("redis://127.0.0.1"),
    (err: Error) => {
      assert.match(err.message, /^Unknown authenticator scheme "redis"/);
      for (const scheme of BUILTIN_AUTHENTICATORS) {
        assert.ok(err.message.includes(`${scheme}://`), scheme);
      }
      return true;
    },
  );
});

Deno.test("postgres.js is loaded only when a `postgres:` URI is opened", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // The same configuration, except that postgres.js fails when evaluated.
    const config = JSON.parse(
      await Deno.readTextFile(new URL("../../deno.json", import.meta.url)),
    );
    // The npm: specifier mist imports, as written in postgres.ts.
    const postgres = (await Deno.readTextFile(
      new URL("./postgres.ts", import.meta.url),
    )).match(/from "(npm:postgres@[^"]+)"/)?.[1];
    assert.ok(postgres, "postgres.ts imports postgres.js by an npm: specifier");
    config.imports = { [postgres]: new URL(`file://${dir}/poison.js`).href };
    delete config.lock;
    await Deno.writeTextFile(join(dir, "deno.json"), JSON.stringify(config));
    await Deno.writeTextFile(
      join(dir, "poison.js"),
      'export default null;\nthrow new Error("postgres.js was loaded");\n',
    );
    await Deno.writeTextFile(
      join(dir, "main.ts"),
      `import { openAuthenticator } from ${
        JSON.stringify(new URL("./builtin.ts", import.meta.url).href)
      };
const auth = await openAuthenticator("memory://");
await auth.addToken("t", ["a"]);
await auth.close();
Deno.stdout.writeSync(new TextEncoder().encode("memory ok\\n"));
await openAuthenticator("postgres://127.0.0.1:1?db=x").catch((err) =>
  Deno.stdout.writeSync(new TextEncoder().encode(err.message + "\\n"))
);
`,
    );
    const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-all",
        "--no-lock",
        "--config",
        join(dir, "deno.json"),
        join(dir, "main.ts"),
      ],
      stdin: "null",
    }).output();
    assert.equal(code, 0, decoder.decode(stderr));
    assert.equal(
      decoder.decode(stdout),
      "memory ok\npostgres.js was loaded\n",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
