/**
 * The program (`cli.ts`) as a user runs it: to completion with
 * {@linkcode runProgram}, or running with its output lines to wait on with
 * {@linkcode Program} (a server: {@linkcode ServerProcess}); and
 * {@linkcode args} to write a command line.
 *
 * @module
 */

import assert from "node:assert/strict";
import { Changes, eventually, within } from "../src/testing/eventually.ts";
import { sleep } from "../src/_util/deadline.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

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

/** How {@linkcode runProgram} runs the program. */
export interface RunOptions {
  /** Environment variables added to the test's. */
  env?: Record<string, string>;
  /** Standard input, written in these pieces (closed after the last). */
  input?: string[];
  /** The pause between two pieces of input, so replies can arrive meanwhile. */
  pauseMs?: number;
}

/**
 * Runs the program to completion.
 *
 * @param args its arguments
 * @param options environment and standard input
 * @returns its exit code and output
 */
export async function runProgram(
  args: string[],
  options: RunOptions = {},
): Promise<ProgramOutput> {
  const { input, pauseMs = 0, env } = options;
  const child = programCommand(args, {
    ...(input !== undefined ? { stdin: "piped" } : {}),
    ...(env !== undefined ? { env } : {}),
  }).spawn();
  if (input !== undefined) {
    const writer = child.stdin.getWriter();
    for (const [i, piece] of input.entries()) {
      if (i > 0) await sleep(pauseMs);
      await writer.write(encoder.encode(piece)).catch(() => {});
    }
    await writer.close().catch(() => {});
  }
  const { code, stdout, stderr } = await child.output();
  return {
    code,
    stdout: decoder.decode(stdout),
    stderr: decoder.decode(stderr),
  };
}

/** A flag's value for {@linkcode args}: repeated for an array, bare for `true`. */
export type FlagValue = string | readonly string[] | true | undefined;

/**
 * A command line: the words, then each flag as `--name value`.
 *
 * @param words the subcommand and its positional arguments, e.g. `["admin", "tags", "t"]`
 * @param flags e.g. `{ host: url, tags: ["a,b", "c"], json: true }`
 * @returns the arguments, e.g. `["subscribe", "--host", url, "--tags", "a,b", "--tags", "c"]`
 */
export function args(
  words: string | readonly string[],
  flags: Record<string, FlagValue> = {},
): string[] {
  const out = typeof words === "string" ? [words] : [...words];
  for (const [name, value] of Object.entries(flags)) {
    if (value === undefined) continue;
    if (value === true) out.push(`--${name}`);
    else if (typeof value === "string") out.push(`--${name}`, value);
    else for (const item of value) out.push(`--${name}`, item);
  }
  return out;
}

/** A running program, with its output lines as they come. */
export class Program implements AsyncDisposable {
  readonly child: Deno.ChildProcess;
  /** Every line of both streams, in the order they arrived. */
  readonly lines: string[] = [];
  /** The lines of standard output. */
  readonly stdout: string[] = [];
  /** The lines of standard error. */
  readonly stderr: string[] = [];
  readonly #changes = new Changes();
  readonly #done: Promise<ProgramOutput>;
  #exited = false;

  /** Starts the program with these arguments. */
  constructor(args: string[]) {
    const child = programCommand(args).spawn();
    this.child = child;
    const collect = async (
      stream: ReadableStream<Uint8Array>,
      into: string[],
    ) => {
      let text = "";
      let rest = "";
      const add = (lines: string[]) => {
        into.push(...lines);
        this.lines.push(...lines);
        this.#changes.notify();
      };
      for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
        text += chunk;
        rest += chunk;
        const parts = rest.split("\n");
        rest = parts.pop()!;
        add(parts);
      }
      if (rest !== "") add([rest]);
      return text;
    };
    const stdout = collect(child.stdout, this.stdout);
    const stderr = collect(child.stderr, this.stderr);
    this.#done = (async () => {
      const [status, out, err] = await Promise.all([
        child.status,
        stdout,
        stderr,
      ]);
      this.#exited = true;
      this.#changes.notify();
      return { code: status.code, stdout: out, stderr: err };
    })();
  }

  /**
   * Waits for a line matching the pattern (on either stream unless `stream`
   * names one) and returns its match; fails if the program exits first.
   */
  async waitFor(
    pattern: RegExp,
    options: { stream?: "stdout" | "stderr"; timeoutMs?: number } = {},
  ): Promise<RegExpMatchArray> {
    const { stream, timeoutMs = 20_000 } = options;
    const lines = stream === undefined ? this.lines : this[stream];
    let match: RegExpMatchArray | undefined;
    const found = () => {
      for (const line of lines) {
        match = line.match(pattern) ?? undefined;
        if (match) return true;
      }
      return false;
    };
    const what = `a ${stream ?? "output"} line ${pattern}`;
    try {
      await eventually(() => found() || this.#exited, what, {
        timeoutMs,
        changes: this.#changes,
      });
    } catch (err) {
      assert.fail(`${(err as Error).message}:\n${this.#dump()}`);
    }
    if (match === undefined && !found()) {
      assert.fail(`exited before ${what}:\n${this.#dump()}`);
    }
    return match!;
  }

  #dump(): string {
    return `stdout:\n${this.stdout.join("\n")}\nstderr:\n${
      this.stderr.join("\n")
    }`;
  }

  /** The bound URL the server logged for a scheme. */
  async address(scheme: string): Promise<string> {
    const match = await this.waitFor(
      new RegExp(`${scheme.toUpperCase()} listener on (\\S+)`),
    );
    return match[1]!;
  }

  /** Sends a signal (if still running) and waits, bounded, for the exit. */
  async stop(signal: Deno.Signal = "SIGTERM"): Promise<ProgramOutput> {
    try {
      this.child.kill(signal);
    } catch {
      // Already exited.
    }
    return await within(
      this.#done,
      `the program to exit on ${signal}`,
      30_000,
    );
  }

  /** Waits for the exit. */
  get output(): Promise<ProgramOutput> {
    return this.#done;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop("SIGKILL");
  }
}

/** `mist --server` running as a subprocess, with its log lines. */
export class ServerProcess extends Program {
  /** Starts `mist --server` with these arguments. */
  constructor(args: string[]) {
    super(["--server", ...args]);
  }
}
