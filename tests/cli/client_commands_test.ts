/**
 * The command-line client's dispatch (src/cli/client_commands.ts) as a user
 * runs it, a subprocess: help, usage errors and the exit code of a client that
 * cannot connect, and the TLS flags. Each subcommand's own behaviour is in
 * client_requests_test.ts, client_subscribe_test.ts and client_admin_test.ts.
 */

import assert from "node:assert/strict";
import { closedPort } from "../_fake_server.ts";
import { args, runProgram } from "../_program.ts";
import { tempFile } from "../_helpers.ts";
import { testCertificate } from "../_certificates.ts";
import { serve } from "../../src/server/server.ts";

function assertOneLine(stderr: string, pattern: RegExp): void {
  assert.equal(stderr.split("\n").filter((l) => l !== "").length, 1, stderr);
  assert.match(stderr, pattern);
}

// ---- exit codes of a client that cannot connect --------------------------

Deno.test("mist ping exits 3 with one line when it cannot connect", async () => {
  const port = closedPort();
  const { code, stdout, stderr } = await runProgram(
    args("ping", { host: `127.0.0.1:${port}` }),
  );
  assert.equal(code, 3);
  assert.equal(stdout, "");
  assertOneLine(
    stderr,
    new RegExp(
      `^mist ping: cannot connect: tcp://127.0.0.1:${port}: connection refused\n$`,
    ),
  );
});

Deno.test("mist subscribe exits 3 when it cannot connect", async () => {
  const { code, stderr } = await runProgram(
    args("subscribe", { host: `127.0.0.1:${closedPort()}`, tags: "a" }),
  );
  assert.equal(code, 3);
  assertOneLine(
    stderr,
    /^mist subscribe: cannot connect: .*connection refused\n$/,
  );
});

// ---- TLS ----------------------------------------------------------------------

const certificate = await testCertificate();
/** Without openssl the TLS tests are ignored, except in CI, where they fail. */
const noOpenssl = certificate === undefined && Deno.env.get("CI") !== "true";

Deno.test({
  name:
    "mist ping --ca trusts a tls:// and a wss:// server's own certificate authority",
  ignore: noOpenssl,
  async fn() {
    assert.ok(certificate, "openssl is needed to make test certificates");
    const { cert, key, caFile } = certificate;
    await using server = await serve({
      listeners: ["tls://127.0.0.1:0", "wss://127.0.0.1:0"],
      tls: { cert, key },
    });
    for (const host of server.addresses) {
      await pingWithCa(host, caFile);
    }
    // A bundle: the file may hold several certificates, only one of them the server's.
    const other = await testCertificate();
    const bundle = await tempFile(other!.ca + certificate.ca);
    try {
      await pingWithCa(server.addresses[0]!, bundle);
    } finally {
      await Deno.remove(bundle);
    }
  },
});

async function pingWithCa(host: string, caFile: string): Promise<void> {
  const trusted = await runProgram(args("ping", { host, ca: caFile }));
  assert.equal(trusted.code, 0, `${host}: ${trusted.stderr}`);
  assert.match(trusted.stdout, /^pong /);
  const untrusted = await runProgram(args("ping", { host }));
  assert.equal(untrusted.code, 3, `${host}: ${untrusted.stderr}`);
  assertOneLine(untrusted.stderr, /^mist ping: cannot connect: .*certificate/i);
}

Deno.test("mist ping --ca refuses a file it cannot read or that holds no certificate", async () => {
  const notPem = await tempFile("not a certificate\n");
  try {
    const cases: [string, RegExp][] = [
      [
        "/nonexistent/ca.pem",
        /^mist ping: cannot read --ca \/nonexistent\/ca.pem: no such file/,
      ],
      [notPem, /^mist ping: --ca .* holds no PEM certificate/],
    ];
    for (const [file, message] of cases) {
      const { code, stderr } = await runProgram(args("ping", { ca: file }));
      assert.equal(code, 2, stderr);
      assertOneLine(stderr, message);
    }
  } finally {
    await Deno.remove(notPem);
  }
});

// ---- usage --------------------------------------------------------------------

Deno.test("every client subcommand has --help", async () => {
  const runs = ["ping", "subscribe", "publish", "list", "admin"].flatMap(
    (command) => ["--help", "-h"].map((flag) => [command, flag]),
  );
  // Independent processes: run them together.
  const outputs = await Promise.all(runs.map((argv) => runProgram(argv)));
  for (const [i, { code, stdout, stderr }] of outputs.entries()) {
    const command = runs[i]![0]!;
    assert.equal(code, 0, stderr);
    assert.match(stdout, new RegExp(`^Usage: mist ${command}`));
    assert.match(stdout, /--host/);
    assert.match(
      stdout,
      /Exit codes: 0 success, 1 .*, 2 usage error,\n3 could not connect/,
    );
  }
  const { stdout } = await runProgram(["--help"]);
  assert.match(stdout, /mist ping\|subscribe\|publish\|list\|admin/);
});

Deno.test("usage errors exit 2 with one line naming the problem", async (t) => {
  const cases: [string[], RegExp][] = [
    [["ping", "--colour"], /^mist ping: Unknown option '--colour'/],
    [["ping", "--host", "udp://h:1"], /^mist ping: Unsupported scheme "udp"/],
    [["ping", "extra"], /^mist ping: Unexpected argument 'extra'/],
    [["subscribe"], /^mist subscribe: --tags is required/],
    [
      ["subscribe", "--tags", "a,,b"],
      /^mist subscribe: --tags "a,,b" has an empty tag/,
    ],
    [["publish", "--data", "x"], /^mist publish: --tags is required/],
    [["publish", "--tags", "a"], /^mist publish: --data is required/],
    [
      ["publish", "--tags", "a", "--tags", "b", "--data", "x"],
      /^mist publish: give --tags once/,
    ],
    [["list", "--tags", "a"], /^mist list: Unknown option '--tags'/],
    [["admin"], /^mist admin: an action is required/],
    [["admin", "grant", "t"], /^mist admin: unknown action "grant"/],
    [["admin", "tags"], /^mist admin: tags needs the TOKEN to act on/],
    [["admin", "register", "t"], /^mist admin: register needs --tags/],
    [
      ["admin", "tags", "t", "--tags", "a"],
      /^mist admin: tags takes no --tags/,
    ],
    [["ping", "--token", ""], /^mist ping: --token is empty/],
    [
      ["publish", "--tags", "a", "--data", "-5", "--colour"],
      /^mist publish: Unknown option '--colour'/,
    ],
  ];
  const outputs = await Promise.all(cases.map(([args]) => runProgram(args)));
  for (const [i, [args, message]] of cases.entries()) {
    await t.step(args.join(" "), () => {
      const { code, stdout, stderr } = outputs[i]!;
      assert.equal(code, 2, stderr);
      assert.equal(stdout, "");
      assertOneLine(stderr, message);
      assert.match(stderr, /\(see "mist \w+ --help"\)\n$/);
    });
  }
});
