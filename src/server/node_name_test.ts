import assert from "node:assert/strict";
import { defaultNodeName } from "./node_name.ts";

Deno.test("defaultNodeName() is the host name and the first listener's port", async (t) => {
  const host = Deno.hostname();
  const table: [string | undefined, string][] = [
    ["tcp://127.0.0.1:1445", `${host}:1445`],
    ["ws://[::1]:8080/socket", `${host}:8080`],
    ["tls://example.com:49152", `${host}:49152`],
    [undefined, host],
    ["http://127.0.0.1", host],
    ["http://127.0.0.1:80", host],
    ["not a url", host],
  ];
  for (const [address, name] of table) {
    await t.step(`${address}`, () => {
      assert.equal(defaultNodeName(address), name);
    });
  }
});

Deno.test("defaultNodeName() names the host localhost without --allow-sys", async () => {
  const script = await Deno.makeTempFile({ suffix: ".ts" });
  try {
    const module = new URL("./node_name.ts", import.meta.url).href;
    await Deno.writeTextFile(
      script,
      `import { defaultNodeName } from ${JSON.stringify(module)};\n` +
        `console.log(defaultNodeName("tcp://127.0.0.1:1445"));\n` +
        `console.log(defaultNodeName(undefined));\n`,
    );
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-prompt", "--allow-read", script],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
    assert.equal(
      new TextDecoder().decode(output.stdout),
      "localhost:1445\nlocalhost\n",
    );
  } finally {
    await Deno.remove(script);
  }
});
