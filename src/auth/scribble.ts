/**
 * `scribble://?db=DIR` (or `scribble:///DIR`): a tiny JSON-file database, one
 * file per token, that survives restarts. For a single server: a cluster
 * needs a store its nodes share (`postgres://`).
 *
 * Each token lives in `DIR/<sha256-hex of the token>.json` holding only
 * `{"tags":[...]}`: neither a file's name nor its contents reveal the token,
 * and no token, however odd (`/`, `../`), can name a file outside `DIR`.
 *
 * Every change is written atomically (a new temp file in `DIR`, fsync, rename
 * over the old file, fsync of `DIR`), and changes to one token run one at a
 * time, so concurrent admin commands never lose an update. Reads are served
 * from memory: the server that opened `DIR` owns it, and two servers must not
 * share one directory.
 *
 * @module
 */

import { getLogger } from "npm:@logtape/logtape@^2.4.2";
import { join, resolve } from "node:path";
import { writeAll } from "../_util/io.ts";
import { errorText } from "../_util/text.ts";
import { MistError } from "../protocol/errors.ts";
import { KeyedMutex } from "./_keyed_mutex.ts";
import { normalizeTags } from "./_tags.ts";
import { type Authenticator, tokenDigest } from "./authenticator.ts";

const log = getLogger(["mist", "auth"]);
const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** The name of a token's file: its digest, and nothing the token chose. */
const TOKEN_FILE = /^[0-9a-f]{64}\.json$/;

/**
 * The directory a `scribble:` URI names: the `db` query parameter (the
 * original's form, `scribble://?db=/var/lib/mist`) or the path
 * (`scribble:///var/lib/mist`), resolved against the working directory.
 *
 * @param url a `scribble:` URL
 * @returns the absolute directory
 * @throws {Error} when the URI names no directory, two different ones, a host,
 *   or a parameter other than `db`
 */
export function scribbleDir(url: URL): string {
  for (const key of url.searchParams.keys()) {
    if (key !== "db") {
      throw new Error(
        `Unknown parameter "${key}" in the scribble authenticator URI; known: db`,
      );
    }
  }
  if (url.host !== "") {
    throw new Error(
      `Scribble authenticator URI names a host "${url.host}"; use scribble://?db=DIR or scribble:///DIR`,
    );
  }
  const fromQuery = url.searchParams.get("db") || undefined;
  const path = decodeURIComponent(url.pathname);
  const fromPath = path === "" || path === "/" ? undefined : path;
  if (
    fromQuery !== undefined && fromPath !== undefined &&
    resolve(fromQuery) !== resolve(fromPath)
  ) {
    throw new Error(
      `Scribble authenticator URI names two directories, "${fromPath}" and "${fromQuery}"`,
    );
  }
  const dir = fromQuery ?? fromPath;
  if (dir === undefined) {
    throw new Error(
      "Scribble authenticator URI names no directory; use scribble://?db=DIR or scribble:///DIR",
    );
  }
  return resolve(dir);
}

/**
 * The tags a token file holds, or why it is corrupt.
 *
 * @param bytes the file's contents
 * @returns the tags, sorted and de-duplicated
 * @throws {Error} saying what is wrong with it
 */
function parseTokenFile(bytes: Uint8Array): string[] {
  const value: unknown = JSON.parse(decoder.decode(bytes));
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new Error("not a JSON object");
  }
  const tags = (value as Record<string, unknown>).tags;
  if (!Array.isArray(tags) || !tags.every((t) => typeof t === "string")) {
    throw new Error(`"tags" is not an array of strings`);
  }
  return normalizeTags(tags);
}

/**
 * An authenticator that keeps each token in a JSON file of a directory.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ScribbleAuthenticator } from "./scribble.ts";
 *
 * const dir = await Deno.makeTempDir();
 * {
 *   await using auth = await ScribbleAuthenticator.open(dir);
 *   await auth.addToken("s3cret", ["news"]);
 *   // One file named by the token's digest, never by the token.
 *   const [file] = await Array.fromAsync(Deno.readDir(dir));
 *   assert.match(file!.name, /^[0-9a-f]{64}\.json$/);
 *   const text = await Deno.readTextFile(`${dir}/${file!.name}`);
 *   assert.deepEqual(JSON.parse(text), { tags: ["news"] });
 * }
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class ScribbleAuthenticator implements Authenticator, AsyncDisposable {
  /** The directory of token files. */
  readonly dir: string;
  /** Every token's tags, by digest: what the files hold. */
  readonly #tokens: Map<string, string[]>;
  readonly #mutex = new KeyedMutex();
  #closed = false;

  private constructor(dir: string, tokens: Map<string, string[]>) {
    this.dir = dir;
    this.#tokens = tokens;
  }

  /**
   * Opens the database in `dir`, creating the directory if needed, and loads
   * every token file in it. A corrupt file is logged (error level, with its
   * path) and skipped; files with other names, such as temp files a crash
   * left behind, are ignored.
   *
   * @param dir the directory
   * @returns the authenticator, with every valid token loaded
   * @throws {Error} when the directory cannot be created or read
   */
  static async open(dir: string): Promise<ScribbleAuthenticator> {
    dir = resolve(dir);
    try {
      await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
    } catch (err) {
      throw new Error(
        `Cannot create the scribble directory "${dir}": ${errorText(err)}`,
        { cause: err },
      );
    }
    const tokens = new Map<string, string[]>();
    let skipped = 0;
    try {
      for await (const entry of Deno.readDir(dir)) {
        if (!entry.isFile || !TOKEN_FILE.test(entry.name)) continue;
        const path = join(dir, entry.name);
        try {
          tokens.set(
            entry.name.slice(0, -".json".length),
            parseTokenFile(await Deno.readFile(path)),
          );
        } catch (err) {
          skipped++;
          log.error("Skipping corrupt token file {path}: {reason}", {
            path,
            reason: errorText(err),
          });
        }
      }
    } catch (err) {
      throw new Error(
        `Cannot read the scribble directory "${dir}": ${errorText(err)}`,
        { cause: err },
      );
    }
    log.info("Scribble authenticator in {dir}: {count} tokens", {
      dir,
      count: tokens.size,
      skipped,
    });
    return new ScribbleAuthenticator(dir, tokens);
  }

  /**
   * Registers a token with its tags.
   *
   * @param token the token
   * @param tags the tags it grants (may be empty)
   * @throws {MistError} `token already exists`; `authenticator unavailable`
   *   when the file cannot be written, or once closed
   */
  addToken(token: string, tags: readonly string[]): Promise<void> {
    return this.#change(token, async (digest, current) => {
      if (current !== undefined) throw new MistError("token_exists");
      await this.#write(digest, normalizeTags(tags));
    });
  }

  /**
   * Removes a token, its tags and its file.
   *
   * @param token the token
   * @throws {MistError} `token not found`; `authenticator unavailable` when
   *   the file cannot be removed, or once closed
   */
  removeToken(token: string): Promise<void> {
    return this.#change(token, async (digest, current) => {
      if (current === undefined) throw new MistError("token_not_found");
      await this.#remove(digest);
    });
  }

  /**
   * Grants more tags to a token.
   *
   * @param token the token
   * @param tags the tags to add
   * @returns every tag the token grants now, sorted
   * @throws {MistError} `token not found`; `authenticator unavailable` when
   *   the file cannot be written, or once closed
   */
  addTags(token: string, tags: readonly string[]): Promise<string[]> {
    return this.#change(token, async (digest, current) => {
      if (current === undefined) throw new MistError("token_not_found");
      const next = normalizeTags([...current, ...tags]);
      if (next.length !== current.length) await this.#write(digest, next);
      return [...next];
    });
  }

  /**
   * Takes tags away from a token.
   *
   * @param token the token
   * @param tags the tags to remove
   * @returns every tag the token still grants, sorted
   * @throws {MistError} `token not found`; `authenticator unavailable` when
   *   the file cannot be written, or once closed
   */
  removeTags(token: string, tags: readonly string[]): Promise<string[]> {
    return this.#change(token, async (digest, current) => {
      if (current === undefined) throw new MistError("token_not_found");
      const removed = new Set(tags);
      const next = current.filter((tag) => !removed.has(tag));
      if (next.length !== current.length) await this.#write(digest, next);
      return [...next];
    });
  }

  /**
   * The tags a token grants.
   *
   * @param token the token
   * @returns its tags, sorted, or `undefined` when it is not registered
   * @throws {MistError} `authenticator unavailable` once closed
   */
  getTags(token: string): Promise<string[] | undefined> {
    if (this.#closed) return Promise.reject(unavailable());
    const tags = this.#tokens.get(tokenDigest(token));
    return Promise.resolve(tags === undefined ? undefined : [...tags]);
  }

  /**
   * Whether the directory is still there and readable.
   *
   * @returns `true` when it is, `false` once closed
   */
  async healthy(): Promise<boolean> {
    if (this.#closed) return false;
    try {
      return (await Deno.stat(this.dir)).isDirectory;
    } catch {
      return false;
    }
  }

  /**
   * Waits for the changes under way, then refuses new calls. Idempotent.
   *
   * @returns when every accepted change is on disk (or has failed)
   */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#mutex.idle();
    this.#tokens.clear();
  }

  /** Same as {@linkcode ScribbleAuthenticator.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /**
   * Runs a change to one token after every earlier change to it, with the
   * token's current tags (`undefined` when it is not registered).
   */
  #change<T>(
    token: string,
    fn: (digest: string, current: string[] | undefined) => Promise<T>,
  ): Promise<T> {
    if (this.#closed) return Promise.reject(unavailable());
    const digest = tokenDigest(token);
    return this.#mutex.run(digest, () => fn(digest, this.#tokens.get(digest)));
  }

  /** Replaces a token's file atomically, then its tags in memory. */
  async #write(digest: string, tags: string[]): Promise<void> {
    const path = join(this.dir, `${digest}.json`);
    // Starts with a dot and ends in .tmp: never mistaken for a token file.
    const temp = join(this.dir, `.${digest}.${crypto.randomUUID()}.tmp`);
    const bytes = encoder.encode(JSON.stringify({ tags }) + "\n");
    try {
      {
        // createNew: never follows or reuses anything already at that name.
        using file = await Deno.open(temp, {
          write: true,
          createNew: true,
          mode: 0o600,
        });
        await writeAll(file, bytes);
        await file.sync();
      }
      await Deno.rename(temp, path);
    } catch (err) {
      await Deno.remove(temp).catch(() => {});
      throw this.#failed("write", path, err);
    }
    // The file has changed: memory follows it, even if the sync below fails.
    this.#tokens.set(digest, tags);
    await this.#syncDir();
  }

  /** Removes a token's file, then the token from memory. */
  async #remove(digest: string): Promise<void> {
    const path = join(this.dir, `${digest}.json`);
    try {
      await Deno.remove(path);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) {
        throw this.#failed("remove", path, err);
      }
    }
    this.#tokens.delete(digest);
    await this.#syncDir();
  }

  /**
   * Makes a rename or removal in the directory durable. When that fails, the
   * change is made but may not survive a crash, and the caller is told.
   */
  async #syncDir(): Promise<void> {
    try {
      using dir = await Deno.open(this.dir, { read: true });
      await dir.sync();
    } catch (err) {
      throw this.#failed("sync", this.dir, err);
    }
  }

  #failed(action: string, path: string, err: unknown): MistError {
    log.error("Cannot {action} {path}: {reason}", {
      action,
      path,
      reason: errorText(err),
    });
    return unavailable(err);
  }
}

function unavailable(cause?: unknown): MistError {
  return cause === undefined
    ? new MistError("authenticator_unavailable", "closed")
    : new MistError("authenticator_unavailable", undefined, { cause });
}

/**
 * Opens a `scribble:` authenticator.
 *
 * @param url `scribble://?db=DIR` or `scribble:///DIR`
 * @returns the authenticator, with every valid token of `DIR` loaded
 * @throws {Error} for a URI without a usable directory (see {@linkcode scribbleDir})
 */
export function openScribble(url: URL): Promise<ScribbleAuthenticator> {
  return ScribbleAuthenticator.open(scribbleDir(url));
}
