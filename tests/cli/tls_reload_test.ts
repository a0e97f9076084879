/**
 * SIGHUP with a renewed certificate: every TLS listener serves the new one
 * to new connections while the open ones go on; a broken pair changes nothing.
 */

import assert from "node:assert/strict";
import {
  EventStreamClient,
  eventually,
  hostPort,
  LineClient,
  RawWebSocket,
} from "../_helpers.ts";
import { ServerProcess } from "../_program.ts";
import { type TestCertificate, testCertificate } from "../_certificates.ts";

const a = await testCertificate();
const b = await testCertificate();
const ignore = a === undefined || b === undefined;

const PUBLISHED = { command: "publish", tags: ["t"], data: "after" };

async function install(dir: string, cert: string, key: string) {
  await Deno.writeTextFile(`${dir}/cert.pem`, cert);
  await Deno.writeTextFile(`${dir}/key.pem`, key);
}

function connectTls(url: string, ca: TestCertificate): Promise<Deno.TlsConn> {
  return Deno.connectTls({ ...hostPort(url), caCerts: [ca.ca] });
}

/** A new connection to each listener, trusting only `ca`, answers a ping. */
async function pingEach(
  urls: { tls: string; https: string; wss: string },
  ca: TestCertificate,
  https = true,
): Promise<void> {
  await using line = new LineClient(await connectTls(urls.tls, ca));
  assert.equal((await line.request({ command: "ping" })).data, "pong");
  if (https) {
    using client = Deno.createHttpClient({ caCerts: [ca.ca] });
    const ping = await fetch(`${urls.https}/ping`, { client });
    assert.equal(await ping.text(), "pong\n");
  }
  using conn = await connectTls(urls.wss, ca);
  const ws = await RawWebSocket.handshake(conn);
  await ws.sendText('{"command":"ping"}');
  assert.equal(JSON.parse((await ws.readText())!).data, "pong");
}

/** Whether a handshake trusting only `ca` is refused by each listener. */
async function refusedEach(
  urls: { tls: string; https: string; wss: string },
  ca: TestCertificate,
): Promise<void> {
  for (const url of [urls.tls, urls.https, urls.wss]) {
    await assert.rejects(
      (async () => {
        using conn = await connectTls(url, ca);
        await conn.handshake();
      })(),
      /BadSignature|UnknownIssuer/,
      url,
    );
  }
}

Deno.test({
  name:
    "SIGHUP with a renewed certificate serves it on tls://, https:// and wss:// to new connections; open ones go on",
  ignore,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "mist-reload-" });
    await install(dir, a!.cert, a!.key);
    const file = `${dir}/mist.yaml`;
    await Deno.writeTextFile(
      file,
      [
        "listeners:",
        "  - tls://127.0.0.1:0",
        "  - https://127.0.0.1:0",
        "  - wss://127.0.0.1:0",
        `tls-cert: ${dir}/cert.pem`,
        `tls-key: ${dir}/key.pem`,
      ].join("\n"),
    );
    await using server = new ServerProcess(["--config", file]);
    const urls = {
      tls: await server.address("tls"),
      https: await server.address("https"),
      wss: await server.address("wss"),
    };
    await pingEach(urls, a!);

    // Subscribers that stay connected across the reload, one per listener.
    await using line = new LineClient(await connectTls(urls.tls, a!));
    await line.send({ command: "subscribe", tags: ["t"] });
    await line.sync();
    using httpA = Deno.createHttpClient({ caCerts: [a!.ca] });
    await using events = await EventStreamClient.open(
      `${urls.https}/subscribe?tags=t`,
      { client: httpA } as RequestInit,
    );
    using wsConn = await connectTls(urls.wss, a!);
    const ws = await RawWebSocket.handshake(wsConn);
    await ws.sendText('{"command":"subscribe","tags":["t"]}');
    await ws.sendText('{"command":"ping"}');
    assert.equal(JSON.parse((await ws.readText())!).data, "pong");

    await install(dir, b!.cert, b!.key);
    Deno.kill(server.child.pid, "SIGHUP");
    await server.waitFor(/\[INFO \] mist: Configuration reloaded: tls-cert$/);
    const renewed = await server.waitFor(
      /\[INFO \] mist: New TLS certificate served on (.+)$/,
    );
    assert.deepEqual(
      renewed[1]!.split(", ").sort(),
      [urls.https, urls.tls, urls.wss].sort(),
    );

    await pingEach(urls, b!);
    await refusedEach(urls, a!);

    // The connections opened with certificate A still deliver.
    await using publisher = new LineClient(await connectTls(urls.tls, b!));
    await publisher.send({ command: "publish", tags: ["t"], data: "after" });
    assert.deepEqual(await publisher.sync(), []);
    assert.deepEqual(await line.next(), PUBLISHED);
    assert.deepEqual(await events.next(), PUBLISHED);
    assert.deepEqual(JSON.parse((await ws.readText())!), PUBLISHED);
    assert.equal((await line.request({ command: "ping" })).data, "pong");

    // A key of another pair: an ERROR, and B stays.
    await install(dir, a!.cert, b!.key);
    Deno.kill(server.child.pid, "SIGHUP");
    await server.waitFor(
      /\[ERROR\] mist: Configuration not reloaded, nothing changed: .*cannot be served/,
    );
    await pingEach(urls, b!);
    // Unchanged files are no change; a valid pair applies again.
    await install(dir, a!.cert, a!.key);
    Deno.kill(server.child.pid, "SIGHUP");
    await eventually(
      () =>
        server.lines.filter((l) => /reloaded: tls-cert$/.test(l)).length > 1,
      "the second renewal",
    );
    await pingEach(urls, a!);

    const { code, stderr } = await server.stop("SIGTERM");
    assert.equal(code, 0, stderr);
    assert.doesNotMatch(stderr, /applied only at a restart/);
    assert.doesNotMatch(stderr, /accept failed/);
    await Deno.remove(dir, { recursive: true });
  },
});
