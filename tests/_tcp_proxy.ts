/**
 * A TCP proxy on 127.0.0.1 that can make the connections it carries go
 * silent: open, but never answering again, like a half-open connection or a
 * query a driver lost. New connections still work. With `upstream` it
 * rewrites what clients send (the original mist's behaviour in
 * `_fake_server.ts`). Its {@linkcode pump} is the one byte-copying loop of
 * the tests' proxies and bridges.
 *
 * @module
 */

import { writeAll } from "../src/_util/io.ts";

interface Pair {
  client: Deno.TcpConn;
  server: Deno.TcpConn;
  silent: boolean;
}

/** What a {@linkcode TcpProxy} does besides forwarding. */
export interface TcpProxyOptions {
  /**
   * Replaces the copy from each client to its server: reads `client` and
   * writes whatever it wants to `server`, until the client ends.
   */
  upstream?: (client: Deno.TcpConn, server: Deno.TcpConn) => Promise<void>;
}

/** Forwards 127.0.0.1:port to a target, one upstream connection per client. */
export class TcpProxy implements AsyncDisposable {
  readonly #listener: Deno.TcpListener;
  readonly #target: Deno.ConnectOptions;
  readonly #upstream: TcpProxyOptions["upstream"];
  readonly #pairs = new Set<Pair>();
  readonly #tasks = new Set<Promise<void>>();
  readonly #accepting: Promise<void>;

  /**
   * @param target where to forward to
   * @param options how to rewrite what clients send
   */
  constructor(target: Deno.ConnectOptions, options: TcpProxyOptions = {}) {
    this.#target = target;
    this.#upstream = options.upstream;
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.#accepting = this.#accept();
  }

  /** The proxy's port on 127.0.0.1. */
  get port(): number {
    return this.#listener.addr.port;
  }

  /** Makes every connection open now go silent: bytes to it are dropped. */
  silenceExisting(): void {
    for (const pair of this.#pairs) pair.silent = true;
  }

  async #accept(): Promise<void> {
    try {
      for await (const client of this.#listener) {
        this.#track(this.#open(client));
      }
    } catch {
      // The listener was closed.
    }
  }

  async #open(client: Deno.TcpConn): Promise<void> {
    let server: Deno.TcpConn;
    try {
      server = await Deno.connect(this.#target);
    } catch {
      client.close();
      return;
    }
    client.setNoDelay(true);
    server.setNoDelay(true);
    const pair: Pair = { client, server, silent: false };
    this.#pairs.add(pair);
    const upstream = this.#upstream;
    await Promise.all([
      upstream === undefined
        ? this.#pump(pair, client, server)
        : upstream(client, server).catch(() => {}).finally(() =>
          closeQuietly(client, server)
        ),
      this.#pump(pair, server, client),
    ]);
    this.#pairs.delete(pair);
  }

  async #pump(pair: Pair, from: Deno.TcpConn, to: Deno.TcpConn): Promise<void> {
    await pump(from, to, { drop: () => pair.silent });
    // One side ended: end both (unless silenced, when nothing is said).
    if (!pair.silent) closeQuietly(pair.client, pair.server);
  }

  #track(task: Promise<void>): void {
    this.#tasks.add(task);
    task.finally(() => this.#tasks.delete(task));
  }

  /** Closes the listener and every connection, and waits for the pumps. */
  async close(): Promise<void> {
    this.#listener.close();
    await this.#accepting;
    for (const pair of this.#pairs) closeQuietly(pair.client, pair.server);
    await Promise.all(this.#tasks);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * Copies bytes from one connection to another until the first ends or fails.
 *
 * @param from what to read
 * @param to where to write everything read
 * @param options `drop` says, for each chunk read, to discard it instead
 */
export async function pump(
  from: Deno.Conn,
  to: Deno.Conn,
  options: { drop?: () => boolean } = {},
): Promise<void> {
  const buffer = new Uint8Array(64 * 1024);
  try {
    while (true) {
      const n = await from.read(buffer);
      if (n === null) break;
      if (options.drop?.()) continue;
      await writeAll(to, buffer.subarray(0, n));
    }
  } catch {
    // Either side closed.
  }
}

/** Closes connections, whether or not they are still open. */
export function closeQuietly(...conns: Deno.Conn[]): void {
  for (const conn of conns) {
    try {
      conn.close();
    } catch {
      // Already closed.
    }
  }
}
