/**
 * Mutual TLS: a `tls://` listener with a client CA (`tls-client-ca`) serves
 * only clients presenting a certificate that CA signed.
 */

import assert from "node:assert/strict";
import { dirname } from "node:path";
import { connect } from "../../src/client/client.ts";
import { serve } from "../../src/server/server.ts";
import { testCertificate } from "../_certificates.ts";
import { eventually, hostPort, LineClient } from "../_helpers.ts";
import { args, runProgram, ServerProcess } from "../_program.ts";
import { ServerTls } from "../../src/listeners/tls_socket.ts";

const certificate = await testCertificate();
const ignore = certificate === undefined;

const decoder = new TextDecoder();

async function openssl(dir: string, ...words: string[]): Promise<void> {
  const { success, stderr } = await new Deno.Command("openssl", {
    args: words,
    cwd: dir,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.ok(success, `openssl ${words[0]}: ${decoder.decode(stderr)}`);
}

/** A client certificate, PEM and files. */
interface ClientCertificate {
  cert: string;
  key: string;
  certFile: string;
  keyFile: string;
}

const EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];

/** A client certificate signed by the CA `ca` (`<ca>.pem`, `<ca>.key` in `dir`). */
async function clientCertificate(
  dir: string,
  ca: string,
  name: string,
): Promise<ClientCertificate> {
  await Deno.writeTextFile(
    `${dir}/client.ext`,
    "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n",
  );
  // deno-fmt-ignore
  await openssl(dir, "req", "-new", ...EC, "-nodes", "-subj", `/CN=${name}`,
    "-keyout", `${name}.key`, "-out", `${name}.csr`);
  // deno-fmt-ignore
  await openssl(dir, "x509", "-req", "-in", `${name}.csr`, "-CA", `${ca}.pem`,
    "-CAkey", `${ca}.key`, "-CAcreateserial", "-days", "1",
    "-extfile", "client.ext", "-out", `${name}.pem`);
  const certFile = `${dir}/${name}.pem`, keyFile = `${dir}/${name}.key`;
  return {
    cert: await Deno.readTextFile(certFile),
    key: await Deno.readTextFile(keyFile),
    certFile,
    keyFile,
  };
}

let client: ClientCertificate | undefined;
let stranger: ClientCertificate | undefined;
if (certificate !== undefined) {
  const dir = dirname(certificate.caFile);
  client = await clientCertificate(dir, "ca", "client");
  // deno-fmt-ignore
  await openssl(dir, "req", "-x509", ...EC, "-nodes", "-days", "1",
    "-subj", "/CN=another CA", "-keyout", "other.key", "-out", "other.pem");
  stranger = await clientCertificate(dir, "other", "stranger");
}

const PONG = { command: "ping", tags: [], data: "pong" };

function mutualServer() {
  const { ca, cert, key } = certificate!;
  return serve({
    listeners: ["tls://127.0.0.1:0"],
    tls: { cert, key, clientCa: ca },
  });
}

/** A raw TLS connection to `url`, presenting `with` when given. */
function connectTls(
  url: string,
  with_?: ClientCertificate,
): Promise<Deno.TlsConn> {
  return Deno.connectTls({
    ...hostPort(url),
    caCerts: [certificate!.ca],
    ...(with_ === undefined ? {} : { cert: with_.cert, key: with_.key }),
  });
}

/** Asserts that the server refuses the connection: its handshake or first read fails or ends. */
async function refused(url: string, with_?: ClientCertificate) {
  let answered: number | null = null;
  try {
    const conn = await connectTls(url, with_);
    try {
      // TLS 1.3: the client's handshake may finish before the server checks
      // its certificate; the refusal then arrives on the first read.
      await conn.handshake();
      await conn.write(new TextEncoder().encode('{"command":"ping"}\n'));
      answered = await conn.read(new Uint8Array(64));
    } finally {
      try {
        conn.close();
      } catch {
        // Closed already.
      }
    }
  } catch {
    // Refused.
  }
  assert.equal(answered, null, "the server answered a client it should refuse");
}

Deno.test({
  name:
    "tls:// with a client CA serves clients with a certificate it signed and refuses the others",
  ignore,
  async fn() {
    await using server = await mutualServer();
    const url = server.addresses[0]!;
    await using alice = await connect(url, {
      caCerts: [certificate!.ca],
      cert: client!.cert,
      key: client!.key,
      reconnect: false,
    });
    assert.equal(typeof await alice.ping(), "number");
    const sub = await alice.subscribe(["secure"]);

    await refused(url);
    await refused(url, stranger);
    for (const with_ of [undefined, stranger]) {
      await assert.rejects(
        connect(url, {
          caCerts: [certificate!.ca],
          ...(with_ === undefined ? {} : { cert: with_.cert, key: with_.key }),
          reconnect: false,
          timeoutMs: 5000,
        }),
        /cannot connect/,
      );
    }

    // The server still serves: a raw line client and the first client.
    await using bob = new LineClient(await connectTls(url, client));
    assert.deepEqual(await bob.request({ command: "ping" }), PONG);
    await bob.send({ command: "publish", tags: ["secure"], data: "mutual" });
    for await (const message of sub) {
      assert.deepEqual(message, {
        command: "publish",
        tags: ["secure"],
        data: "mutual",
      });
      break;
    }
    await alice.publish(["secure", "back"], "to bob");
    await bob.send({ command: "subscribe", tags: ["back"] });
    await bob.sync();
    await alice.publish(["back"], "to bob");
    assert.deepEqual(await bob.sync(), [
      { command: "publish", tags: ["back"], data: "to bob" },
    ]);
  },
});

Deno.test({
  name: "tls:// with a client CA closes, with clients mid-handshake",
  ignore,
  async fn() {
    const server = await mutualServer();
    const url = server.addresses[0]!;
    using silent = await Deno.connect(hostPort(url));
    await using alice = new LineClient(await connectTls(url, client));
    assert.deepEqual(await alice.request({ command: "ping" }), PONG);
    await server.close();
    const n = await silent.read(new Uint8Array(8)).catch(() => null);
    assert.equal(n, null);
  },
});

Deno.test({
  name: "connect() wants cert and key together",
  async fn() {
    await assert.rejects(
      connect("tls://127.0.0.1:1", { cert: "x" }),
      /cert and key go together/,
    );
  },
});

Deno.test({
  name:
    "mist --tls-client-ca: mist ping --cert --key connects, without them exits 3; https:// and wss:// refuse it",
  ignore,
  async fn() {
    const { caFile, certFile, keyFile } = certificate!;
    {
      await using server = new ServerProcess([
        "--listeners",
        "tls://127.0.0.1:0",
        "--tls-cert",
        certFile,
        "--tls-key",
        keyFile,
        "--tls-client-ca",
        caFile,
      ]);
      const host = await server.address("tls");
      const ok = await runProgram(
        args("ping", {
          host,
          ca: caFile,
          cert: client!.certFile,
          key: client!.keyFile,
        }),
      );
      assert.equal(ok.code, 0, ok.stderr);
      assert.match(ok.stdout, /^pong /);
      const without = await runProgram(args("ping", { host, ca: caFile }));
      assert.equal(without.code, 3, without.stderr);
      const half = await runProgram(
        args("ping", { host, ca: caFile, cert: client!.certFile }),
      );
      assert.equal(half.code, 2);
      assert.match(half.stderr, /--cert and --key go together/);
      assert.equal((await server.stop()).code, 0);
    }
    for (const listener of ["https://127.0.0.1:0", "wss://127.0.0.1:0"]) {
      const refused = await runProgram(
        args("--server", {
          listeners: `tls://127.0.0.1:0,${listener}`,
          "tls-cert": certFile,
          "tls-key": keyFile,
          "tls-client-ca": caFile,
        }),
      );
      assert.equal(refused.code, 1);
      assert.match(
        refused.stderr,
        /tls-client-ca \(client certificates\) is supported only by tls:\/\/ listeners/,
      );
    }
    const env = await runProgram(
      args("--server", { listeners: "tls://127.0.0.1:0" }),
      { env: { MIST_TLS_CLIENT_CA: caFile } },
    );
    assert.equal(env.code, 2);
    assert.match(env.stderr, /tls-client-ca needs the server's certificate/);
  },
});

Deno.test({
  name:
    "tls:// with a client CA closes a connection that does not finish its handshake within tls-handshake-timeout",
  ignore,
  async fn() {
    const { ca, cert, key } = certificate!;
    await using server = await serve({
      listeners: ["tls://127.0.0.1:0"],
      tls: { cert, key, clientCa: ca },
      tlsHandshakeTimeoutMs: 200,
    });
    await endsWithoutHandshake(server.addresses[0]!);
  },
});

Deno.test({
  name:
    "tls:// with a client CA frees the descriptor of a client that never handshakes at tls-handshake-timeout, and keeps accepted connections alive",
  ignore,
  async fn() {
    const { ca, cert, key } = certificate!;
    await using server = await serve({
      listeners: ["tls://127.0.0.1:0"],
      tls: { cert, key, clientCa: ca },
      tlsHandshakeTimeoutMs: 300,
    });
    const address = hostPort(server.addresses[0]!);
    const before = openDescriptors();
    const silent = await Deno.connect(address);
    const port = (silent.localAddr as Deno.NetAddr).port;
    try {
      // The server's side of it has SO_KEEPALIVE: its keepalive timer runs.
      await eventually(
        () => serverTimer(address.port, port) === "02",
        "a keepalive timer on the accepted connection",
      );
      assert.equal(openDescriptors(), before + 2); // the client's and the server's
      const n = await silent.read(new Uint8Array(64)).catch(() => null);
      assert.equal(n, null); // EOF from the deadline, without a byte sent
    } finally {
      silent.close();
    }
    await eventually(
      () => openDescriptors() === before,
      "both descriptors freed",
    );
    assert.equal(serverTimer(address.port, port), undefined);
  },
});

/** The descriptors this process holds. */
function openDescriptors(): number {
  return [...Deno.readDirSync("/proc/self/fd")].length;
}

/**
 * The timer of the server's side of a loopback TCP connection in
 * /proc/net/tcp (`02`: keepalive), or `undefined` when it is gone.
 */
function serverTimer(
  serverPort: number,
  clientPort: number,
): string | undefined {
  const hex = (port: number) =>
    port.toString(16).toUpperCase().padStart(4, "0");
  const local = `:${hex(serverPort)}`, remote = `:${hex(clientPort)}`;
  for (const line of Deno.readTextFileSync("/proc/net/tcp").split("\n")) {
    const [, from, to, state, , timer] = line.trim().split(/\s+/);
    if (from?.endsWith(local) && to?.endsWith(remote) && state === "01") {
      return timer?.slice(0, 2);
    }
  }
  return undefined;
}

/** Whether the server ends a TCP connection that never starts its TLS handshake. */
async function endsWithoutHandshake(url: string): Promise<void> {
  const conn = await Deno.connect(hostPort(url));
  try {
    // Nothing sent: the server's deadline closes it, else the test times out.
    const n = await conn.read(new Uint8Array(64)).catch(() => null);
    assert.equal(n, null);
  } finally {
    conn.close();
  }
}

Deno.test({
  name:
    "tls:// with a client CA serves a renewed certificate to new handshakes and keeps the open connections",
  ignore,
  async fn() {
    const renewed = (await testCertificate())!;
    await using server = await mutualServer();
    const url = server.addresses[0]!;
    await using before = new LineClient(await connectTls(url, client));
    assert.deepEqual(await before.request({ command: "ping" }), PONG);

    assert.deepEqual(
      await server.renewCertificate({ cert: renewed.cert, key: renewed.key }),
      { renewed: [url], kept: [] },
    );
    await using after = new LineClient(
      await Deno.connectTls({
        ...hostPort(url),
        caCerts: [renewed.ca],
        cert: client!.cert,
        key: client!.key,
      }),
    );
    assert.deepEqual(await after.request({ command: "ping" }), PONG);
    await refused(url, stranger);
    assert.deepEqual(await before.request({ command: "ping" }), PONG);
  },
});

Deno.test({
  name:
    "ServerTls on a Deno.listen connection: reads and writes, and a renewed certificate serves the next handshake",
  ignore,
  async fn() {
    const renewed = (await testCertificate())!;
    using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const tls = new ServerTls(certificate!);
    const echo = async () => {
      const stream = await tls.start(await listener.accept(), 5000);
      const buffer = new Uint8Array(64);
      const n = await stream.read(buffer);
      await stream.write(buffer.subarray(0, n!));
      stream.close();
    };
    for (const ca of [certificate!.ca, renewed.ca]) {
      const served = echo();
      const client = await Deno.connectTls({
        hostname: "localhost",
        port: listener.addr.port,
        caCerts: [ca],
      });
      await client.handshake();
      await client.write(new TextEncoder().encode("hello"));
      const buffer = new Uint8Array(64);
      const n = await client.read(buffer);
      assert.equal(new TextDecoder().decode(buffer.subarray(0, n!)), "hello");
      assert.equal(await client.read(buffer).catch(() => null), null);
      client.close();
      await served;
      tls.renew(renewed);
    }
  },
});
