/**
 * A real, disposable PostgreSQL server for tests: `initdb` in a temp dir,
 * `postgres` on a free port of 127.0.0.1, removed again on dispose.
 *
 * ```ts
 * await using pg = await startPostgres();
 * pg.url; // "postgres://postgres@127.0.0.1:41234?db=postgres"
 * ```
 *
 * When the server binaries are missing, {@linkcode postgresTest} reports its
 * tests as ignored, the reason in their names, except under `CI=true`, where
 * they fail without running. `MIST_PG_BIN` names the binaries' directory
 * explicitly.
 *
 * @module
 */

import { join } from "node:path";
import { requiring, type ServiceTest } from "./_service.ts";

const decoder = new TextDecoder();

/** Where Debian and Ubuntu put each PostgreSQL version's server binaries. */
const DEBIAN_ROOT = "/usr/lib/postgresql";

/** The programs the tests run; a directory without one of them is no use. */
const PROGRAMS = ["initdb", "pg_ctl", "postgres"] as const;

function isExecutable(path: string): boolean {
  try {
    const info = Deno.statSync(path);
    return info.isFile && ((info.mode ?? 0o111) & 0o111) !== 0;
  } catch {
    return false;
  }
}

/** Whether a directory holds every program in {@linkcode PROGRAMS}. */
function hasPrograms(dir: string): boolean {
  return PROGRAMS.every((program) => isExecutable(join(dir, program)));
}

/**
 * The directory holding `initdb`, `pg_ctl` and `postgres`: `$MIST_PG_BIN`
 * when set, else the one of `initdb` on `PATH` (links resolved), else the
 * newest `/usr/lib/postgresql/N/bin`.
 *
 * @returns the directory, or `undefined` when there is none
 */
export function findPostgresBin(): string | undefined {
  const chosen = Deno.env.get("MIST_PG_BIN");
  if (chosen !== undefined) {
    return hasPrograms(chosen) ? chosen : undefined;
  }
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    if (dir === "") continue;
    const initdb = join(dir, "initdb");
    if (isExecutable(initdb)) {
      const real = Deno.realPathSync(initdb);
      const bin = real.slice(0, real.lastIndexOf("/"));
      if (hasPrograms(bin)) return bin;
    }
  }
  let versions: string[] = [];
  try {
    versions = [...Deno.readDirSync(DEBIAN_ROOT)]
      .map((entry) => entry.name)
      .filter((name) => hasPrograms(join(DEBIAN_ROOT, name, "bin")))
      .sort((a, b) => parseFloat(b) - parseFloat(a));
  } catch {
    // No such directory.
  }
  return versions.length === 0
    ? undefined
    : join(DEBIAN_ROOT, versions[0]!, "bin");
}

const BIN = findPostgresBin();

/** Why the PostgreSQL tests cannot run here, or `undefined` when they can. */
export const POSTGRES_MISSING: string | undefined = BIN !== undefined
  ? undefined
  : Deno.env.get("MIST_PG_BIN") !== undefined
  ? `${PROGRAMS.join(", ")} not all found in MIST_PG_BIN "${
    Deno.env.get("MIST_PG_BIN")
  }"`
  : `${PROGRAMS.join(", ")} not found on PATH or in ${DEBIAN_ROOT}/*/bin`;

/**
 * Declares a test that needs PostgreSQL (see tests/_service.ts): ignored with the
 * reason when it is missing, a failure under `CI=true`.
 */
export const postgresTest: ServiceTest = requiring({
  name: "PostgreSQL",
  missing: POSTGRES_MISSING,
  install: "apt-get install postgresql",
});

/** The uid and gid of a user, from `/etc/passwd`. */
function userIds(name: string): { uid: number; gid: number } {
  for (const line of Deno.readTextFileSync("/etc/passwd").split("\n")) {
    const fields = line.split(":");
    if (fields[0] === name) {
      return { uid: Number(fields[2]), gid: Number(fields[3]) };
    }
  }
  throw new Error(`No user "${name}": PostgreSQL refuses to run as root`);
}

/** The processes whose parent is `pid`, from `/proc`. */
function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${entry.name}/stat`);
      // "pid (comm) state ppid ...": comm may hold spaces, so split after ")".
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === pid) children.push(Number(entry.name));
    } catch {
      // The process ended while we looked.
    }
  }
  return children;
}

/** A TCP port nobody listens on right now. */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** A PostgreSQL server in a temp dir, stopped and removed on dispose. */
export class PostgresServer implements AsyncDisposable {
  /** `postgres://postgres@127.0.0.1:PORT?db=postgres` (trust authentication). */
  readonly url: string;
  /** Its TCP port on 127.0.0.1. */
  readonly port: number;
  /** The temp dir holding the data directory, socket and log. */
  readonly dir: string;
  readonly #bin: string;
  readonly #asRoot: boolean;
  #running = false;
  #paused: number[] = [];

  private constructor(bin: string, dir: string, port: number) {
    this.#bin = bin;
    this.dir = dir;
    this.port = port;
    this.url = `postgres://postgres@127.0.0.1:${port}?db=postgres`;
    this.#asRoot = Deno.uid() === 0;
  }

  /**
   * Creates a cluster in a new temp dir and starts it.
   *
   * @returns the running server
   * @throws {Error} when the binaries are missing or the server does not start
   */
  static async start(): Promise<PostgresServer> {
    if (BIN === undefined) {
      throw new Error(
        `PostgreSQL is needed for this test: ${POSTGRES_MISSING} (install the "postgresql" package)`,
      );
    }
    const dir = await Deno.makeTempDir({ prefix: "mist_pg_" });
    const server = new PostgresServer(BIN, dir, freePort());
    try {
      if (server.#asRoot) {
        const { uid, gid } = userIds("postgres");
        await Deno.chown(dir, uid, gid);
      }
      await server.#run("initdb", [
        "-D",
        join(dir, "data"),
        "-A",
        "trust",
        "-U",
        "postgres",
        "-E",
        "UTF8",
        "--no-locale",
        "--no-sync",
      ]);
      await server.start();
      return server;
    } catch (err) {
      await server[Symbol.asyncDispose]();
      throw err;
    }
  }

  /**
   * Starts the server (again), on the same port and data directory.
   *
   * @returns once it accepts connections
   */
  async start(): Promise<void> {
    await this.#run("pg_ctl", [
      "-D",
      join(this.dir, "data"),
      "-l",
      join(this.dir, "postgres.log"),
      "-o",
      `-p ${this.port} -h 127.0.0.1 -k ${this.dir} -F -c max_connections=100`,
      "-w",
      "-t",
      "60",
      "start",
    ]);
    this.#running = true;
  }

  /**
   * Stops the server (fast shutdown: open sessions are ended).
   *
   * @returns once it has exited
   */
  async stop(): Promise<void> {
    await this.#run("pg_ctl", [
      "-D",
      join(this.dir, "data"),
      "-m",
      "fast",
      "-w",
      "-t",
      "60",
      "stop",
    ]);
    this.#running = false;
  }

  /**
   * Freezes every process of the server (SIGSTOP): connections stay open but
   * nothing answers, like a hung server or a network partition.
   *
   * @returns once they are stopped
   */
  async pause(): Promise<void> {
    const postmaster = Number(
      (await Deno.readTextFile(join(this.dir, "data", "postmaster.pid")))
        .split("\n")[0],
    );
    const pids = [postmaster, ...childrenOf(postmaster)];
    for (const pid of pids) Deno.kill(pid, "SIGSTOP");
    this.#paused = pids;
  }

  /**
   * Lets the processes {@linkcode PostgresServer.pause} froze run again.
   *
   * @returns once they are continued
   */
  resume(): Promise<void> {
    for (const pid of this.#paused.splice(0)) {
      try {
        Deno.kill(pid, "SIGCONT");
      } catch {
        // Gone meanwhile.
      }
    }
    return Promise.resolve();
  }

  /** Runs one of the server's programs as the `postgres` user when we are root. */
  async #run(program: string, args: string[]): Promise<void> {
    const path = join(this.#bin, program);
    const { code, stdout, stderr } = await new Deno.Command(
      this.#asRoot ? "runuser" : path,
      {
        args: this.#asRoot ? ["-u", "postgres", "--", path, ...args] : args,
        // The server must not inherit a working directory it cannot enter.
        cwd: this.dir,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      },
    ).output();
    if (code !== 0) {
      let log = "";
      try {
        log = await Deno.readTextFile(join(this.dir, "postgres.log"));
      } catch {
        // No log yet.
      }
      throw new Error(
        `${program} failed (exit ${code}):\n${decoder.decode(stdout)}${
          decoder.decode(stderr)
        }${log}`,
      );
    }
  }

  /** Stops the server if it runs and removes its temp dir. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.resume();
    try {
      if (this.#running) await this.stop();
    } finally {
      await Deno.remove(this.dir, { recursive: true });
    }
  }
}

/**
 * Creates and starts a disposable PostgreSQL server.
 *
 * @returns the running server; dispose it to stop and remove it
 * @throws {Error} when the binaries are missing or it does not start
 */
export function startPostgres(): Promise<PostgresServer> {
  return PostgresServer.start();
}
