import assert from "node:assert/strict";
import type { Message } from "../protocol/codec.ts";
import { MistError } from "../protocol/errors.ts";
import { serve } from "../server/server.ts";
import { openMemory } from "../auth/memory.ts";
import { adminMethods } from "./admin.ts";
import { connect } from "./client.ts";

/** Admin methods over a request function that records and answers. */
function recording(
  answer: (m: Message) => Message | undefined = () => undefined,
) {
  const sent: Message[] = [];
  const admin = adminMethods((message) => {
    sent.push(message);
    return Promise.resolve(answer(message));
  });
  return { admin, sent };
}

Deno.test("`adminMethods()` sends each admin command with the token as data", async (t) => {
  const table: [
    string,
    (a: ReturnType<typeof recording>["admin"]) => Promise<unknown>,
    Message,
  ][] = [
    ["register", (a) => a.register("tok", ["a", "b"]), {
      command: "register",
      tags: ["a", "b"],
      data: "tok",
    }],
    ["unregister", (a) => a.unregister("tok"), {
      command: "unregister",
      data: "tok",
    }],
    ["set", (a) => a.set("tok", ["c"]), {
      command: "set",
      tags: ["c"],
      data: "tok",
    }],
    ["unset", (a) => a.unset("tok", ["a"]), {
      command: "unset",
      tags: ["a"],
      data: "tok",
    }],
    ["register with no tags", (a) => a.register("tok", []), {
      command: "register",
      tags: [],
      data: "tok",
    }],
  ];
  for (const [name, call, expected] of table) {
    await t.step(name, async () => {
      const { admin, sent } = recording();
      assert.equal(await call(admin), undefined);
      assert.deepEqual(sent, [expected]);
    });
  }
});

Deno.test("`adminMethods()` copies the tags given, so later changes do not leak", async () => {
  const { admin, sent } = recording();
  const tags = ["a"];
  await admin.register("tok", tags);
  tags.push("b");
  assert.deepEqual(sent[0]?.tags, ["a"]);
  assert.notEqual(sent[0]?.tags, tags);
});

Deno.test("`MistAdmin.tags()` returns a copy of the tags of the reply", async () => {
  const replyTags = ["x", "y"];
  const { admin, sent } = recording(() => ({
    command: "tags",
    tags: replyTags,
  }));
  const tags = await admin.tags("tok");
  assert.deepEqual(tags, ["x", "y"]);
  assert.notEqual(tags, replyTags);
  assert.deepEqual(sent, [{ command: "tags", data: "tok" }]);
});

Deno.test("`MistAdmin.tags()` fails on a reply without tags", async (t) => {
  const table: [string, Message | undefined][] = [
    ["no reply", undefined],
    ["a reply without tags", { command: "tags", data: "" }],
  ];
  for (const [name, reply] of table) {
    await t.step(name, async () => {
      const { admin } = recording(() => reply);
      await assert.rejects(admin.tags("tok"), (err: unknown) => {
        assert.ok(err instanceof MistError);
        assert.equal(err.code, "protocol_error");
        assert.equal(
          err.message,
          'protocol error: no tags in the reply to "tags"',
        );
        return true;
      });
    });
  }
});

Deno.test("`adminMethods()` refuses a token that is not a non-empty string, sending nothing", async (t) => {
  const bad: unknown[] = ["", undefined, null, 42, ["tok"]];
  for (const token of bad) {
    await t.step(JSON.stringify(token) ?? "undefined", async () => {
      const { admin, sent } = recording();
      const calls = [
        () => admin.register(token as string, ["a"]),
        () => admin.unregister(token as string),
        () => admin.set(token as string, ["a"]),
        () => admin.unset(token as string, ["a"]),
        () => admin.tags(token as string),
      ];
      for (const call of calls) {
        // A sync throw or a rejection: either refuses before sending.
        await assert.rejects(async () => await call(), {
          name: "TypeError",
          message: "The token must be a non-empty string",
        });
      }
      assert.deepEqual(sent, []);
    });
  }
});

Deno.test("`adminMethods()` refuses tags that are not an array of non-empty strings", async (t) => {
  const bad: unknown[] = [
    "a",
    [""],
    ["a", 1],
    [null],
    undefined,
    new Set(["a"]),
  ];
  for (const tags of bad) {
    await t.step(String(JSON.stringify(tags)), async () => {
      const { admin, sent } = recording();
      for (
        const call of [
          () => admin.register("tok", tags as string[]),
          () => admin.set("tok", tags as string[]),
          () => admin.unset("tok", tags as string[]),
        ]
      ) {
        await assert.rejects(async () => await call(), {
          name: "TypeError",
          message: "Tags must be an array of non-empty strings",
        });
      }
      assert.deepEqual(sent, []);
    });
  }
});

Deno.test("`adminMethods()` passes the server's error through", async () => {
  const error = new MistError("token_not_found");
  const admin = adminMethods(() => Promise.reject(error));
  await assert.rejects(admin.unregister("tok"), (err) => err === error);
  await assert.rejects(admin.tags("tok"), (err) => err === error);
});

Deno.test("`MistAdmin` manages tokens on a real server", async () => {
  const authenticator = await openMemory(new URL("memory://"));
  await using server = await serve({
    listeners: ["tcp://127.0.0.1:0"],
    authenticator,
    token: "admin-token",
  });
  await using client = await connect(server.addresses[0]!, {
    token: "admin-token",
  });
  await client.admin.register("reader", ["b", "a"]);
  assert.deepEqual(await client.admin.tags("reader"), ["a", "b"]);
  await client.admin.set("reader", ["c"]);
  await client.admin.unset("reader", ["a"]);
  assert.deepEqual(await client.admin.tags("reader"), ["b", "c"]);
  await client.admin.unregister("reader");
  await assert.rejects(client.admin.tags("reader"), { name: "MistError" });
});
