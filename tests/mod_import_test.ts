/**
 * The public entry points (`mod.ts`, `testing.ts`, `cli.ts`) imported by path
 * and by `file://` URL from a project of their own, as a user who has mist on
 * disk would: the project's `deno.json` is empty, so it knows nothing of
 * mist's dependencies. Deno applies only the import map of the project it
 * runs in, never mist's `deno.json`, which is why mist names its npm
 * dependencies with full `npm:` specifiers.
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

const ENTRIES = ["mod.ts", "testing.ts", "cli.ts"] as const;
const LOCK = new URL("../deno.lock", import.meta.url);

/** A script that uses each entry point, given how it names them. */
function script(name: (entry: string) => string): string {
  const [mod, testing, cli] = ENTRIES.map((entry) =>
    JSON.stringify(name(entry))
  );
  return `import { connect, serve } from ${mod};
import { MemoryClient } from ${testing};
import { VERSION } from ${cli};

await using server = await serve({ listeners: ["tcp://127.0.0.1:0"] });
const address = server.addresses[0]!;
await using alice = await connect(address);
await using bob = await connect(address);
const subscription = await alice.subscribe(["hello"]);
await bob.publish(["hello", "world"], "hi!");
let received;
for await (const message of subscription) {
  received = { tags: message.tags, data: message.data };
  break;
}
await using memory = new MemoryClient(server);
await memory.send({ command: "ping" });
const pong = (await memory.next()).data;
console.log(JSON.stringify({ address, received, pong, version: VERSION }));
`;
}

const WAYS: Record<string, (entry: string) => string> = {
  "absolute path": (entry) =>
    fileURLToPath(new URL(`../${entry}`, import.meta.url)),
  "file:// URL": (entry) => new URL(`../${entry}`, import.meta.url).href,
};

Deno.test("the entry points import by path and by file:// URL into a project with no import map", async (t) => {
  const project = await Deno.makeTempDir({ prefix: "mist-import-" });
  try {
    await Deno.writeTextFile(`${project}/deno.json`, "{}\n");
    // The lockfile only pins versions, so that `--cached-only` needs no npm
    // metadata (a project without one would fetch it); it resolves no
    // specifier: a bare one fails with it as without it.
    await Deno.copyFile(LOCK, `${project}/deno.lock`);
    for (const [way, name] of Object.entries(WAYS)) {
      await t.step(way, async () => {
        const file = `${project}/main_${way.replace(/\W+/g, "_")}.ts`;
        await Deno.writeTextFile(file, script(name));
        const { code, stdout, stderr } = await new Deno.Command(
          Deno.execPath(),
          {
            args: ["run", "-A", "--cached-only", file],
            cwd: project,
            env: { NO_COLOR: "1" },
            stdin: "null",
            signal: AbortSignal.timeout(60_000),
          },
        ).output();
        const out = new TextDecoder().decode(stdout);
        const err = new TextDecoder().decode(stderr);
        assert.equal(code, 0, `exit code ${code}:\n${err}`);
        const report = JSON.parse(out.trim().split("\n").at(-1)!);
        const port = report.address.match(/^tcp:\/\/127\.0\.0\.1:(\d+)$/)?.[1];
        assert.ok(Number(port) > 0, `a free port, not ${report.address}`);
        assert.deepEqual(report.received, {
          tags: ["hello", "world"],
          data: "hi!",
        });
        assert.equal(report.pong, "pong");
        assert.match(report.version, /^\d+\.\d+\.\d+/);
      });
    }
  } finally {
    await Deno.remove(project, { recursive: true });
  }
});
