/**
 * Descriptor exhaustion (EMFILE): the real program, its open-file limit
 * lowered while it runs (`prlimit --pid`), flooded with connections until
 * every listener fails to accept; once they are released, every listener
 * answers again, the process never exited, and `/health/live` reported the
 * episode while it lasted.
 */

import assert from "node:assert/strict";
import { eventually, hostPort, LineClient, writeAll } from "../_helpers.ts";
import { ServerProcess } from "../_program.ts";
import { requiring } from "../_service.ts";
import { testCertificate } from "../_certificates.ts";
import { dirname } from "node:path";

const decoder = new TextDecoder();
const encoder = new TextEncoder();

const prlimitTest = requiring({
  name: "prlimit",
  missing: Deno.build.os === "linux" &&
      (() => {
        try {
          return Deno.statSync("/usr/bin/prlimit").isFile;
        } catch {
          return false;
        }
      })()
    ? undefined
    : "prlimit (util-linux) is not installed",
  install: "apt-get install util-linux",
});

/** One keep-alive HTTP/1.1 connection, opened before the flood. */
class HttpProbe {
  readonly #conn: Deno.Conn;
  #rest = "";
  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  /** GET path on this connection: the status and the body (ASCII). */
  async get(path: string): Promise<{ status: number; body: string }> {
    await writeAll(
      this.#conn,
      encoder.encode(`GET ${path} HTTP/1.1\r\nhost: mist\r\n\r\n`),
    );
    const buffer = new Uint8Array(64 * 1024);
    const more = async () => {
      const n = await this.#conn.read(buffer);
      assert.ok(n !== null, "the server closed the probe connection");
      this.#rest += decoder.decode(buffer.subarray(0, n));
    };
    while (!this.#rest.includes("\r\n\r\n")) await more();
    const end = this.#rest.indexOf("\r\n\r\n");
    const head = this.#rest.slice(0, end).split("\r\n");
    this.#rest = this.#rest.slice(end + 4);
    const status = Number(head[0]!.split(" ")[1]);
    const length = Number(
      head.find((h) => /^content-length:/i.test(h))?.split(":")[1] ?? 0,
    );
    while (this.#rest.length < length) await more();
    const body = this.#rest.slice(0, length);
    this.#rest = this.#rest.slice(length);
    return { status, body };
  }

  close(): void {
    this.#conn.close();
  }
}

function openFiles(pid: number): number {
  return [...Deno.readDirSync(`/proc/${pid}/fd`)].length;
}

async function prlimit(pid: number, files: number): Promise<void> {
  const { success, stderr } = await new Deno.Command("prlimit", {
    args: ["--pid", String(pid), `--nofile=${files}:${files}`],
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.ok(success, decoder.decode(stderr));
}

/**
 * Whether a `tls://` listener with a client CA runs a handshake with a new
 * connection (and then refuses it: no client certificate), so accepted it.
 */
async function handshakes(url: string, ca: string): Promise<boolean> {
  const conn = await Deno.connect({
    ...hostPort(url),
    signal: AbortSignal.timeout(2000),
  });
  const tls = await Deno.startTls(conn, {
    hostname: "localhost",
    caCerts: [ca],
  });
  // Not accepted, the handshake would wait for ever: give up after a while.
  const timer = setTimeout(() => tls.close(), 2000);
  let answered = true;
  try {
    await tls.handshake();
    await tls.read(new Uint8Array(1)); // TLS 1.3: the refusal comes here
  } catch (err) {
    // Refused, as it should be: it was accepted. Closed by the timer: not.
    answered = !(err instanceof Deno.errors.BadResource ||
      err instanceof Deno.errors.Interrupted);
  } finally {
    clearTimeout(timer);
    try {
      tls.close();
    } catch {
      // Closed by the timer.
    }
  }
  return answered;
}

prlimitTest(
  "EMFILE: every listener pauses, reports it in /health/live, and answers again once descriptors are free",
  async () => {
    const certificate = await testCertificate();
    assert.ok(certificate !== undefined, "openssl is needed");
    await using server = new ServerProcess([
      "--listeners",
      "tcp://127.0.0.1:0,http://127.0.0.1:0,tls://127.0.0.1:0",
      "--tls-cert",
      certificate.certFile,
      "--tls-key",
      certificate.keyFile,
      "--tls-client-ca",
      certificate.caFile,
    ]);
    const tcp = await server.address("tcp");
    const http = await server.address("http");
    const tls = await server.address("tls");
    const all = [tcp, http, tls];
    const pid = server.child.pid;
    const probe = new HttpProbe(await Deno.connect(hostPort(http)));
    assert.equal((await probe.get("/health/live")).status, 200);

    await prlimit(pid, openFiles(pid) + 16);
    const flood: Deno.Conn[] = [];
    const warned = (listener: string) =>
      server.stderr.some((line) =>
        line.includes(`WARN`) &&
        line.includes(`${listener}: too many open files, pausing accepts`)
      );
    try {
      await eventually(async () => {
        for (const url of all) {
          try {
            // A full accept queue holds a connect for minutes: bounded.
            flood.push(
              await Deno.connect({
                ...hostPort(url),
                signal: AbortSignal.timeout(1000),
              }),
            );
          } catch {
            // Refused or timed out while the accept queue is full.
          }
        }
        return all.every(warned);
      }, "every listener to run out of descriptors");
      const during = await probe.get("/health/live");
      assert.equal(during.status, 503, during.body);
      const report = JSON.parse(during.body);
      assert.deepEqual(report.down, ["listeners"]);
      for (const url of all) {
        assert.equal(report.listeners[url], "accept-failing", url);
      }
    } finally {
      for (const conn of flood) conn.close();
    }

    // Once the flood is gone, each listener accepts again by itself.
    await eventually(
      async () => {
        try {
          await using client = await LineClient.connect(tcp);
          const pong = await client.request({ command: "ping" });
          const response = await fetch(`${http}/ping`);
          return pong.data === "pong" &&
            (await response.text()) === "pong\n" &&
            await handshakes(tls, certificate.ca);
        } catch {
          return false;
        }
      },
      "every listener to answer again",
      { timeoutMs: 20_000 },
    );
    for (const url of all) {
      await server.waitFor(new RegExp(`INFO.*${url}: accepting again`));
    }
    const after = await fetch(`${http}/health/live`);
    assert.equal(after.status, 200, await after.text());
    probe.close();

    const { code, stderr } = await server.stop();
    assert.equal(code, 0, stderr);
    assert.doesNotMatch(stderr, /Uncaught|stopped accepting/);
    // Logged once per episode, not once per failed accept.
    assert.equal(stderr.match(/pausing accepts/g)?.length, 3, stderr);
    await Deno.remove(dirname(certificate.certFile), { recursive: true });
  },
);
