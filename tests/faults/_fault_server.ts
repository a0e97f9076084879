/**
 * A `mist --server` of any tree as a subprocess, measured from outside
 * (/proc, /metrics, its log), and the few socket helpers of the fault rows.
 *
 * @module
 */

import { sleep } from "../../src/_util/deadline.ts";

const decoder = new TextDecoder();
const MiB = 1024 * 1024;

/** A `mist --server` of some tree, run as a subprocess. */
export class FaultServer implements AsyncDisposable {
  readonly child: Deno.ChildProcess;
  readonly lines: string[] = [];
  readonly #urls = new Map<string, string>();
  readonly #done: Promise<Deno.CommandStatus>;
  #exited: Deno.CommandStatus | undefined;

  private constructor(child: Deno.ChildProcess) {
    this.child = child;
    const collect = async (stream: ReadableStream<Uint8Array>) => {
      let rest = "";
      for await (const text of stream.pipeThrough(new TextDecoderStream())) {
        const parts = (rest + text).split("\n");
        rest = parts.pop()!;
        for (const line of parts) {
          this.lines.push(line);
          const m = line.match(/([A-Z]+) listener on (\S+)/);
          if (m) this.#urls.set(m[1]!.toLowerCase(), m[2]!);
        }
      }
    };
    const streams = Promise.all([collect(child.stdout), collect(child.stderr)]);
    this.#done = child.status.then(async (status) => {
      await streams;
      this.#exited = status;
      return status;
    });
  }

  /** Starts the server of the tree whose `cli.ts` is given, on port 0 of 127.0.0.1. */
  static start(
    cli: string,
    flags: string[] = [],
    schemes = ["tcp", "http", "ws"],
  ): Promise<FaultServer> {
    const listeners = schemes.map((s) => `${s}://127.0.0.1:0`).join(",");
    return FaultServer.#spawn(
      ["run", "-A", cli, "--server", "--listeners", listeners, ...flags],
      schemes,
    );
  }

  static async #spawn(args: string[], schemes: string[]): Promise<FaultServer> {
    const child = new Deno.Command(Deno.execPath(), {
      args,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const server = new FaultServer(child);
    for (let i = 0; i < 400 && server.#urls.size < schemes.length; i++) {
      if (server.#exited) break;
      await sleep(50);
    }
    if (server.#urls.size < schemes.length) {
      await server.stop();
      throw new Error(`the server did not start:\n${server.lines.join("\n")}`);
    }
    return server;
  }

  /**
   * Starts a tree's server through its library (tests/faults/_gc_serve.ts),
   * where {@linkcode heapAfterGc} works.
   */
  static startCollectable(dir: string): Promise<FaultServer> {
    const harness = new URL("./_gc_serve.ts", import.meta.url).pathname;
    return FaultServer.#spawn(
      [
        "run",
        "-A",
        "--v8-flags=--expose-gc",
        "--config", // the tree's import map, if it has one
        `${dir}/deno.json`,
        harness,
        dir,
      ],
      ["tcp", "http", "ws"],
    );
  }

  /** The heap in use after a full collection (only when {@linkcode startCollectable}). */
  async heapAfterGc(): Promise<number> {
    const seen = this.lines.length;
    this.kill("SIGUSR2");
    for (let i = 0; i < 200; i++) {
      const line = this.lines.slice(seen).find((l) => l.startsWith("heap "));
      if (line !== undefined) return Number(line.slice(5));
      await sleep(50);
    }
    throw new Error("no heap line after SIGUSR2");
  }

  /** The bound URL of a scheme's listener. */
  url(scheme: string): string {
    return this.#urls.get(scheme)!;
  }

  /** Whether the process is still running. */
  get alive(): boolean {
    return this.#exited === undefined;
  }

  /** Its exit status once it has exited. */
  get status(): Deno.CommandStatus | undefined {
    return this.#exited;
  }

  /** Resident memory in bytes, from /proc/PID/status. */
  async rss(): Promise<number> {
    const text = await Deno.readTextFile(`/proc/${this.child.pid}/status`);
    return Number(text.match(/VmRSS:\s+(\d+) kB/)![1]) * 1024;
  }

  /** CPU time (user + system) used so far, in seconds, from /proc/PID/stat. */
  async cpuSeconds(): Promise<number> {
    const text = await Deno.readTextFile(`/proc/${this.child.pid}/stat`);
    const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100; // USER_HZ
  }

  /** The sum of a metric's samples on /metrics; undefined if it has none. */
  async metric(name: string, label = ""): Promise<number | undefined> {
    const response = await fetch(`${this.url("http")}/metrics`);
    const text = await response.text();
    let sum: number | undefined;
    for (const line of text.split("\n")) {
      const m = line.match(/^(\w+)(?:\{[^}]*\})? (\S+)$/);
      if (m && m[1] === name && line.includes(label)) {
        sum = (sum ?? 0) + Number(m[2]);
      }
    }
    return sum;
  }

  /** Sends a signal, if it still runs. */
  kill(signal: Deno.Signal): void {
    try {
      this.child.kill(signal);
    } catch {
      // Already exited.
    }
  }

  /** Kills it (SIGKILL) and waits for the exit. */
  async stop(): Promise<void> {
    this.kill("SIGKILL");
    await this.#done;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

export function hostPort(url: string): Deno.ConnectOptions {
  const { hostname, port } = new URL(url);
  return { hostname, port: Number(port) };
}

/** Reads from a connection until the text seen contains `needle` (bounded by size). */
export async function readUntil(
  conn: Deno.Conn,
  needle: string,
): Promise<string> {
  const buffer = new Uint8Array(64 * 1024);
  let seen = "";
  while (!seen.includes(needle) && seen.length < 16 * MiB) {
    const n = await conn.read(buffer);
    if (n === null) throw new Error(`closed before ${needle}: ${seen}`);
    seen += decoder.decode(buffer.subarray(0, n));
  }
  return seen;
}

/**
 * The bytes of a WebSocket upgrade request for `/subscribe/websocket`.
 *
 * @param headers more header lines, each ended by `\r\n`
 */
export function upgradeRequest(headers = ""): Uint8Array {
  return new TextEncoder().encode(
    "GET /subscribe/websocket HTTP/1.1\r\nHost: localhost\r\n" +
      "Upgrade: websocket\r\nConnection: Upgrade\r\n" +
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
      `Sec-WebSocket-Version: 13\r\n${headers}\r\n`,
  );
}

/**
 * Opens `count` connections, 50 at a time.
 *
 * @param count how many
 * @param open opens one
 * @param into where each goes as it opens (closed by the caller, even on failure)
 */
export async function openInBatches(
  count: number,
  open: () => Promise<Deno.Conn>,
  into: Deno.Conn[],
): Promise<void> {
  for (let i = 0; i < count; i += 50) {
    const batch = Math.min(50, count - i);
    into.push(...await Promise.all(Array.from({ length: batch }, open)));
  }
}
