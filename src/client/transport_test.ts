import assert from "node:assert/strict";
import {
  openTransport,
  registerTransport,
  type Transport,
  type TransportFactory,
  type TransportHandler,
  type TransportOptions,
  transportSchemes,
} from "./transport.ts";

/** A transport that records what it was opened with and sends nowhere. */
function fakeFactory(name: string) {
  const calls: {
    url: URL;
    options: TransportOptions;
    handler: TransportHandler;
  }[] = [];
  const factory: TransportFactory = (url, options, handler) => {
    calls.push({ url, options, handler });
    const transport: Transport & { name: string } = {
      name,
      presentsToken: false,
      send: () => {},
      close: () => {},
      closed: Promise.resolve(undefined),
    };
    return Promise.resolve(transport);
  };
  return { factory, calls };
}

const options: TransportOptions = {
  maxFrameBytes: 1024,
  signal: new AbortController().signal,
};
const handler: TransportHandler = { frame: () => {}, oversize: () => {} };

Deno.test("openTransport() opens the factory registered for the URL's scheme, with the options and handler", async () => {
  const fake = fakeFactory("fake");
  registerTransport("fake-open", fake.factory);
  const url = new URL("fake-open://127.0.0.1:1445");
  const transport = await openTransport(url, options, handler);
  assert.equal((transport as Transport & { name: string }).name, "fake");
  assert.equal(fake.calls.length, 1);
  assert.equal(fake.calls[0]!.url, url);
  assert.equal(fake.calls[0]!.options, options);
  assert.equal(fake.calls[0]!.handler, handler);
});

Deno.test("registerTransport() replaces the factory registered before under a scheme", async () => {
  const first = fakeFactory("first");
  const second = fakeFactory("second");
  registerTransport("fake-replaced", first.factory);
  registerTransport("FAKE-Replaced", second.factory);
  const transport = await openTransport(
    new URL("fake-replaced://h:1"),
    options,
    handler,
  );
  assert.equal((transport as Transport & { name: string }).name, "second");
  assert.equal(first.calls.length, 0);
  assert.equal(second.calls.length, 1);
});

Deno.test("transportSchemes() lists the registered schemes, lower-case, in the order first registered", () => {
  registerTransport("Fake-Listed-B", fakeFactory("b").factory);
  registerTransport("fake-listed-a", fakeFactory("a").factory);
  registerTransport("fake-listed-b", fakeFactory("b2").factory);
  const schemes = transportSchemes();
  const b = schemes.indexOf("fake-listed-b");
  const a = schemes.indexOf("fake-listed-a");
  assert.ok(b >= 0 && a > b, schemes.join(" "));
  assert.equal(schemes.filter((s) => s === "fake-listed-b").length, 1);
  assert.ok(!schemes.includes("Fake-Listed-B"));
});

Deno.test("openTransport() rejects a scheme nobody registered with a TypeError naming the known ones", async () => {
  registerTransport("fake-known", fakeFactory("known").factory);
  const opening = openTransport(
    new URL("nobody-registered://h:1"),
    options,
    handler,
  );
  assert.ok(opening instanceof Promise, "rejects, does not throw");
  await assert.rejects(opening, (err: unknown) => {
    assert.ok(err instanceof TypeError);
    assert.match(
      err.message,
      /^Unknown transport scheme "nobody-registered"; known: .*fake-known:\/\//,
    );
    return true;
  });
});

Deno.test("openTransport() rejects with whatever the factory rejects with", async () => {
  const refused = new Error("connection refused");
  registerTransport("fake-refusing", () => Promise.reject(refused));
  await assert.rejects(
    openTransport(new URL("fake-refusing://h:1"), options, handler),
    (err: unknown) => err === refused,
  );
});
