import assert from "node:assert/strict";
import { Registry } from "./registry.ts";

Deno.test("`Registry.get()` finds a scheme whatever its case, with or without `:`", async (t) => {
  const registry = new Registry<string>("thing");
  registry.register("Tcp", "tcp factory");
  for (const scheme of ["tcp", "TCP", "tCp", "tcp:", "TCP:"]) {
    await t.step(JSON.stringify(scheme), () => {
      assert.equal(registry.get(scheme), "tcp factory");
    });
  }
});

Deno.test("`Registry.get()` is undefined for a scheme nobody registered", () => {
  const registry = new Registry<string>("thing");
  registry.register("tcp", "t");
  assert.equal(registry.get("tls"), undefined);
  assert.equal(registry.get("tc"), undefined);
});

Deno.test("`Registry.register()` replaces a factory under the same scheme, any case", () => {
  const registry = new Registry<string>("thing");
  registry.register("ws", "first");
  registry.register("tcp", "t");
  registry.register("WS", "second");
  assert.equal(registry.get("ws"), "second");
  assert.deepEqual(registry.schemes(), ["ws", "tcp"]);
});

Deno.test("`Registry.schemes()` lists schemes in lower case, in registration order", () => {
  const registry = new Registry<number>("thing");
  assert.deepEqual(registry.schemes(), []);
  registry.register("B", 1);
  registry.register("a", 2);
  registry.register("C", 3);
  assert.deepEqual(registry.schemes(), ["b", "a", "c"]);
});

Deno.test("`Registry.require()` returns the factory of a URL's scheme", () => {
  const registry = new Registry<string>("listener");
  registry.register("tcp", "t");
  assert.equal(registry.require(new URL("TCP://127.0.0.1:1")), "t");
});

Deno.test("`Registry.require()` names the family, the scheme and the known schemes", () => {
  const registry = new Registry<string>("listener");
  registry.register("tcp", "t");
  registry.register("ws", "w");
  assert.throws(
    () => registry.require(new URL("quic://host:1")),
    {
      name: "TypeError",
      message: 'Unknown listener scheme "quic"; known: tcp://, ws://',
    },
  );
});

Deno.test("`Registry.require()` of an empty registry says nothing is known", () => {
  assert.throws(
    () => new Registry<string>("backplane").require(new URL("redis://h")),
    { message: 'Unknown backplane scheme "redis"; known: ' },
  );
});

Deno.test("`Registry.family` is the name it was given", () => {
  assert.equal(new Registry<string>("authenticator").family, "authenticator");
});
