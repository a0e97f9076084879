/**
 * \`mist subscribe\` (src/cli/client_subscribe.ts) as a user runs it: a
 * subprocess against a real server in this process, with its output, its
 * reconnections and its exit code.
 */

import assert from "node:assert/strict";
import { connect } from "../../mod.ts";
import { args, Program } from "../_program.ts";
import { tcpServer } from "../_helpers.ts";

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
