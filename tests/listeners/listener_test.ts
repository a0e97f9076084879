import assert from "node:assert/strict";
import {
  bindAddress,
  boundUrl,
  keepExplicitPort,
  type Listener,
  type ListenerFactory,
  listeners,
  registerListener,
  startListeners,
} from "../../src/listeners/listener.ts";
import type { Connection } from "../../src/server/connection.ts";
import type { ServerPort } from "../../src/server/port.ts";
import { serve } from "../../src/server/server.ts";
import {
  type ListenerStats,
  newStats,
  type Outlet,
} from "../../src/server/transport.ts";
import { within } from "../../src/testing/eventually.ts";
import { captureLogs, recordText } from "../_logs.ts";

/** A listener that starts at once and is closed by hand. */
function stubListener(url: string): Listener & { closes: number } {
  const finished = Promise.withResolvers<void>();
  return {
    url,
    stats: newStats(),
    closes: 0,
    close() {
      this.closes++;
      finished.resolve();
    },
    finished: finished.promise,
  };
}

/** Registers a stub listener factory under a scheme no other test uses. */
function stubScheme(scheme: string, fail?: () => unknown): string[] {
  const asked: string[] = [];
  registerListener(scheme, (url) => {
    asked.push(url.href);
    if (fail !== undefined) return Promise.reject(fail());
    return Promise.resolve(stubListener(url.href));
  });
  return asked;
}

const port = {} as ServerPort;

Deno.test("`startListeners()` skips a scheme nobody registered, with a warning", async () => {
  const asked = stubScheme("stub-skip");
  const started: Listener[] = [];
  const { records } = await captureLogs(() =>
    startListeners(
      ["nope://127.0.0.1:1", "stub-skip://here:1"],
      port,
      (listener) => started.push(listener),
    )
  );
  assert.deepEqual(asked, ["stub-skip://here:1"]);
  assert.deepEqual(started.map((l) => l.url), ["stub-skip://here:1"]);
  const warnings = records.filter((r) => r.level === "warning");
  assert.equal(warnings.length, 1);
  assert.match(recordText(warnings[0]!), /nope:\/\/127\.0\.0\.1:1/);
  assert.match(recordText(warnings[0]!), /"scheme":"nope"/);
  for (const listener of started) listener.close();
});

Deno.test("`startListeners()` finds a registered scheme whatever its case", async () => {
  const asked = stubScheme("stub-case");
  const started: Listener[] = [];
  await startListeners(["STUB-CASE://h:1"], port, (l) => started.push(l));
  assert.equal(asked.length, 1);
  assert.equal(started.length, 1);
  for (const listener of started) listener.close();
});

Deno.test("`startListeners()` fails when no listener started, listing what was asked", async (t) => {
  const table: [string[], string][] = [
    [[], "No listener started (asked for: none)"],
    [
      ["nope://a:1", "neither://b:2"],
      "No listener started (asked for: nope://a:1, neither://b:2)",
    ],
  ];
  for (const [urls, message] of table) {
    await t.step(JSON.stringify(urls), async () => {
      await captureLogs(async () => {
        await assert.rejects(
          startListeners(urls, port, () => assert.fail("nothing starts")),
          { message },
        );
      });
    });
  }
});

Deno.test("`startListeners()` fails on an invalid URL, naming it, and starts nothing after it", async () => {
  const asked = stubScheme("stub-invalid");
  const started: Listener[] = [];
  await assert.rejects(
    startListeners(
      ["stub-invalid://first:1", "not a url", "stub-invalid://second:1"],
      port,
      (l) => started.push(l),
    ),
    { message: 'Invalid listener URL "not a url"' },
  );
  assert.deepEqual(asked, ["stub-invalid://first:1"]);
  assert.equal(started.length, 1, "the caller can close the first one");
  for (const listener of started) listener.close();
});

Deno.test("`startListeners()` fails on a listener that cannot start, naming its URL", async (t) => {
  const table: [string, () => unknown, string][] = [
    ["any error", () => new Error("boom"), "boom"],
    [
      "address in use",
      () => new Deno.errors.AddrInUse("os error 98"),
      "address already in use",
    ],
    [
      "permission denied",
      () => new Deno.errors.PermissionDenied("os error 13"),
      "permission denied",
    ],
    ["a thrown string", () => "plain", "plain"],
  ];
  for (const [name, fail, reason] of table) {
    await t.step(name, async () => {
      const scheme = `stub-fail-${name.replaceAll(" ", "-")}`;
      let cause: unknown;
      stubScheme(scheme, () => cause = fail());
      const url = `${scheme}://h:9`;
      await assert.rejects(
        startListeners([url], port, () => assert.fail("it failed")),
        (err: unknown) => {
          assert.ok(err instanceof Error);
          assert.equal(err.message, `Cannot listen on ${url}: ${reason}`);
          assert.equal(err.cause, cause);
          return true;
        },
      );
    });
  }
});

Deno.test("`registerListener()` replaces the factory of a scheme", async () => {
  const first: ListenerFactory = () => Promise.reject(new Error("first"));
  const second: ListenerFactory = (url) =>
    Promise.resolve(stubListener(url.href));
  registerListener("stub-replace", first);
  registerListener("STUB-REPLACE", second);
  assert.equal(listeners.get("stub-replace"), second);
  const started: Listener[] = [];
  await startListeners(["stub-replace://h:1"], port, (l) => started.push(l));
  assert.equal(started.length, 1);
  for (const listener of started) listener.close();
});

/** An in-memory listener: each `connect()` opens a connection on the server. */
class MemoryListener implements Listener {
  readonly url: string;
  readonly stats: ListenerStats = newStats();
  readonly #port: ServerPort;
  readonly #finished = Promise.withResolvers<void>();
  readonly #connections = new Set<Connection>();

  constructor(url: URL, port: ServerPort) {
    this.url = url.href;
    this.#port = port;
  }

  connect(): { connection: Connection; lines: string[]; closed: boolean } {
    const client = {
      lines: [] as string[],
      closed: false,
      connection: undefined as unknown as Connection,
    };
    const outlet: Outlet = {
      write(frames) {
        for (const frame of frames) client.lines.push(frame.text);
      },
      close() {
        client.closed = true;
      },
    };
    const connection = this.#port.open(outlet, {
      listener: this.url,
      remote: "memory",
      stats: this.stats,
    });
    client.connection = connection;
    this.#connections.add(connection);
    connection.closed.then(() => {
      this.#connections.delete(connection);
      if (this.#connections.size === 0 && this.#closing) {
        this.#finished.resolve();
      }
    });
    return client;
  }

  #closing = false;

  close(): void {
    this.#closing = true;
    if (this.#connections.size === 0) this.#finished.resolve();
  }

  get finished(): Promise<void> {
    return this.#finished.promise;
  }
}

Deno.test("`registerListener()` lets a custom listener open connections through `ServerPort.open`", async () => {
  const started: MemoryListener[] = [];
  registerListener("memtest", (url, server) => {
    const listener = new MemoryListener(url, server);
    started.push(listener);
    return Promise.resolve(listener);
  });
  const server = await captureLogs(() =>
    serve({ listeners: ["memtest://inside"] })
  ).then(({ result }) => result);
  try {
    assert.deepEqual(server.addresses, ["memtest://inside"]);
    const listener = started[0]!;
    const client = listener.connect();
    assert.equal(listener.stats.connections, 1);
    assert.equal(listener.stats.accepted, 1);
    await client.connection.receive(
      JSON.stringify({ command: "ping", id: "p1" }),
    );
    await within(
      (async () => {
        while (client.lines.length === 0) {
          await new Promise((resolve) => setTimeout(resolve, 1));
        }
      })(),
      "the pong",
    );
    const reply = JSON.parse(client.lines[0]!);
    assert.equal(reply.command, "ping");
    assert.equal(reply.data, "pong");
    assert.equal(reply.id, "p1");
    await server.close();
    assert.equal(client.closed, true, "the server closes its connection");
    assert.equal(listener.stats.connections, 0);
  } finally {
    await server.close();
  }
});

Deno.test("`bindAddress()` gives the host to bind, without IPv6 brackets, and the port", async (t) => {
  const table: [string, number, { hostname: string; port: number }][] = [
    ["tcp://127.0.0.1:1445", 1, { hostname: "127.0.0.1", port: 1445 }],
    ["tcp://127.0.0.1", 1445, { hostname: "127.0.0.1", port: 1445 }],
    ["tcp://[::1]:8080", 1, { hostname: "::1", port: 8080 }],
    ["ws://[::]", 80, { hostname: "::", port: 80 }],
    ["http://Example.COM:0", 80, { hostname: "example.com", port: 0 }],
    ["tls://0.0.0.0:0", 443, { hostname: "0.0.0.0", port: 0 }],
  ];
  for (const [url, defaultPort, expected] of table) {
    await t.step(url, () => {
      assert.deepEqual(bindAddress(new URL(url), defaultPort), expected);
    });
  }
});

Deno.test("a port written out is bound even where `URL` drops it as its scheme's default", () => {
  for (
    const [text, port] of [
      ["http://127.0.0.1:80", 80],
      ["https://[::1]:443/", 443],
      ["ws://u@localhost:80", 80],
      ["wss://0.0.0.0:443", 443],
      ["http://127.0.0.1", 8080],
      ["tcp://127.0.0.1:80", 80],
    ] as const
  ) {
    const url = new URL(text);
    keepExplicitPort(url, text);
    assert.equal(bindAddress(url, 8080).port, port, text);
  }
});

Deno.test("`bindAddress()` refuses a URL with no host", () => {
  assert.throws(() => bindAddress(new URL("tcp:nohost"), 1), {
    name: "TypeError",
    message: "tcp:nohost has no host",
  });
});

Deno.test("`boundUrl()` writes a bound address as a URL, IPv6 in brackets", async (t) => {
  const table: [string, string, number, string][] = [
    ["tcp", "127.0.0.1", 40123, "tcp://127.0.0.1:40123"],
    ["tcp", "::1", 40123, "tcp://[::1]:40123"],
    ["ws", "::", 8888, "ws://[::]:8888"],
    ["https", "fe80::1", 8443, "https://[fe80::1]:8443"],
  ];
  for (const [scheme, hostname, portNumber, expected] of table) {
    await t.step(expected, () => {
      const addr: Deno.NetAddr = {
        transport: "tcp",
        hostname,
        port: portNumber,
      };
      assert.equal(boundUrl(scheme, addr), expected);
      assert.deepEqual(bindAddress(new URL(expected), 0), {
        hostname,
        port: portNumber,
      });
    });
  }
});
