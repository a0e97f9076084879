/**
 * Test helpers: servers on port 0, a raw line client, the program as a subprocess.
 *
 * @module
 */

import assert from "node:assert/strict";
import { LineSplitter, OVERSIZE } from "../src/framing.ts";
import type { Message } from "../src/protocol.ts";
import { type MistServer, serve, type ServeOptions } from "../src/server.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Starts a server with one TCP listener on a free port. */
export function tcpServer(options: ServeOptions = {}): Promise<MistServer> {
  return serve({ listeners: ["tcp://127.0.0.1:0"], ...options });
}

/** The `host:port` of a listener URL. */
export function hostPort(url: string): { hostname: string; port: number } {
  const parsed = new URL(url);
  return {
    hostname: parsed.hostname.replace(/^\[(.*)\]$/, "$1"),
    port: Number(parsed.port),
  };
}

/** A message received, or how the connection ended. */
type Received = Message | { closed: true };

/**
 * A raw TCP client of the line protocol: sends whatever it is told, parses
 * every line it receives, and never hides a malformed one.
 */
export class LineClient implements AsyncDisposable {
  readonly conn: Deno.TcpConn;
  readonly #inbox: Received[] = [];
  #waiter: (() => void) | undefined;
  readonly #reading: Promise<void>;

  private constructor(conn: Deno.TcpConn) {
    this.conn = conn;
    this.#reading = this.#read();
  }

  /** Connects to a `tcp://` listener URL. */
  static async connect(url: string): Promise<LineClient> {
    const conn = await Deno.connect(hostPort(url));
    conn.setNoDelay(true);
    return new LineClient(conn);
  }

  async #read(): Promise<void> {
    const splitter = new LineSplitter(64 * 1024 * 1024);
    const buffer = new Uint8Array(64 * 1024);
    try {
      while (true) {
        const n = await this.conn.read(buffer);
        if (n === null) break;
        for (const line of splitter.split(buffer.subarray(0, n))) {
          assert.notEqual(line, OVERSIZE);
          this.#push(JSON.parse(decoder.decode(line as Uint8Array)));
        }
      }
    } catch (err) {
      if (
        !(err instanceof Deno.errors.BadResource ||
          err instanceof Deno.errors.Interrupted)
      ) throw err;
    } finally {
      this.#push({ closed: true });
    }
  }

  #push(item: Received): void {
    this.#inbox.push(item);
    this.#waiter?.();
  }

  /** Sends raw text, or an object as one JSON line. */
  async send(message: string | object | Uint8Array): Promise<void> {
    const bytes = message instanceof Uint8Array ? message : encoder.encode(
      typeof message === "string" ? message : JSON.stringify(message) + "\n",
    );
    let offset = 0;
    while (offset < bytes.length) {
      offset += await this.conn.write(bytes.subarray(offset));
    }
  }

  /** The next message received (fails after `timeoutMs` or when the connection closed). */
  async next(timeoutMs = 10_000): Promise<Message> {
    const deadline = Date.now() + timeoutMs;
    while (this.#inbox.length === 0) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) assert.fail("no message received in time");
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#waiter = resolve;
        timer = setTimeout(resolve, remaining);
      });
      clearTimeout(timer);
      this.#waiter = undefined;
    }
    const item = this.#inbox.shift()!;
    if ("closed" in item) {
      this.#inbox.unshift(item);
      assert.fail("connection closed");
    }
    return item;
  }

  /** Sends a request and returns the next message received. */
  async request(message: string | object): Promise<Message> {
    await this.send(message);
    return await this.next();
  }

  /**
   * Pings and returns every message received before the pong: everything
   * queued to this connection before the ping was handled.
   */
  async sync(): Promise<Message[]> {
    await this.send({ command: "ping", id: "sync" });
    const before: Message[] = [];
    while (true) {
      const message = await this.next();
      if (message.id === "sync") return before;
      before.push(message);
    }
  }

  /** Waits until the server closes the connection. */
  async ended(): Promise<void> {
    await this.#reading;
  }

  /** Closes the connection and waits for the reader. */
  async close(): Promise<void> {
    try {
      this.conn.close();
    } catch {
      // Already closed.
    }
    await this.#reading;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** The output of the program run as a subprocess. */
export interface ProgramOutput {
  code: number;
  stdout: string;
  stderr: string;
}

const CLI = new URL("../cli.ts", import.meta.url).pathname;

/** The command that runs the program with the permissions `deno task start` grants. */
export function programCommand(
  args: string[],
  options: Deno.CommandOptions = {},
): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      "--allow-sys",
      CLI,
      ...args,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    ...options,
  });
}

/** Runs the program to completion. */
export async function runProgram(args: string[]): Promise<ProgramOutput> {
  const { code, stdout, stderr } = await programCommand(args).output();
  return {
    code,
    stdout: decoder.decode(stdout),
    stderr: decoder.decode(stderr),
  };
}

/** A server running as a subprocess, with its log lines. */
export class ServerProcess implements AsyncDisposable {
  readonly child: Deno.ChildProcess;
  readonly lines: string[] = [];
  readonly #done: Promise<ProgramOutput>;
  #waiter: (() => void) | undefined;

  constructor(args: string[]) {
    const child = programCommand(["--server", ...args]).spawn();
    this.child = child;
    const collect = async (stream: ReadableStream<Uint8Array>) => {
      let text = "";
      let rest = "";
      for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
        text += chunk;
        rest += chunk;
        const parts = rest.split("\n");
        rest = parts.pop()!;
        this.lines.push(...parts);
        this.#waiter?.();
      }
      return text;
    };
    const stdout = collect(child.stdout);
    const stderr = collect(child.stderr);
    this.#done = (async () => {
      const [status, out, err] = await Promise.all([
        child.status,
        stdout,
        stderr,
      ]);
      this.#waiter?.();
      return { code: status.code, stdout: out, stderr: err };
    })();
  }

  /** Waits for a log line matching the pattern and returns its match. */
  async waitFor(
    pattern: RegExp,
    timeoutMs = 20_000,
  ): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    let finished = false;
    this.#done.then(() => finished = true);
    while (true) {
      for (const line of this.lines) {
        const match = line.match(pattern);
        if (match) return match;
      }
      if (finished) {
        assert.fail(
          `exited before logging ${pattern}:\n${this.lines.join("\n")}`,
        );
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        assert.fail(`no log line ${pattern}:\n${this.lines.join("\n")}`);
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#waiter = resolve;
        timer = setTimeout(resolve, Math.min(remaining, 100));
      });
      clearTimeout(timer);
    }
  }

  /** The bound URL the server logged for a scheme. */
  async address(scheme: string): Promise<string> {
    const match = await this.waitFor(
      new RegExp(`${scheme.toUpperCase()} listener on (\\S+)`),
    );
    return match[1]!;
  }

  /** Sends a signal and waits for the exit. */
  async stop(signal: Deno.Signal = "SIGTERM"): Promise<ProgramOutput> {
    try {
      this.child.kill(signal);
    } catch {
      // Already exited.
    }
    return await this.#done;
  }

  /** Waits for the exit. */
  get output(): Promise<ProgramOutput> {
    return this.#done;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop("SIGKILL");
  }
}

/** Writes a temporary file and returns its path. */
export async function tempFile(
  text: string,
  suffix = ".yaml",
): Promise<string> {
  const path = await Deno.makeTempFile({ prefix: "mist-test-", suffix });
  await Deno.writeTextFile(path, text);
  return path;
}
