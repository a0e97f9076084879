/**
 * The command-line client as a user runs it: each subcommand as a subprocess,
 * against a real server in this process,
 * with its output and exit code.
 */

import assert from "node:assert/strict";
import { connect } from "../../mod.ts";
import { openAuthenticator } from "../../src/auth/builtin.ts";
import type { MistServer } from "../../src/server/server.ts";
import { closedPort } from "../_fake_server.ts";
import { args, Program, runProgram } from "../_program.ts";
import { next, tcpServer, tempFile } from "../_helpers.ts";
import { testCertificate } from "../_certificates.ts";
import { serve } from "../../src/server/server.ts";

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

// ---- ping ---------------------------------------------------------------------

Deno.test("mist ping prints pong and the round-trip time", async () => {
  await using server = await tcpServer();
  const { port } = new URL(server.addresses[0]!);
  for (const host of [server.addresses[0]!, `127.0.0.1:${port}`]) {
    const { code, stdout, stderr } = await runProgram(["ping", "--host", host]);
    assert.equal(code, 0, stderr);
    assert.match(stdout, /^pong \d+\.\d ms\n$/);
    assert.equal(stderr, "");
  }
  const json = await runProgram(
    args("ping", { host: server.addresses[0]!, json: true }),
  );
  assert.equal(json.code, 0, json.stderr);
  const message = JSON.parse(json.stdout);
  assert.deepEqual({ ...message, ms: 0 }, {
    command: "ping",
    tags: [],
    data: "pong",
    ms: 0,
  });
  assert.ok(typeof message.ms === "number" && message.ms >= 0);
});

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

// ---- publish ------------------------------------------------------------------

Deno.test("mist publish sends one message and prints nothing", async () => {
  await using server = await tcpServer();
  await using client = await connect(server.addresses[0]!);
  const sub = await client.subscribe(["a", "b"]);
  const { code, stdout, stderr } = await runProgram(
    args("publish", {
      host: server.addresses[0]!,
      tags: "b, a,c",
      data: "hello world",
    }),
  );
  assert.equal(code, 0, stderr);
  assert.equal(stdout + stderr, "");
  assert.deepEqual(await next(sub[Symbol.asyncIterator]()), {
    command: "publish",
    tags: ["a", "b", "c"],
    data: "hello world",
  });
});

Deno.test("mist publish --data - publishes each line of standard input", async () => {
  await using server = await tcpServer();
  await using client = await connect(server.addresses[0]!);
  const sub = await client.subscribe(["lines"]);
  const { code, stderr } = await runProgram(
    args("publish", { host: server.addresses[0]!, tags: "lines", data: "-" }),
    { input: ["first\nsecond\r\n\nlast without newline"] },
  );
  assert.equal(code, 0, stderr);
  const iterator = sub[Symbol.asyncIterator]();
  const got: string[] = [];
  for (let i = 0; i < 4; i++) got.push((await next(iterator)).data);
  assert.deepEqual(got, ["first", "second", "", "last without newline"]);
});

Deno.test("mist publish exits 1 with the server's error", async () => {
  await using server = await tcpServer({ limits: { maxTags: 2 } });
  const { code, stdout, stderr } = await runProgram(
    args("publish", { host: server.addresses[0]!, tags: "a,b,c", data: "x" }),
  );
  assert.equal(code, 1);
  assert.equal(stdout, "");
  assertOneLine(stderr, /^mist publish: too many tags: 3 > 2\n$/);
});

Deno.test("mist publish --data - stops at the first error and exits 1", async () => {
  await using server = await tcpServer({ limits: { maxMessageBytes: 64 } });
  const { code, stderr } = await runProgram(
    args("publish", { host: server.addresses[0]!, tags: "a", data: "-" }),
    {
      input: [`short\n${"x".repeat(100)}\n`, "short again\n", "and again\n"],
      pauseMs: 200,
    },
  );
  assert.equal(code, 1);
  assertOneLine(stderr, /^mist publish: message too large\n$/);
});

// ---- subscribe ----------------------------------------------------------------

Deno.test("mist subscribe prints each message's data once, and exits 0 on SIGINT", async () => {
  await using server = await tcpServer();
  await using publisher = await connect(server.addresses[0]!);
  await using running = new Program(
    args("subscribe", { host: server.addresses[0]!, tags: ["a,b", "c"] }),
  );
  await running.waitFor(/^mist subscribe: subscribed to a,b and c$/, {
    stream: "stderr",
  });
  await publisher.publish(["a"], "not for it");
  await publisher.publish(["b", "a"], "one");
  await publisher.publish(["a", "b", "c"], "two: both match, printed once");
  await publisher.publish(["c"], "three");
  await running.waitFor(/^three$/, { stream: "stdout" });
  assert.equal((await running.stop("SIGINT")).code, 0);
  assert.deepEqual(running.stdout, [
    "one",
    "two: both match, printed once",
    "three",
  ]);
  assert.deepEqual(running.stderr, ["mist subscribe: subscribed to a,b and c"]);
});

Deno.test("mist subscribe --json prints whole messages, one JSON line each", async () => {
  await using server = await tcpServer();
  await using publisher = await connect(server.addresses[0]!);
  await using running = new Program(
    args("subscribe", { host: server.addresses[0]!, tags: "news", json: true }),
  );
  await running.waitFor(/subscribed to news/, { stream: "stderr" });
  await publisher.publish(["news", "today"], "line one\nline two");
  await running.waitFor(/today/, { stream: "stdout" });
  assert.equal((await running.stop("SIGTERM")).code, 0);
  assert.deepEqual(running.stdout.map((line) => JSON.parse(line)), [
    { command: "publish", tags: ["news", "today"], data: "line one\nline two" },
  ]);
});

Deno.test("mist subscribe reconnects when the server restarts, and says so", async () => {
  const first = await tcpServer();
  const url = first.addresses[0]!;
  const { port } = new URL(url);
  await using running = new Program(
    args("subscribe", { host: url, tags: "x" }),
  );
  await running.waitFor(/subscribed to x/, { stream: "stderr" });
  await first.close();
  await running.waitFor(
    /connection closed: lost the connection.*; reconnecting$/,
    { stream: "stderr" },
  );
  await using second = await tcpServer({
    listeners: [`tcp://127.0.0.1:${port}`],
  });
  await running.waitFor(
    /reconnected after \d+\.\d s; messages published meanwhile were lost/,
    { stream: "stderr" },
  );
  await using publisher = await connect(second.addresses[0]!);
  await publisher.publish(["x"], "after the restart");
  await running.waitFor(/^after the restart$/, { stream: "stdout" });
  assert.equal((await running.stop("SIGINT")).code, 0);
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

// ---- list ---------------------------------------------------------------------

Deno.test("mist list prints the connection's subscriptions (none) and --json the reply", async () => {
  await using server = await tcpServer();
  const plain = await runProgram(args("list", { host: server.addresses[0]! }));
  assert.equal(plain.code, 0, plain.stderr);
  assert.equal(plain.stdout, "");
  const json = await runProgram(
    args("list", { host: server.addresses[0]!, json: true }),
  );
  assert.equal(json.code, 0, json.stderr);
  assert.equal(json.stdout, '{"command":"list","tags":[],"data":"[]"}\n');
});

// ---- admin --------------------------------------------------------------------

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
