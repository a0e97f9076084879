/**
 * A mist server whose tokens live in a real PostgreSQL that goes away and
 * comes back: the commands that need it fail with `authenticator unavailable`,
 * everything else carries on, and it recovers by itself.
 */

import assert from "node:assert/strict";
import { openAuthenticator } from "../../src/auth/builtin.ts";
import { addressOf, allServer, LineClient } from "../_helpers.ts";
import { sleep } from "../../src/_util/deadline.ts";
import { postgresTest, startPostgres } from "../_postgres.ts";

const ADMIN = "pg-admin-secret";

postgresTest(
  "PostgreSQL going away: commands that need it get `authenticator unavailable`, other connections carry on, and it recovers",
  async () => {
    await using pg = await startPostgres();
    await using server = await allServer({
      authenticator: await openAuthenticator(pg.url),
      token: ADMIN,
    });
    const tcp = addressOf(server, "tcp");
    const http = addressOf(server, "http");
    await using admin = await LineClient.connect(tcp);
    await admin.send({ command: "auth", data: ADMIN });
    await admin.send({ command: "register", tags: ["room"], data: "user-1" });
    assert.deepEqual(await admin.sync(), []);
    await using user = await LineClient.connect(tcp);
    await user.send({ command: "auth", data: "user-1" });
    await user.send({ command: "subscribe", tags: ["room"] });
    assert.deepEqual(await user.sync(), []);
    const health = async () => (await fetch(`${http}/health`)).status;
    assert.equal(await health(), 200);

    await pg.stop();
    assert.equal(
      (await admin.request({ command: "tags", data: "user-1" })).error,
      "authenticator unavailable",
    );
    assert.equal(
      (await admin.request({
        command: "register",
        tags: ["x"],
        data: "user-2",
      })).error,
      "authenticator unavailable",
    );
    await using late = await LineClient.connect(tcp);
    assert.deepEqual(await late.request({ command: "auth", data: "user-1" }), {
      command: "auth",
      error: "authenticator unavailable",
    });
    const refused = await fetch(`${http}/publish`, {
      method: "POST",
      headers: { "x-auth-token": "user-1" },
      body: '{"tags":["room"],"data":"x"}',
    });
    assert.equal(refused.status, 503);
    await refused.body?.cancel();
    assert.equal(await health(), 503);
    // Connections that already authenticated keep their grants and work on.
    await admin.send({
      command: "publish",
      tags: ["room"],
      data: "during the outage",
    });
    await admin.sync();
    assert.deepEqual(await user.sync(), [
      { command: "publish", tags: ["room"], data: "during the outage" },
    ]);
    await user.send({
      command: "publish",
      tags: ["room"],
      data: "from the user",
    });
    assert.deepEqual(await user.sync(), []);

    await pg.start();
    // It recovers by itself: no restart, the same authenticator.
    let reply = await admin.request({ command: "tags", data: "user-1" });
    for (let i = 0; i < 50 && reply.error !== undefined; i++) {
      await sleep(100);
      reply = await admin.request({ command: "tags", data: "user-1" });
    }
    assert.deepEqual(reply, {
      command: "tags",
      tags: ["room"],
      data: "user-1",
    });
    await using again = await LineClient.connect(tcp);
    assert.deepEqual(
      await again.request({ command: "auth", data: "user-1", id: 1 }),
      {
        command: "auth",
        id: 1,
        tags: [],
        data: "ok",
      },
    );
    assert.equal(await health(), 200);
  },
);
