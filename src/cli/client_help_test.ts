import assert from "node:assert/strict";
import { DEFAULT_ADDRESS } from "../client/address.ts";
import { CLIENT_HELP } from "./client_help.ts";

Deno.test("CLIENT_HELP has the help of each client subcommand", () => {
  assert.deepEqual(Object.keys(CLIENT_HELP).sort(), [
    "admin",
    "bench",
    "list",
    "ping",
    "publish",
    "subscribe",
  ]);
});

Deno.test("CLIENT_HELP texts", async (t) => {
  for (const [command, text] of Object.entries(CLIENT_HELP)) {
    await t.step(
      `${command}: a usage line, the common flags, the exit codes`,
      () => {
        assert.ok(text.startsWith(`Usage: mist ${command}`), text);
        assert.ok(text.endsWith("\n"));
        for (const flag of ["--host", "--token", "--json", "-h, --help"]) {
          assert.ok(text.includes(flag), `${command} ${flag}`);
        }
        assert.ok(text.includes(`(default ${DEFAULT_ADDRESS})`));
        assert.match(
          text,
          command === "bench"
            ? /Exit codes: 0 done, 1 the run failed, 2 usage error, 3 could not connect\./
            : /Exit codes: 0 success, 1 the server answered with an error, 2 usage error,\s+3 could not connect\./,
        );
      },
    );
  }
});

Deno.test("CLIENT_HELP names each subcommand's own flags and actions", async (t) => {
  const table: [string, string[]][] = [
    ["subscribe", ["--tags a,b", "Ctrl-C exits 0", "Reconnects"]],
    ["publish", ["--tags a,b", "--data TEXT", `"-" reads standard input`]],
    ["ping", ["pong", '"ms"']],
    ["list", ['"a,b"']],
    ["admin", [
      "register TOKEN --tags a,b",
      "unregister TOKEN",
      "set TOKEN --tags a,b",
      "unset TOKEN --tags a,b",
      "tags TOKEN",
    ]],
  ];
  for (const [command, needles] of table) {
    await t.step(command, () => {
      for (const needle of needles) {
        assert.ok(CLIENT_HELP[command]!.includes(needle), needle);
      }
    });
  }
});
