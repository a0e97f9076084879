/**
 * \`mist admin\` (src/cli/client_admin.ts) as a user runs it: a subprocess
 * against a real server in this process, with its output and exit code.
 */

import assert from "node:assert/strict";
import { connect } from "../../mod.ts";
import { openAuthenticator } from "../../src/auth/builtin.ts";
import type { MistServer } from "../../src/server/server.ts";
import { args, runProgram } from "../_program.ts";
import { tcpServer } from "../_helpers.ts";

const ADMIN_TOKEN = "admin-secret-0001";

/** A server with authentication on, where `reader-token` may use tag `a`. */
async function authServer(): Promise<MistServer> {
  const server = await tcpServer({
    authenticator: await openAuthenticator("memory://"),
    token: ADMIN_TOKEN,
  });
  await using admin = await connect(server.addresses[0]!, {
    token: ADMIN_TOKEN,
  });
  await admin.admin.register("reader-token", ["a"]);
  return server;
}
function assertOneLine(stderr: string, pattern: RegExp): void {
  assert.equal(stderr.split("\n").filter((l) => l !== "").length, 1, stderr);
  assert.match(stderr, pattern);
}

Deno.test("mist admin manages tokens with the admin token from --token", async () => {
  await using server = await authServer();
  const admin = (...words: string[]) =>
    runProgram(
      args(["admin", ...words], {
        host: server.addresses[0]!,
        token: ADMIN_TOKEN,
      }),
    );
  const steps: [string[], number, string, RegExp | ""][] = [
    [["register", "app-token", "--tags", "b,a"], 0, "", ""],
    [["set", "app-token", "--tags", "c"], 0, "", ""],
    [["unset", "app-token", "--tags", "a"], 0, "", ""],
    [["tags", "app-token"], 0, "b,c\n", ""],
    [
      ["tags", "app-token", "--json"],
      0,
      '{"command":"tags","tags":["b","c"],"data":"app-token"}\n',
      "",
    ],
    [
      ["register", "app-token", "--tags", "a"],
      1,
      "",
      /^mist admin: token already exists\n$/,
    ],
    [["unregister", "app-token"], 0, "", ""],
    [["unregister", "app-token"], 1, "", /^mist admin: token not found\n$/],
  ];
  for (const [words, expectedCode, expectedOut, expectedErr] of steps) {
    const { code, stdout, stderr } = await admin(...words);
    assert.equal(code, expectedCode, `${words.join(" ")}: ${stderr}`);
    assert.equal(stdout, expectedOut, words.join(" "));
    if (expectedErr === "") assert.equal(stderr, "", words.join(" "));
    else assertOneLine(stderr, expectedErr);
  }
});

Deno.test("mist admin without the admin token exits 1; MIST_TOKEN stands in for --token", async () => {
  await using server = await authServer();
  const tags = (token?: string) =>
    args(["admin", "tags", "reader-token"], {
      host: server.addresses[0]!,
      token,
    });
  const refused = await runProgram(tags());
  assert.equal(refused.code, 1);
  assertOneLine(
    refused.stderr,
    /^mist admin: forbidden: admin only \(give the server's admin token in MIST_TOKEN or --token\)\n$/,
  );

  const { code, stdout, stderr } = await runProgram(tags(), {
    env: { MIST_TOKEN: ADMIN_TOKEN },
  });
  assert.equal(code, 0, stderr);
  assert.equal(stdout, "a\n");

  const notAdmin = await runProgram(tags("reader-token"));
  assert.equal(notAdmin.code, 1);
  assertOneLine(
    notAdmin.stderr,
    /^mist admin: forbidden: admin only \(the token given is not the server's admin token\)\n$/,
  );

  const wrong = await runProgram(tags("wrong-token-4242"));
  assert.equal(wrong.code, 1);
  assertOneLine(wrong.stderr, /^mist admin: invalid token\n$/);
  assert.doesNotMatch(wrong.stderr, /wrong-token-4242/);
});

Deno.test("mist admin against a server with authentication off says so", async () => {
  await using server = await tcpServer();
  for (const token of [undefined, "any-token-1234"]) {
    const { code, stderr } = await runProgram(
      args(["admin", "register", "t", "--tags", "a"], {
        host: server.addresses[0]!,
        token,
      }),
    );
    assert.equal(code, 1);
    assertOneLine(
      stderr,
      /^mist admin: forbidden: admin only \(the server has authentication off: admin commands work only on a server started with --authenticator, given its admin token\)\n$/,
    );
    assert.doesNotMatch(stderr, /any-token-1234/);
  }
});
