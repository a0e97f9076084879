/**
 * A disposable `redis-server` for tests: a free port on 127.0.0.1, a temp
 * directory, no persistence. It can be stopped and started again on the same
 * port, to test what nodes do when Redis goes away and comes back.
 *
 * When `redis-server` is not installed, {@linkcode redisTest} reports its
 * tests as ignored, the reason in their names, except under `CI=true`, where
 * they fail without running.
 *
 * @module
 */

import assert from "node:assert/strict";
import { sleep } from "../src/_util/deadline.ts";
import { requiring, type ServiceTest } from "./_service.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The `redis-server` binary, or `undefined` when it is not installed. */
export const REDIS_SERVER: string | undefined = findRedis();

/** Why the Redis tests cannot run here, or `undefined` when they can. */
export const REDIS_MISSING: string | undefined = REDIS_SERVER !== undefined
  ? undefined
  : Deno.env.get("MIST_REDIS_SERVER") !== undefined
  ? `MIST_REDIS_SERVER "${Deno.env.get("MIST_REDIS_SERVER")}" does not run`
  : "redis-server is not installed";

function findRedis(): string | undefined {
  const candidate = Deno.env.get("MIST_REDIS_SERVER") ?? "redis-server";
  try {
    const { success } = new Deno.Command(candidate, {
      args: ["--version"],
      stdout: "null",
      stderr: "null",
    }).outputSync();
    return success ? candidate : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Declares a test that needs Redis (see tests/_service.ts): ignored with the
 * reason when it is missing, a failure under `CI=true`.
 */
export const redisTest: ServiceTest = requiring({
  name: "Redis",
  missing: REDIS_MISSING,
  install: "apt-get install redis-server",
});

/** PEM files for a TLS port: the server's certificate and key, and its CA. */
export interface TlsFiles {
  cert: string;
  key: string;
  ca: string;
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** A `redis-server` of one test. */
export class RedisServer implements AsyncDisposable {
  /** The port it listens on, kept across restarts. */
  readonly port: number;
  /** Its TLS port, when started with TLS files. */
  readonly tlsPort: number | undefined;
  readonly #dir: string;
  readonly #tls: TlsFiles | undefined;
  #child: Deno.ChildProcess | undefined;

  private constructor(dir: string, tls: TlsFiles | undefined) {
    this.port = freePort();
    this.tlsPort = tls === undefined ? undefined : freePort();
    this.#dir = dir;
    this.#tls = tls;
  }

  /**
   * Starts a server on a free port and waits until it answers.
   *
   * @param tls also listen for TLS on another free port, with these files
   * @returns the running server
   */
  static async start(tls?: TlsFiles): Promise<RedisServer> {
    assert.ok(REDIS_SERVER, REDIS_MISSING);
    const dir = await Deno.makeTempDir({ prefix: "mist-redis-" });
    const server = new RedisServer(dir, tls);
    await server.start();
    return server;
  }

  /** `redis://127.0.0.1:PORT`. */
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** `rediss://127.0.0.1:TLS_PORT`, when started with TLS files. */
  get tlsUrl(): string {
    assert.ok(this.tlsPort, "started without TLS");
    return `rediss://127.0.0.1:${this.tlsPort}`;
  }

  /** Whether it runs now. */
  get running(): boolean {
    return this.#child !== undefined;
  }

  /** Starts it (again) on its port and waits until it answers `PING`. */
  async start(): Promise<void> {
    assert.equal(this.#child, undefined, "already running");
    this.#child = new Deno.Command(REDIS_SERVER!, {
      args: [
        "--port",
        String(this.port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        this.#dir,
        ...(this.#tls === undefined ? [] : [
          "--tls-port",
          String(this.tlsPort),
          "--tls-cert-file",
          this.#tls.cert,
          "--tls-key-file",
          this.#tls.key,
          "--tls-ca-cert-file",
          this.#tls.ca,
          "--tls-auth-clients",
          "no",
        ]),
      ],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    const deadline = Date.now() + 15_000;
    while (!(await this.#pong())) {
      if (Date.now() > deadline) {
        await this.stop();
        assert.fail(`redis-server did not answer on port ${this.port}`);
      }
      await sleep(20);
    }
  }

  /**
   * Stops it and waits for the exit.
   *
   * @param signal `SIGTERM` (clean shutdown, default) or `SIGKILL` (a crash)
   */
  async stop(signal: Deno.Signal = "SIGTERM"): Promise<void> {
    const child = this.#child;
    if (child === undefined) return;
    this.#child = undefined;
    try {
      child.kill(signal);
    } catch {
      // Already exited.
    }
    await child.status;
  }

  /**
   * Runs one command through a raw connection (for tests that look at Redis).
   *
   * @param args the command and its arguments
   * @returns the raw RESP reply
   */
  async command(...args: string[]): Promise<string> {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: this.port });
    try {
      const request = `*${args.length}\r\n` +
        args.map((a) => `$${encoder.encode(a).length}\r\n${a}\r\n`).join("");
      await conn.write(encoder.encode(request));
      const buffer = new Uint8Array(64 * 1024);
      const n = await conn.read(buffer);
      return n === null ? "" : decoder.decode(buffer.subarray(0, n));
    } finally {
      conn.close();
    }
  }

  async #pong(): Promise<boolean> {
    try {
      return (await this.command("PING")).startsWith("+PONG");
    } catch {
      return false;
    }
  }

  /** Stops it and removes its directory. */
  async close(): Promise<void> {
    await this.stop();
    await Deno.remove(this.#dir, { recursive: true }).catch(() => {});
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
