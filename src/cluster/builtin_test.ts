import assert from "node:assert/strict";
import { BUILTIN_BACKPLANES, openBackplane } from "./builtin.ts";
import { RedisBackplane } from "./backplane_redis.ts";

Deno.test("`openBackplane()` builds a `RedisBackplane` for `redis://` and `rediss://` once builtin.ts is imported", async (t) => {
  const table: [string, string | undefined, string][] = [
    [
      "redis://u:s3cret@127.0.0.1:6379/2",
      "chat",
      "redis://127.0.0.1:6379/2 channel mist:chat",
    ],
    [
      "REDIS://cache.internal",
      undefined,
      "redis://cache.internal/0 channel mist:mist",
    ],
    [
      "rediss://:s3cret@[::1]:6380",
      "a",
      "rediss://[::1]:6380/0 channel mist:a",
    ],
  ];
  for (const [url, name, description] of table) {
    await t.step(description, async () => {
      const backplane = openBackplane(url, { name });
      assert.ok(backplane instanceof RedisBackplane);
      assert.equal(backplane.state, "down", "not linked before start()");
      assert.equal(backplane.description, description);
      await backplane.close();
    });
  }
});

Deno.test("`openBackplane()` names the built-in schemes when it does not know one", () => {
  assert.throws(
    () => openBackplane("memcached://u:s3cret@h:1"),
    (err: unknown) => {
      assert.ok(err instanceof TypeError);
      assert.match(err.message, /^Invalid cluster URL scheme "memcached:"/);
      for (const scheme of BUILTIN_BACKPLANES) {
        assert.ok(err.message.includes(`${scheme}://`), scheme);
      }
      assert.ok(!err.message.includes("s3cret"));
      return true;
    },
  );
});

Deno.test("`openBackplane()` passes on the Redis backplane's refusals, without the password", async (t) => {
  const table: [string, BackplaneTestOptions, RegExp][] = [
    ["redis://u:s3cret@host:6379/db", {}, /database number/],
    ["redis://u:s3cret@host:6379/0?x=1", {}, /database number/],
    ["redis://:s3cret@h:1", { name: "" }, /Cluster name must not be empty/],
  ];
  for (const [url, options, message] of table) {
    await t.step(url.replaceAll("s3cret", "***"), () => {
      assert.throws(() => openBackplane(url, options), (err: unknown) => {
        assert.ok(err instanceof TypeError);
        assert.match(err.message, message);
        assert.ok(!err.message.includes("s3cret"));
        return true;
      });
    });
  }
});

type BackplaneTestOptions = Parameters<typeof openBackplane>[1];
