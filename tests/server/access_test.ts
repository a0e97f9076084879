/**
 * Authentication and permissions end to end (docs/protocol.md §4): every row over
 * real sockets, on TCP, WebSocket and HTTP.
 */

import assert from "node:assert/strict";
import { openAuthenticator } from "../../src/auth/builtin.ts";
import type { MistServer } from "../../src/server/server.ts";
import { args, runProgram, ServerProcess } from "../_program.ts";
import {
  addressOf,
  allServer,
  EventStreamClient,
  eventually,
  hostPort,
  LineClient,
  type ProtocolClient,
  writeAll,
  WsClient,
} from "../_helpers.ts";

const ADMIN = "admin-secret";
const PONG = { command: "ping", tags: [], data: "pong" };

async function authServer(): Promise<MistServer> {
  return await allServer({
    authenticator: await openAuthenticator("memory://"),
    token: ADMIN,
  });
}

/** A TCP connection that authenticated with a token. */
async function tcpAs(server: MistServer, token?: string): Promise<LineClient> {
  const client = await LineClient.connect(addressOf(server, "tcp"));
  if (token !== undefined) {
    assert.deepEqual(
      await client.request({ command: "auth", data: token, id: "auth" }),
      {
        command: "auth",
        id: "auth",
        tags: [],
        data: "ok",
      },
    );
  }
  return client;
}

/** Registers a token through an admin connection. */
async function register(
  server: MistServer,
  token: string,
  tags: string[],
): Promise<void> {
  await using admin = await tcpAs(server, ADMIN);
  assert.equal(
    (await admin.request({ command: "register", tags, data: token, id: 1 }))
      .data,
    "ok",
  );
}

const forbidden = (command: string, tags: string[], missing: string[]) => ({
  command,
  tags,
  error: `forbidden: not granted ${JSON.stringify(missing)}`,
});

Deno.test("admin commands register, change, show and remove tokens", async (t) => {
  await using server = await authServer();
  await using admin = await tcpAs(server, ADMIN);
  await t.step("register has no reply; a second one is refused", async () => {
    await admin.send({
      command: "register",
      tags: ["user:42"],
      data: "user42",
    });
    assert.deepEqual(await admin.sync(), []);
    assert.deepEqual(
      await admin.request({ command: "register", tags: ["x"], data: "user42" }),
      {
        command: "register",
        tags: ["x"],
        error: "token already exists",
      },
    );
  });
  await t.step(
    "tags shows the token's tags, sorted, with the token",
    async () => {
      assert.deepEqual(
        await admin.request({ command: "tags", data: "user42" }),
        {
          command: "tags",
          tags: ["user:42"],
          data: "user42",
        },
      );
    },
  );
  await t.step("set adds tags, unset removes them", async () => {
    await admin.send({ command: "set", tags: ["room:1", "a"], data: "user42" });
    assert.deepEqual(
      (await admin.request({ command: "tags", data: "user42" })).tags,
      [
        "a",
        "room:1",
        "user:42",
      ],
    );
    await admin.send({
      command: "unset",
      tags: ["a", "never-granted"],
      data: "user42",
    });
    assert.deepEqual(
      (await admin.request({ command: "tags", data: "user42" })).tags,
      [
        "room:1",
        "user:42",
      ],
    );
  });
  await t.step("unregister removes the token", async () => {
    await admin.send({ command: "unregister", data: "user42" });
    assert.deepEqual(await admin.sync(), []);
  });
  await t.step(
    "every admin command on a missing token: token not found",
    async () => {
      for (
        const request of [
          { command: "unregister", data: "nobody" },
          { command: "set", tags: ["a"], data: "nobody" },
          { command: "unset", tags: ["a"], data: "nobody" },
          { command: "tags", data: "nobody" },
        ]
      ) {
        const reply = await admin.request(request);
        assert.equal(reply.error, "token not found", JSON.stringify(request));
        assert.equal(reply.data, undefined, "the token is not echoed");
      }
    },
  );
  await t.step("missing token or tags", async () => {
    assert.equal(
      (await admin.request({ command: "tags" })).error,
      "invalid data: missing token",
    );
    assert.equal(
      (await admin.request({ command: "set", data: "user42" })).error,
      "missing tags",
    );
  });
});

Deno.test("the permission table: anonymous, token and admin connections", async (t) => {
  await using server = await authServer();
  await register(server, "user42", ["user:42", "room:1"]);
  await using anonymous = await tcpAs(server);
  await using user = await tcpAs(server, "user42");
  await using admin = await tcpAs(server, ADMIN);

  await t.step("everyone may ping and list", async () => {
    for (const client of [anonymous, user, admin]) {
      assert.deepEqual(await client.request({ command: "ping" }), PONG);
      assert.deepEqual(await client.request({ command: "list" }), {
        command: "list",
        tags: [],
        data: "[]",
      });
    }
  });
  await t.step("anonymous may not subscribe or publish", async () => {
    assert.deepEqual(
      await anonymous.request({ command: "subscribe", tags: ["user:42"] }),
      forbidden("subscribe", ["user:42"], ["user:42"]),
    );
    assert.deepEqual(
      await anonymous.request({
        command: "publish",
        tags: ["a", "b", "a"],
        data: "x",
      }),
      forbidden("publish", ["a", "b", "a"], ["a", "b"]),
    );
    await anonymous.send({ command: "unsubscribe", tags: ["user:42"] });
    assert.deepEqual(
      await anonymous.sync(),
      [],
      "unsubscribe is always allowed",
    );
  });
  await t.step("a token may use its granted tags only", async () => {
    await user.send({ command: "subscribe", tags: ["room:1", "user:42"] });
    await user.send({ command: "subscribe", tags: ["user:42"] });
    assert.deepEqual(await user.sync(), []);
    assert.deepEqual(
      await user.request({
        command: "subscribe",
        tags: ["user:42", "user:43"],
      }),
      forbidden("subscribe", ["user:42", "user:43"], ["user:43"]),
    );
    assert.deepEqual(
      await user.request({ command: "publish", tags: ["room:2"], data: "x" }),
      forbidden("publish", ["room:2"], ["room:2"]),
    );
    await user.send({ command: "publish", tags: ["room:1"], data: "granted" });
    assert.deepEqual(await user.sync(), []);
  });
  await t.step("an admin may use any tags", async () => {
    await admin.send({ command: "subscribe", tags: ["anything"] });
    await admin.send({
      command: "publish",
      tags: ["user:42", "other"],
      data: "from admin",
    });
    assert.deepEqual(await admin.sync(), []);
    assert.deepEqual(await user.sync(), [
      { command: "publish", tags: ["other", "user:42"], data: "from admin" },
    ]);
  });
  await t.step("only an admin may use admin commands", async () => {
    for (const client of [anonymous, user]) {
      for (
        const request of [
          { command: "register", tags: ["a"], data: "t" },
          { command: "unregister", data: "user42" },
          { command: "set", tags: ["a"], data: "user42" },
          { command: "unset", tags: ["a"], data: "user42" },
          { command: "tags", data: "user42" },
        ]
      ) {
        const reply = await client.request(request);
        assert.equal(
          reply.error,
          "forbidden: admin only",
          JSON.stringify(request),
        );
      }
    }
  });
});

Deno.test("auth on TCP: first command only, a wrong token leaves the connection anonymous", async () => {
  await using server = await authServer();
  await using wrong = await LineClient.connect(addressOf(server, "tcp"));
  assert.deepEqual(await wrong.request({ command: "auth", data: "guess" }), {
    command: "auth",
    error: "invalid token",
  });
  assert.deepEqual(await wrong.request({ command: "ping" }), PONG);
  assert.equal(
    (await wrong.request({ command: "subscribe", tags: ["a"] })).error,
    'forbidden: not granted ["a"]',
  );

  await using late = await LineClient.connect(addressOf(server, "tcp"));
  assert.deepEqual(await late.request({ command: "ping" }), PONG);
  assert.deepEqual(await late.request({ command: "auth", data: ADMIN }), {
    command: "auth",
    error: "auth must be the first command",
  });
  assert.equal(
    (await late.request({ command: "tags", data: "x" })).error,
    "forbidden: admin only",
  );

  await using none = await LineClient.connect(addressOf(server, "tcp"));
  assert.deepEqual(await none.request({ command: "auth" }), {
    command: "auth",
    error: "invalid token",
  });
});

Deno.test("WebSocket: the token comes as a header, a query parameter or the first message", async (t) => {
  await using server = await authServer();
  await register(server, "user42", ["user:42"]);
  const ws = addressOf(server, "ws");
  const http = addressOf(server, "http");
  const cases: [string, () => Promise<WsClient>][] = [
    [
      "header on ws://",
      () => WsClient.connect(ws, { "X-AUTH-TOKEN": "user42" }),
    ],
    [
      "query parameter on http://",
      () =>
        WsClient.connect(
          `${
            http.replace("http", "ws")
          }/subscribe/websocket?x-auth-token=user42`,
        ),
    ],
    [
      "query parameter in another case",
      () => WsClient.connect(`${ws}/subscribe/websocket?X-Auth-Token=user42`),
    ],
  ];
  for (const [name, connect] of cases) {
    await t.step(name, async () => {
      await using client = await connect();
      await client.send({ command: "subscribe", tags: ["user:42"] });
      assert.deepEqual(await client.sync(), []);
      assert.equal(
        (await client.request({ command: "subscribe", tags: ["x"] })).error,
        'forbidden: not granted ["x"]',
      );
      assert.deepEqual(await client.request({ command: "auth", data: ADMIN }), {
        command: "auth",
        error: "auth must be the first command",
      });
    });
  }
  await t.step(
    "auth as the first message of a connection that presented nothing",
    async () => {
      await using client = await WsClient.connect(ws);
      await client.send({ command: "auth", data: ADMIN });
      assert.deepEqual(
        (await client.request({ command: "tags", data: "user42" })).tags,
        ["user:42"],
      );
    },
  );
  await t.step(
    "an invalid presented token is refused with 401 before the upgrade",
    async () => {
      for (const path of ["/subscribe/websocket?x-auth-token=nope", "/"]) {
        using conn = await Deno.connect(hostPort(ws));
        const headers = path === "/" ? "X-AUTH-TOKEN: nope\r\n" : "";
        await writeAll(
          conn,
          new TextEncoder().encode(
            `GET ${path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
              `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n${headers}\r\n`,
          ),
        );
        const buffer = new Uint8Array(1024);
        const n = await conn.read(buffer);
        const response = new TextDecoder().decode(buffer.subarray(0, n!));
        assert.match(response, /^HTTP\/1\.1 401/);
        assert.match(response, /"error":"invalid token"/);
      }
    },
  );
});

Deno.test("HTTP: POST /publish, event streams and /metrics follow the same rules", async (t) => {
  await using server = await authServer();
  await register(server, "user42", ["user:42"]);
  const http = addressOf(server, "http");
  const publish = (body: object, token?: string) =>
    fetch(`${http}/publish`, {
      method: "POST",
      body: JSON.stringify(body),
      headers: token ? { "x-auth-token": token } : {},
    }).then(async (r) => ({ status: r.status, body: await r.json() }));

  await t.step(
    "POST /publish: 401 without or with a bad token, 403 when not granted, 202 when granted",
    async () => {
      assert.deepEqual(await publish({ tags: ["user:42"], data: "x" }), {
        status: 401,
        body: forbidden("publish", ["user:42"], ["user:42"]),
      });
      assert.deepEqual(await publish({ tags: ["user:42"] }, "nope"), {
        status: 401,
        body: { command: "publish", error: "invalid token" },
      });
      assert.deepEqual(await publish({ tags: ["user:43"] }, "user42"), {
        status: 403,
        body: forbidden("publish", ["user:43"], ["user:43"]),
      });
      assert.equal(
        (await publish({ tags: ["user:42"] }, "user42")).status,
        202,
      );
      assert.equal((await publish({ tags: ["any"] }, ADMIN)).status, 202);
    },
  );
  await t.step(
    "GET /subscribe: 401, 403, then a stream of the granted tags",
    async () => {
      const status = async (query: string) => {
        const response = await fetch(`${http}/subscribe?${query}`);
        await response.body?.cancel();
        return response.status;
      };
      assert.equal(await status("tags=user:42"), 401);
      assert.equal(await status("tags=user:42&x-auth-token=nope"), 401);
      assert.equal(
        await status("tags=user:42&tags=secret&x-auth-token=user42"),
        403,
      );
      await using stream = await EventStreamClient.open(
        `${http}/subscribe?tags=user:42&x-auth-token=user42`,
      );
      assert.equal(
        (await publish({ tags: ["user:42"], data: "hi" }, ADMIN)).status,
        202,
      );
      assert.deepEqual(await stream.next(), {
        command: "publish",
        tags: ["user:42"],
        data: "hi",
      });
    },
  );
  await t.step("GET /metrics needs the admin token", async () => {
    const status = async (token?: string) => {
      const response = await fetch(`${http}/metrics`, {
        headers: token ? { "x-auth-token": token } : {},
      });
      await response.body?.cancel();
      return response.status;
    };
    assert.equal(await status(), 401);
    assert.equal(await status("nope"), 401);
    assert.equal(await status("user42"), 403);
    assert.equal(await status(ADMIN), 200);
  });
  await t.step("GET /health reports the authenticator", async () => {
    const health = await (await fetch(`${http}/health`)).json();
    assert.equal(health.authenticator, "up");
    assert.equal(health.ok, true);
  });
});

Deno.test("revocation is immediate on every live connection of the token", async () => {
  await using server = await authServer();
  await register(server, "user42", ["user:42", "room:1"]);
  await using admin = await tcpAs(server, ADMIN);
  await using tcp = await tcpAs(server, "user42");
  await using ws = await WsClient.connect(addressOf(server, "ws"), {
    "x-auth-token": "user42",
  });
  await using other = await tcpAs(server);
  await using sse = await EventStreamClient.open(
    `${
      addressOf(server, "http")
    }/subscribe?tags=room:1&tags=user:42&x-auth-token=user42`,
  );
  const users: ProtocolClient[] = [tcp, ws];
  for (const client of users) {
    await client.send({ command: "subscribe", tags: ["user:42"] });
    await client.send({ command: "subscribe", tags: ["room:1", "user:42"] });
    await client.send({ command: "subscribe", tags: ["room:1"] });
    assert.deepEqual(await client.sync(), []);
  }
  assert.equal(server.stats().subscriptions, 8);

  await admin.send({ command: "unset", tags: ["room:1"], data: "user42" });
  await admin.sync();
  for (const client of users) {
    assert.deepEqual(await client.sync(), [
      { command: "revoked", tags: ["room:1", "user:42"] },
      { command: "revoked", tags: ["room:1"] },
    ], "one notice per subscription lost (§4)");
    assert.deepEqual(
      (await client.request({ command: "list" })).data,
      '[["user:42"]]',
    );
    assert.equal(
      (await client.request({
        command: "publish",
        tags: ["room:1"],
        data: "x",
      })).error,
      'forbidden: not granted ["room:1"]',
    );
  }
  assert.equal(
    server.stats().subscriptions,
    3,
    "the stream kept only user:42 too",
  );
  await admin.send({
    command: "publish",
    tags: ["room:1"],
    data: "not for them",
  });
  await admin.send({
    command: "publish",
    tags: ["user:42"],
    data: "still theirs",
  });
  await admin.sync();
  for (const client of users) {
    assert.deepEqual(await client.sync(), [
      { command: "publish", tags: ["user:42"], data: "still theirs" },
    ]);
  }
  assert.deepEqual(await sse.next(), {
    command: "revoked",
    tags: ["room:1"],
  });
  assert.deepEqual(await sse.next(), {
    command: "publish",
    tags: ["user:42"],
    data: "still theirs",
  });

  await admin.send({ command: "set", tags: ["room:2"], data: "user42" });
  await admin.sync();
  await tcp.send({ command: "subscribe", tags: ["room:2"] });
  assert.deepEqual(await tcp.sync(), [], "a new grant applies at once too");

  await admin.send({ command: "unregister", data: "user42" });
  await admin.sync();
  assert.deepEqual(await tcp.sync(), [
    { command: "revoked", tags: ["user:42"] },
    { command: "revoked", tags: ["room:2"] },
  ]);
  assert.deepEqual(await ws.sync(), [
    { command: "revoked", tags: ["user:42"] },
  ]);
  for (const client of users) {
    assert.deepEqual((await client.request({ command: "list" })).data, "[]");
    assert.equal(
      (await client.request({
        command: "publish",
        tags: ["user:42"],
        data: "x",
      })).error,
      'forbidden: not granted ["user:42"]',
    );
  }
  await eventually(
    () => server.stats().subscriptions === 0,
    "every subscription to go",
  );
  await other.sync();
});

Deno.test("mist --server refuses an authenticator without a token, and an unknown scheme", async () => {
  const noToken = await runProgram(
    args("--server", { authenticator: "memory://" }),
  );
  assert.equal(noToken.code, 2);
  assert.match(
    noToken.stderr,
    /An authenticator needs the admin token: set token \(--token\)/,
  );
  const unknown = await runProgram(
    args("--server", {
      listeners: "tcp://127.0.0.1:0",
      authenticator: "ldap://x",
      token: "t",
    }),
  );
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /Unknown authenticator scheme "ldap"/);
});

Deno.test("mist --server warns that a token without an authenticator does nothing", async () => {
  await using server = new ServerProcess(
    args([], { listeners: "tcp://127.0.0.1:0", token: "t" }),
  );
  await server.waitFor(/WARN .*A token without an authenticator has no effect/);
  assert.equal((await server.stop()).code, 0);
});

Deno.test("no token ever reaches the log, at TRACE, whatever the commands", async () => {
  const adminToken = "ADMIN-SECRET-7f3a9c";
  const userToken = "USER-SECRET-41be02";
  const wrongToken = "WRONG-SECRET-99d1e7";
  await using server = new ServerProcess([
    "--listeners",
    "tcp://127.0.0.1:0,http://127.0.0.1:0,ws://127.0.0.1:0",
    "--authenticator",
    "memory://",
    "--token",
    adminToken,
    "--log-level",
    "TRACE",
  ]);
  const tcp = await server.address("tcp");
  const http = await server.address("http");
  const ws = await server.address("ws");
  {
    await using admin = await LineClient.connect(tcp);
    await admin.send({ command: "auth", data: adminToken });
    for (
      const request of [
        { command: "register", tags: ["a"], data: userToken },
        { command: "register", tags: ["a"], data: userToken },
        { command: "set", tags: ["b"], data: userToken },
        { command: "unset", tags: ["b"], data: userToken },
        { command: "tags", data: userToken },
        { command: "tags", data: wrongToken },
        { command: "unregister", data: wrongToken },
        { command: "register", tags: ["a"], data: "x".repeat(5) + userToken },
        { command: "unregister", data: "x".repeat(5) + userToken },
      ]
    ) {
      await admin.send(request);
    }
    await admin.send(`{"command":"auth","data":"${userToken}"\n`); // malformed
    await admin.sync();
    await using user = await LineClient.connect(tcp);
    await user.request({ command: "auth", data: userToken, id: 1 });
    await user.request({ command: "publish", tags: ["b"], data: userToken });
    await using wrong = await LineClient.connect(tcp);
    await wrong.request({ command: "auth", data: wrongToken });
    await using wsUser = await WsClient.connect(ws, {
      "x-auth-token": userToken,
    });
    await wsUser.sync();
    const refused = await fetch(
      `${http}/subscribe/websocket?x-auth-token=${wrongToken}`,
      {
        headers: { upgrade: "websocket" },
      },
    );
    await refused.body?.cancel();
    for (const token of [adminToken, userToken, wrongToken]) {
      const metrics = await fetch(`${http}/metrics?x-auth-token=${token}`);
      assert.ok(!(await metrics.text()).includes(token));
      const post = await fetch(`${http}/publish`, {
        method: "POST",
        headers: { "x-auth-token": token },
        body: '{"tags":["a"],"data":"x"}',
      });
      await post.body?.cancel();
    }
  }
  const { code, stdout, stderr } = await server.stop();
  assert.equal(code, 0);
  assert.match(stderr, /TRACE/);
  for (const token of [adminToken, userToken, wrongToken]) {
    assert.ok(!stderr.includes(token), `${token} in the log:\n${stderr}`);
    assert.ok(!stdout.includes(token), `${token} on stdout`);
  }
});

Deno.test("a token with a lone surrogate is refused: it would hash like U+FFFD", async () => {
  await using server = await authServer();
  await using admin = await tcpAs(server, ADMIN);
  assert.equal(
    (await admin.request(
      '{"command":"register","tags":["a"],"data":"\\ud800"}\n',
    )).error,
    "invalid data: a token must be well-formed text",
  );
  await admin.send({ command: "register", tags: ["a"], data: "\ufffd" });
  assert.deepEqual(await admin.sync(), []);
  await using impostor = await LineClient.connect(addressOf(server, "tcp"));
  assert.deepEqual(
    await impostor.request('{"command":"auth","data":"\\ud800"}\n'),
    {
      command: "auth",
      error: "invalid token",
    },
  );
});
