/**
 * The protocol suite: every test of docs/protocol.md §2, §3, §5, §6 and §7 that
 * holds whatever carries the messages, registered against a client factory,
 * so that each transport runs the same tests (tests/listeners/tcp_test.ts
 * with `LineClient`, tests/listeners/websocket_test.ts with `WsClient`).
 * What only one transport has (TCP's oversize-line discard, invalid UTF-8,
 * WebSocket binary frames, how a slow reader is made) stays in its file.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { Message } from "../src/protocol/codec.ts";
import {
  type MistServer,
  serve,
  type ServeOptions,
} from "../src/server/server.ts";
import { eventually, type ProtocolClient } from "./_helpers.ts";

/** The reply to `{"command":"ping"}`. */
export const PONG = { command: "ping", tags: [], data: "pong" };

/** Opens a client of the transport under test on a suite server. */
export type OpenClient = (server: MistServer) => Promise<ProtocolClient>;

/**
 * A server of the suite: a TCP and a WebSocket listener on free ports, so
 * that every transport's factory finds its own.
 */
function suiteServer(options: ServeOptions = {}): Promise<MistServer> {
  return serve({
    listeners: ["tcp://127.0.0.1:0", "ws://127.0.0.1:0"],
    ...options,
  });
}

/** Sends one frame (a line, a text frame) and returns the next message. */
async function requestFrame(
  client: ProtocolClient,
  frame: string,
): Promise<Message> {
  await client.sendFrames([frame]);
  return await client.next();
}

/**
 * Registers every test of the suite, each named after the transport.
 *
 * @param name names the transport in each test's name, e.g. `"TCP"`
 * @param open opens a client of that transport
 */
export function protocolSuite(
  name: string,
  open: OpenClient,
): void {
  Deno.test(`${name}: §2 matching table: each subscription gets exactly the messages whose tags include it`, async (t) => {
    await using server = await suiteServer();
    const messages = [
      ["onefish"],
      ["twofish"],
      ["onefish", "twofish"],
      ["onefish", "twofish", "redfish"],
    ];
    const table: [string[], string[][]][] = [
      [["onefish"], [["onefish"], ["onefish", "twofish"], [
        "onefish",
        "twofish",
        "redfish",
      ]]],
      [["onefish", "twofish"], [["onefish", "twofish"], [
        "onefish",
        "twofish",
        "redfish",
      ]]],
      [["onefish", "twofish", "redfish"], [["onefish", "twofish", "redfish"]]],
      [["twofish", "onefish"], [["onefish", "twofish"], [
        "onefish",
        "twofish",
        "redfish",
      ]]],
    ];
    for (const [subscribed, receives] of table) {
      await t.step(`subscribed ${JSON.stringify(subscribed)}`, async () => {
        await using subscriber = await open(server);
        await using publisher = await open(server);
        await subscriber.send({ command: "subscribe", tags: subscribed });
        await subscriber.sync();
        for (const tags of messages) {
          await publisher.send({
            command: "publish",
            tags,
            data: tags.join("+"),
          });
        }
        await publisher.sync(); // every publish has been fanned out
        const got = await subscriber.sync();
        assert.deepEqual(
          got,
          receives.map((tags) => ({
            command: "publish",
            tags: [...tags].sort(), // delivered sorted (§3)
            data: tags.join("+"),
          })),
        );
      });
    }
  });

  Deno.test(`${name}: §2 a connection receives a message once, even when several subscriptions match`, async () => {
    await using server = await suiteServer();
    await using subscriber = await open(server);
    await using publisher = await open(server);
    for (const tags of [["a", "x"], ["b", "c"], ["a"], ["c", "b", "a"]]) {
      await subscriber.send({ command: "subscribe", tags });
    }
    await subscriber.sync();
    await publisher.send({
      command: "publish",
      tags: ["a", "b", "c"],
      data: "1",
    });
    await publisher.sync();
    assert.deepEqual(await subscriber.sync(), [
      { command: "publish", tags: ["a", "b", "c"], data: "1" },
    ]);
  });

  Deno.test(`${name}: §2 a publisher never receives its own message; tags are case-sensitive`, async () => {
    await using server = await suiteServer();
    await using alice = await open(server);
    await using bob = await open(server);
    for (const client of [alice, bob]) {
      await client.send({ command: "subscribe", tags: ["room"] });
      await client.sync();
    }
    await alice.send({
      command: "publish",
      tags: ["room"],
      data: "from alice",
    });
    await alice.send({ command: "publish", tags: ["Room"], data: "other tag" });
    await alice.send({
      command: "publish",
      tags: [" room"],
      data: "other tag",
    });
    assert.deepEqual(await alice.sync(), []);
    assert.deepEqual(await bob.sync(), [
      { command: "publish", tags: ["room"], data: "from alice" },
    ]);
  });

  Deno.test(`${name}: §3 basic commands reply exactly as the protocol says`, async (t) => {
    await using server = await suiteServer();
    await using client = await open(server);
    await using other = await open(server);

    await t.step("ping", async () => {
      assert.deepEqual(await client.request({ command: "ping" }), PONG);
    });
    await t.step("list with no subscriptions", async () => {
      assert.deepEqual(await client.request({ command: "list" }), {
        command: "list",
        tags: [],
        data: "[]",
      });
    });
    await t.step(
      "subscribe has no reply; twice to one set is one subscription",
      async () => {
        await client.send({ command: "subscribe", tags: ["hello"] });
        await client.send({ command: "subscribe", tags: ["b", "a"] });
        await client.send({ command: "subscribe", tags: ["a", "b", "b"] });
        assert.deepEqual(await client.sync(), []);
        assert.deepEqual(await client.request({ command: "list" }), {
          command: "list",
          tags: [],
          data: '[["a","b"],["hello"]]',
        });
      },
    );
    await t.step(
      "unsubscribe removes the exact set only; a missing one is no error",
      async () => {
        await client.send({ command: "unsubscribe", tags: ["a"] });
        await client.send({ command: "unsubscribe", tags: ["nothing"] });
        await client.send({ command: "unsubscribe", tags: ["b", "a"] });
        assert.deepEqual(await client.sync(), []);
        assert.deepEqual(
          (await client.request({ command: "list" })).data,
          '[["hello"]]',
        );
      },
    );
    await t.step(
      "publish delivers the tag set sorted and de-duplicated, empty data allowed",
      async () => {
        await other.send({
          command: "publish",
          tags: ["x", "hello", "x"],
          data: "",
        });
        await other.send({ command: "publish", tags: ["hello"] });
        await other.send({
          command: "publish",
          tags: ["hello"],
          data: "line\nbreak \u2603",
        });
        assert.deepEqual(await other.sync(), []);
        assert.deepEqual(await client.sync(), [
          { command: "publish", tags: ["hello", "x"], data: "" },
          { command: "publish", tags: ["hello"], data: "" },
          { command: "publish", tags: ["hello"], data: "line\nbreak \u2603" },
        ]);
      },
    );
    await t.step(
      "auth is accepted and ignored while authentication is off",
      async () => {
        await client.send({ command: "auth", data: "whatever" });
        assert.deepEqual(await client.sync(), []);
      },
    );
    await t.step("commands are case-sensitive", async () => {
      assert.deepEqual(await client.request({ command: "PING" }), {
        command: "PING",
        error: "Unknown Command",
      });
    });
    await t.step(
      "CRLF line endings and the original Go client's null tags work",
      async () => {
        await client.send('{"command":"ping","tags":null}\r\n');
        assert.deepEqual(await client.next(), PONG);
      },
    );
  });

  Deno.test(`${name}: §5 a request with an id gets exactly one reply with that id`, async (t) => {
    await using server = await suiteServer();
    await using client = await open(server);
    await using other = await open(server);
    const cases: [object, object][] = [
      [{ command: "ping", id: 1 }, { ...PONG, id: 1 }],
      [{ command: "subscribe", tags: ["t"], id: "s" }, {
        command: "subscribe",
        id: "s",
        tags: ["t"],
        data: "ok",
      }],
      [{ command: "list", id: 2 }, {
        command: "list",
        tags: [],
        data: '[["t"]]',
        id: 2,
      }],
      [{ command: "auth", data: "secret", id: 3 }, {
        command: "auth",
        id: 3,
        tags: [],
        data: "ok",
      }],
      [{ command: "unsubscribe", tags: ["zz"], id: 4 }, {
        command: "unsubscribe",
        id: 4,
        tags: ["zz"],
        data: "ok",
      }],
      [{ command: "subscribe", id: 5 }, {
        command: "subscribe",
        error: "missing tags",
        id: 5,
      }],
      [{ command: "nope", tags: ["a"], id: 6 }, {
        command: "nope",
        tags: ["a"],
        error: "Unknown Command",
        id: 6,
      }],
    ];
    for (const [request, reply] of cases) {
      await t.step(JSON.stringify(request), async () => {
        assert.deepEqual(await client.request(request), reply);
        assert.deepEqual(await client.sync(), [], "exactly one reply");
      });
    }
    await t.step("deliveries never carry an id", async () => {
      assert.deepEqual(
        await other.request({
          command: "publish",
          tags: ["t"],
          data: "d",
          id: 7,
        }),
        { command: "publish", id: 7, tags: ["t"], data: "ok" },
      );
      assert.deepEqual(await client.sync(), [
        { command: "publish", tags: ["t"], data: "d" },
      ]);
    });
  });

  Deno.test(`${name}: §6 every kind of bad input gets its error and the connection stays usable`, async (t) => {
    await using server = await suiteServer({
      limits: { maxTags: 4, maxTagBytes: 16, maxSubscriptions: 3 },
    });
    await using client = await open(server);
    const cases: [string, string, object][] = [
      ["not JSON", "hello there", { command: "", error: "invalid JSON" }],
      ["a JSON array", "[]", {
        command: "",
        error: "invalid message: not an object",
      }],
      ["no command", '{"tags":["a"]}', {
        command: "",
        error: "invalid message: missing string command",
      }],
      ["unknown command", '{"command":"fly"}', {
        command: "fly",
        error: "Unknown Command",
      }],
      ["tags not an array", '{"command":"subscribe","tags":"a"}', {
        command: "subscribe",
        error: "invalid tags: expected an array of strings",
      }],
      ["empty tags", '{"command":"publish","tags":[],"data":"x"}', {
        command: "publish",
        tags: [],
        error: "missing tags",
      }],
      ["empty tags to subscribe", '{"command":"subscribe","tags":[]}', {
        command: "subscribe",
        tags: [],
        error: "missing tags",
      }],
      ["missing tags", '{"command":"unsubscribe"}', {
        command: "unsubscribe",
        error: "missing tags",
      }],
      ["data not a string", '{"command":"publish","tags":["a"],"data":{}}', {
        command: "publish",
        tags: ["a"],
        error: "invalid data",
      }],
      ["too many tags", '{"command":"publish","tags":["a","b","c","d","e"]}', {
        command: "publish",
        error: "too many tags: 5 > 4",
      }],
      [
        "a tag too long",
        `{"command":"subscribe","tags":["${"x".repeat(17)}"]}`,
        {
          command: "subscribe",
          error: "tag too long: longer than 16 bytes",
        },
      ],
    ];
    // Invalid UTF-8 cannot be sent in a WebSocket text frame: that case is
    // in tests/listeners/tcp_test.ts.
    for (const [label, frame, reply] of cases) {
      await t.step(label, async () => {
        assert.deepEqual(await requestFrame(client, frame), reply);
        assert.deepEqual(await client.request({ command: "ping" }), PONG);
      });
    }
    await t.step("too many subscriptions", async () => {
      for (const tag of ["a", "b", "c"]) {
        await client.send({ command: "subscribe", tags: [tag] });
      }
      await client.send({ command: "subscribe", tags: ["a"] }); // not new: fine
      assert.deepEqual(
        await client.request({ command: "subscribe", tags: ["d"] }),
        {
          command: "subscribe",
          tags: ["d"],
          error: "too many subscriptions",
        },
      );
      assert.deepEqual(
        (await client.request({ command: "list" })).data,
        '[["a"],["b"],["c"]]',
      );
    });
  });

  Deno.test(`${name}: §6 a line of exactly the maximum size is accepted`, async () => {
    const maxMessageBytes = 256;
    await using server = await suiteServer({ limits: { maxMessageBytes } });
    await using client = await open(server);
    const prefix = '{"command":"ping","data":"';
    const line = prefix + "x".repeat(maxMessageBytes - prefix.length - 2) +
      '"}';
    assert.equal(line.length, maxMessageBytes);
    assert.deepEqual(await requestFrame(client, line), PONG);
    assert.deepEqual(await requestFrame(client, line + "x"), {
      command: "",
      error: "message too large",
    });
  });

  Deno.test(`${name}: §6 disconnecting removes everything the connection held`, async () => {
    await using server = await suiteServer();
    const client = await open(server);
    for (let i = 0; i < 50; i++) {
      await client.send({ command: "subscribe", tags: [`t${i}`, `u${i % 7}`] });
    }
    await client.sync();
    assert.equal(server.stats().subscriptions, 50);
    await client.close();
    await eventually(
      () => server.stats().indexNodes === 0,
      "the index to be empty",
    );
    assert.equal(server.stats().subscriptions, 0);
    assert.equal(server.stats().indexNodes, 0);
    assert.ok(server.stats().listeners.every((l) => l.connections === 0));
  });

  Deno.test(`${name}: §7 messages from one publisher arrive in order`, async () => {
    await using server = await suiteServer();
    await using subscriber = await open(server);
    await using publisher = await open(server);
    await subscriber.send({ command: "subscribe", tags: ["seq"] });
    await subscriber.sync();
    const n = 5000;
    await publisher.sendFrames(
      Array.from(
        { length: n },
        (_, i) =>
          JSON.stringify({ command: "publish", tags: ["seq"], data: `${i}` }),
      ),
    );
    await publisher.sync();
    const got = await subscriber.sync();
    assert.deepEqual(
      got.map((m) => m.data),
      Array.from({ length: n }, (_, i) => `${i}`),
    );
  });

  Deno.test(`${name}: closing the server writes what each connection is owed, then ends it`, async () => {
    const server = await suiteServer();
    const client = await open(server);
    await client.send({ command: "subscribe", tags: ["bye"] });
    await client.sync();
    server.publish(["bye"], "last words");
    await server.close();
    assert.deepEqual(await client.next(), {
      command: "publish",
      tags: ["bye"],
      data: "last words",
    });
    await client.ended();
    await client.close();
    await server.close(); // idempotent
  });

  Deno.test(`${name}: §7 a message of the largest size reaches a subscriber whose queue is that small`, async () => {
    // The delivery is larger than the publish (it gains "command":"publish"),
    // but a subscriber that keeps up must not lose it.
    await using server = await suiteServer({
      limits: { maxMessageBytes: 1000 },
      queueBytes: 1000,
    });
    await using subscriber = await open(server);
    await using publisher = await open(server);
    await subscriber.send({ command: "subscribe", tags: ["a"] });
    await subscriber.sync();
    const prefix = '{"tags":["a"],"command":"publish","data":"';
    const data = "x".repeat(1000 - prefix.length - 2);
    const line = `${prefix}${data}"}`;
    assert.equal(line.length, 1000);
    await publisher.sendFrames([line]);
    await publisher.sync();
    assert.deepEqual(await subscriber.next(), {
      command: "publish",
      tags: ["a"],
      data,
    });
  });
}
