/**
 * TLS for every transport: tls://, https:// and wss:// with a certificate made
 * by openssl for the test.
 */

import assert from "node:assert/strict";
import { serve } from "../../src/server/server.ts";
import { args, runProgram, ServerProcess } from "../_program.ts";
import {
  addressOf,
  hostPort,
  LineClient,
  RawWebSocket,
  sleep,
  writeAll,
} from "../_helpers.ts";
import { testCertificate } from "../_certificates.ts";

const certificate = await testCertificate();
const ignore = certificate === undefined;
if (ignore) {
  // deno-lint-ignore no-console
  console.warn("Skipping the TLS tests: openssl is not installed");
}

const PONG = { command: "ping", tags: [], data: "pong" };

function connectTls(url: string): Promise<Deno.TlsConn> {
  return Deno.connectTls({ ...hostPort(url), caCerts: [certificate!.ca] });
}

Deno.test({
  name:
    "tls://, https:// and wss:// serve the protocol with the configured certificate",
  ignore,
  async fn() {
    const { ca, cert, key } = certificate!;
    await using server = await serve({
      listeners: [
        "tls://127.0.0.1:0",
        "https://127.0.0.1:0",
        "wss://127.0.0.1:0",
      ],
      tls: { cert, key },
    });
    const tls = addressOf(server, "tls"), https = addressOf(server, "https");
    assert.match(tls, /^tls:\/\/127\.0\.0\.1:\d+$/);

    await using line = new LineClient(await connectTls(tls));
    assert.deepEqual(await line.request({ command: "ping" }), PONG);
    await line.send({ command: "subscribe", tags: ["secure"] });
    await line.sync();

    using client = Deno.createHttpClient({ caCerts: [ca] });
    const ping = await fetch(`${https}/ping`, { client });
    assert.equal(await ping.text(), "pong\n");
    const published = await fetch(`${https}/publish`, {
      client,
      method: "POST",
      body: '{"tags":["secure"],"data":"over https"}',
    });
    assert.equal(published.status, 202);
    await published.body?.cancel();
    assert.deepEqual(await line.sync(), [
      { command: "publish", tags: ["secure"], data: "over https" },
    ]);

    for (const url of [addressOf(server, "wss"), https]) {
      using conn = await connectTls(url);
      const ws = await RawWebSocket.handshake(conn);
      await ws.sendText(
        '{"command":"publish","tags":["secure"],"data":"over wss"}',
      );
      await ws.sendText('{"command":"ping"}');
      assert.deepEqual(JSON.parse((await ws.readText())!), PONG);
      assert.deepEqual(await line.sync(), [
        { command: "publish", tags: ["secure"], data: "over wss" },
      ]);
    }
  },
});

Deno.test({
  name: "a TLS listener survives clients that do not speak TLS",
  ignore,
  async fn() {
    const { cert, key } = certificate!;
    await using server = await serve({
      listeners: ["tls://127.0.0.1:0"],
      tls: { cert, key },
    });
    const url = addressOf(server, "tls");
    using plain = await Deno.connect(hostPort(url));
    await writeAll(plain, new TextEncoder().encode('{"command":"ping"}\n'));
    using silent = await Deno.connect(hostPort(url));
    await using line = new LineClient(await connectTls(url));
    assert.deepEqual(await line.request({ command: "ping" }), PONG);
    // The server answers with a TLS alert at most, then hangs up.
    const buffer = new Uint8Array(64);
    let n: number | null = 0;
    while (n !== null) n = await plain.read(buffer).catch(() => null);
    void silent; // still in its handshake when the server closes
  },
});

Deno.test("a TLS listener without a certificate refuses to start", async () => {
  for (
    const url of [
      "tls://127.0.0.1:0",
      "https://127.0.0.1:0",
      "wss://127.0.0.1:0",
    ]
  ) {
    await assert.rejects(
      serve({ listeners: ["tcp://127.0.0.1:0", url] }),
      new RegExp(
        `Cannot listen on ${url}: \\w+:// needs a certificate: set tls-cert and tls-key`,
      ),
    );
  }
});

Deno.test({
  name:
    "mist --server --tls-cert --tls-key starts TLS listeners; bad TLS settings fail clearly",
  ignore,
  async fn() {
    const { certFile, keyFile } = certificate!;
    {
      await using server = new ServerProcess([
        "--listeners",
        "tls://127.0.0.1:0",
        "--tls-cert",
        certFile,
        "--tls-key",
        keyFile,
      ]);
      await using line = new LineClient(
        await connectTls(await server.address("tls")),
      );
      assert.deepEqual(await line.request({ command: "ping" }), PONG);
      assert.equal((await server.stop()).code, 0);
    }
    const noCert = await runProgram(
      args("--server", { listeners: "tls://127.0.0.1:0" }),
    );
    assert.equal(noCert.code, 1);
    assert.match(
      noCert.stderr,
      /tls:\/\/ needs a certificate: set tls-cert and tls-key/,
    );
    const missing = await runProgram(
      args("--server", {
        listeners: "tls://127.0.0.1:0",
        "tls-cert": "/nonexistent.pem",
        "tls-key": keyFile,
      }),
    );
    assert.equal(missing.code, 1);
    assert.match(
      missing.stderr,
      /Cannot read tls-cert \/nonexistent.pem: no such file/,
    );
    const half = await runProgram(["--server", "--tls-cert", certFile]);
    assert.equal(half.code, 2);
    assert.match(half.stderr, /tls-cert and tls-key go together/);
  },
});

Deno.test({
  name:
    "tls://, https:// and wss:// close a client that sends nothing within its deadline: the client sees the end, the descriptor is freed",
  ignore,
  async fn() {
    const { cert, key } = certificate!;
    await using server = await serve({
      listeners: [
        "tls://127.0.0.1:0",
        "https://127.0.0.1:0",
        "wss://127.0.0.1:0",
      ],
      tls: { cert, key },
      tlsHandshakeTimeoutMs: 200,
      requestTimeoutMs: 200,
    });
    for (const url of server.addresses) {
      const conn = await Deno.connect(hostPort(url));
      try {
        // Deno's own TLS (Deno.listenTls) kept such a socket open until the
        // peer spoke: this read would wait for the 5 s fallback.
        const end = await Promise.race([
          conn.read(new Uint8Array(64)).catch(() => null),
          sleep(5000).then(() => "still open after 5 s"),
        ]);
        assert.equal(end, null, url);
      } finally {
        conn.close();
      }
      // The listener still serves a client that does its handshake.
      if (url.startsWith("tls:")) {
        await using client = new LineClient(await connectTls(url));
        assert.deepEqual(await client.request({ command: "ping" }), PONG);
      }
    }
  },
});
