/**
 * What a listener does when accepting fails (descriptors exhausted, EMFILE):
 * it pauses and tries again instead of ending, logs the episode once (WARN
 * when it starts, INFO when it recovers), and marks its counters so that
 * `/health/live` reports it. Every listener of the family shares it.
 *
 * @module
 */

import { getLogger } from "npm:@logtape/logtape@^2.4.2";
import { sleep } from "../_util/deadline.ts";
import { errorText } from "../_util/text.ts";
import type { ListenerStats } from "../server/transport.ts";

const log = getLogger(["mist", "listener"]);

/** The first pause after an accept error, in milliseconds. */
export const FIRST_PAUSE_MS = 100;
/** The longest pause between two tries, in milliseconds. */
export const LONGEST_PAUSE_MS = 1000;

/** One listener's accept failures: the current episode, if any, and its pause. */
export class AcceptFailures {
  readonly #url: () => string;
  readonly #stats: ListenerStats;
  #pauseMs = 0;
  #since = 0;

  /**
   * @param url the listener's bound URL, for logs (read when logging)
   * @param stats the listener's counters, whose `acceptFailing` it sets
   */
  constructor(url: () => string, stats: ListenerStats) {
    this.#url = url;
    this.#stats = stats;
  }

  /**
   * Records an accept error.
   *
   * @param err what accepting threw
   * @returns how long to pause before accepting again, in milliseconds
   */
  failed(err: unknown): number {
    this.#stats.acceptErrors++;
    if (!this.#stats.acceptFailing) {
      this.#stats.acceptFailing = true;
      this.#since = Date.now();
      this.#pauseMs = FIRST_PAUSE_MS;
      log.warn("{listener}: {reason}, pausing accepts: {error}", {
        listener: this.#url(),
        reason: isEmfile(err) ? "too many open files" : "accept failed",
        error: errorText(err),
      });
    } else {
      this.#pauseMs = Math.min(this.#pauseMs * 2, LONGEST_PAUSE_MS);
    }
    return this.#pauseMs;
  }

  /** Records a successful accept (or restart): ends the episode, if any. */
  succeeded(): void {
    if (!this.#stats.acceptFailing) return;
    this.#stats.acceptFailing = false;
    log.info("{listener}: accepting again after {ms} ms", {
      listener: this.#url(),
      ms: Date.now() - this.#since,
    });
  }
}

/**
 * Whether an error is the process running out of file descriptors.
 *
 * @param err an error of accepting or listening
 * @returns true for EMFILE and ENFILE
 */
export function isEmfile(err: unknown): boolean {
  const code = (err as { code?: unknown } | undefined)?.code;
  if (code === "EMFILE" || code === "ENFILE") return true;
  return /too many open files|os error 2[34]\b/i.test(errorText(err));
}

/**
 * Accepts connections until the listener closes: an accept error pauses
 * (see {@linkcode AcceptFailures}) instead of ending the loop.
 *
 * @param listener a bound `Deno.Listener`
 * @param failures the listener's episode
 * @param signal aborted when the listener is closed
 * @param accepted called with each connection
 * @returns resolves once the listener is closed
 */
export async function acceptLoop<C extends Deno.Conn>(
  listener: Deno.Listener<C>,
  failures: AcceptFailures,
  signal: AbortSignal,
  accepted: (conn: C) => void,
): Promise<void> {
  while (!signal.aborted) {
    let conn: C;
    try {
      conn = await listener.accept();
    } catch (err) {
      if (signal.aborted || err instanceof Deno.errors.BadResource) return;
      // Out of descriptors (EMFILE) or a passing fault: the listener stays,
      // and tries again once some connections have closed.
      await sleep(failures.failed(err), signal);
      continue;
    }
    failures.succeeded();
    accepted(conn);
  }
}

/**
 * Accepts on a listening socket and keeps count of the connections being
 * served: a count, nothing kept per connection.
 */
export class Acceptor<C extends Deno.Conn = Deno.Conn> {
  readonly #listener: Deno.Listener<C>;
  readonly #stop = new AbortController();
  readonly #loop: Promise<void>;
  #serving = 0;
  #idle: PromiseWithResolvers<void> | undefined;

  /**
   * Starts accepting.
   *
   * @param listener the bound socket
   * @param failures the listener's accept failures
   * @param accepted serves one connection; what it returns settles when done
   */
  constructor(
    listener: Deno.Listener<C>,
    failures: AcceptFailures,
    accepted: (conn: C) => Promise<unknown>,
  ) {
    this.#listener = listener;
    const settled = () => {
      if (--this.#serving === 0) this.#idle?.resolve();
    };
    this.#loop = acceptLoop(listener, failures, this.#stop.signal, (conn) => {
      this.#serving++;
      accepted(conn).then(settled, settled);
    });
  }

  /** Stops accepting; connections being served go on. */
  close(): void {
    this.#stop.abort();
    closeQuietly(this.#listener);
  }

  /** Resolves once accepting has stopped and every connection has ended. */
  async finished(): Promise<void> {
    await this.#loop;
    if (this.#serving === 0) return;
    this.#idle ??= Promise.withResolvers();
    await this.#idle.promise;
  }
}

function closeQuietly(resource: { close(): void }): void {
  try {
    resource.close();
  } catch {
    // Already closed.
  }
}
