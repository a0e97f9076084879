/**
 * The log policy (docs/operations.md, Logs): what clients make the server log
 * is rate-limited to one line per kind per connection per 10 s and at most
 * LOG_CEILING lines per kind per 10 s in all, at the level it deserves, and
 * never carries a token.
 */

import assert from "node:assert/strict";
import type { LogRecord } from "npm:@logtape/logtape@^2.4.2";
import { openAuthenticator } from "../../src/auth/builtin.ts";
import { LOG_CEILING, LOG_LIMIT } from "../../src/_util/rate_limit.ts";
import { encode } from "../../src/protocol/codec.ts";
import { Outbox } from "../../src/server/outbox.ts";
import { newStats } from "../../src/server/transport.ts";
import { captureLogs, recordText } from "../_logs.ts";
import {
  addressOf,
  allServer,
  eventually,
  fetchText,
  hostPort,
  LineClient,
  post,
  tcpServer,
  writeAll,
} from "../_helpers.ts";

function of(records: LogRecord[], kind: string): LogRecord[] {
  return records.filter((record) => record.properties.kind === kind);
}

function noErrors(records: LogRecord[]): void {
  const errors = records.filter((r) => r.level === "error");
  assert.deepEqual(errors.map(recordText), []);
}

Deno.test("50 POST /publish bodies cut short make one DEBUG line, no ERROR", async () => {
  LOG_LIMIT.reset();
  await using server = await allServer();
  const http = hostPort(addressOf(server, "http"));
  const { records } = await captureLogs(async () => {
    for (let i = 0; i < 50; i++) {
      const conn = await Deno.connect(http);
      await writeAll(
        conn,
        new TextEncoder().encode(
          "POST /publish HTTP/1.1\r\nhost: mist\r\n" +
            "content-type: application/json\r\ncontent-length: 1000\r\n\r\n" +
            '{"command":"pu',
        ),
      );
      conn.close();
    }
    await eventually(
      () => LOG_LIMIT.suppressed("http-body-unread") === 49,
      "the 50 bodies read",
    );
  });
  const lines = of(records, "http-body-unread");
  assert.deepEqual(lines.map((r) => r.level), ["debug"]);
  noErrors(records);
  // The listener still answers.
  const ok = await fetchText(
    `${addressOf(server, "http")}/publish`,
    post('{"command":"publish","tags":["t"]}'),
  );
  assert.equal(ok.status, 202);
});

Deno.test("bad input on a connection makes one DEBUG line per kind, and the connection answers", async () => {
  LOG_LIMIT.reset();
  await using server = await tcpServer();
  await using client = await LineClient.connect(server.addresses[0]!);
  const { records } = await captureLogs(async () => {
    await client.sendFrames([
      ...Array.from({ length: 50 }, () => "not json"),
      ...Array.from({ length: 20 }, () => '{"command":"nope"}'),
    ]);
    for (let i = 0; i < 70; i++) await client.next();
    assert.equal((await client.request({ command: "ping" })).data, "pong");
  });
  assert.deepEqual(of(records, "reply:invalid_json").map((r) => r.level), [
    "debug",
  ]);
  assert.deepEqual(of(records, "reply:unknown_command").map((r) => r.level), [
    "debug",
  ]);
  assert.equal(LOG_LIMIT.suppressed("reply:invalid_json"), 49);
  assert.equal(LOG_LIMIT.suppressed("reply:unknown_command"), 19);
});

Deno.test("refused tokens make one INFO line per connection, HTTP requests one between them, never the token", async () => {
  LOG_LIMIT.reset();
  await using server = await allServer({
    authenticator: await openAuthenticator("memory://"),
    token: "admin-secret",
  });
  const secret = "not-a-token-0123456789";
  const { records } = await captureLogs(async () => {
    for (let i = 0; i < 10; i++) {
      await using client = await LineClient.connect(addressOf(server, "tcp"));
      const reply = await client.request({ command: "auth", data: secret });
      assert.equal(reply.error, "invalid token");
    }
    for (let i = 0; i < 20; i++) {
      const refused = await fetchText(`${addressOf(server, "http")}/publish`, {
        ...post('{"command":"publish","tags":["t"]}'),
        headers: { "x-auth-token": secret },
      });
      assert.equal(refused.status, 401);
    }
  });
  const lines = of(records, "refused-token");
  assert.deepEqual(lines.map((r) => r.level), Array(11).fill("info"));
  assert.equal(LOG_LIMIT.suppressed("refused-token"), 19);
  for (const record of records) {
    assert.ok(!recordText(record).includes(secret), recordText(record));
  }
});

Deno.test("a limit met: two connections make two lines, 1,000 times on one connection one line, 100 connections at most the ceiling", async () => {
  LOG_LIMIT.reset();
  await using server = await tcpServer({ limits: { maxSubscriptions: 1 } });
  const url = server.addresses[0]!;
  const over = (client: LineClient, times: number) =>
    client.sendFrames(
      Array.from(
        { length: times },
        (_, i) => JSON.stringify({ command: "subscribe", tags: [`y${i}`] }),
      ),
    );
  const kind = "reply:too_many_subscriptions";
  {
    await using a = await LineClient.connect(url);
    await using b = await LineClient.connect(url);
    const { records } = await captureLogs(async () => {
      for (const client of [a, b]) {
        await client.request({ command: "subscribe", tags: ["x"], id: 0 });
      }
      await over(a, 1000);
      await over(b, 5);
      for (let i = 0; i < 1000; i++) await a.next();
      for (let i = 0; i < 5; i++) await b.next();
    });
    const lines = of(records, kind);
    assert.deepEqual(lines.map((r) => r.level), ["info", "info"]);
    assert.deepEqual(
      new Set(lines.map((r) => r.properties.id)).size,
      2,
      "one line from each connection",
    );
    assert.equal(LOG_LIMIT.suppressed(kind), 999 + 4);
  }
  LOG_LIMIT.reset();
  const clients = await Promise.all(
    Array.from({ length: 100 }, () => LineClient.connect(url)),
  );
  try {
    const { records } = await captureLogs(async () => {
      for (const client of clients) {
        await client.request({ command: "subscribe", tags: ["x"], id: 0 });
        await over(client, 1);
        await client.next();
      }
    });
    assert.equal(of(records, kind).length, LOG_CEILING);
    assert.equal(LOG_LIMIT.suppressed(kind), 100 - LOG_CEILING);
  } finally {
    await Promise.all(clients.map((client) => client.close()));
  }
});

Deno.test("limits met log at INFO, the server's budget at WARN, once each", async () => {
  LOG_LIMIT.reset();
  await using server = await tcpServer({
    limits: { maxSubscriptions: 1 },
    maxTotalSubscriptions: 1,
  });
  await using a = await LineClient.connect(server.addresses[0]!);
  await using b = await LineClient.connect(server.addresses[0]!);
  const { records } = await captureLogs(async () => {
    await a.request({ command: "subscribe", tags: ["x"], id: 0 });
    for (let i = 0; i < 5; i++) {
      await a.request({ command: "subscribe", tags: [`y${i}`], id: 0 });
      await b.request({ command: "subscribe", tags: [`y${i}`], id: 0 });
    }
  });
  assert.deepEqual(
    of(records, "reply:too_many_subscriptions").map((r) => r.level),
    ["info"],
  );
  assert.deepEqual(
    of(records, "reply:subscription_budget").map((r) => r.level),
    ["warning"],
  );
});

Deno.test("slow consumers' drops make one INFO line per connection", async () => {
  LOG_LIMIT.reset();
  const frame = encode({ command: "publish", tags: ["t"], data: "x" });
  const gate = Promise.withResolvers<void>();
  const outboxes = Array.from(
    { length: 3 },
    (_, id) =>
      new Outbox({ write: () => gate.promise, close() {} }, {
        id,
        capacity: frame.size * 2,
        failed: { writeFailed: (err) => assert.fail(`${err}`) },
        stats: newStats(),
      }),
  );
  const burst = async () => {
    for (const outbox of outboxes) {
      for (let i = 0; i < 10; i++) outbox.offer(frame);
    }
    gate.resolve();
    await Promise.all(outboxes.map((outbox) => outbox.drain(10_000)));
  };
  const { records } = await captureLogs(async () => {
    await burst();
    await burst(); // each drops again within the interval: no more lines
  });
  const lines = of(records, "dropped");
  assert.deepEqual(lines.map((r) => r.level), ["info", "info", "info"]);
  assert.deepEqual(lines.map((r) => r.properties.dropped), [8, 8, 8]);
  assert.equal(LOG_LIMIT.suppressed("dropped"), 3);
  for (const outbox of outboxes) outbox.close();
});
