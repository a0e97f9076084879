/**
 * Grants that converge: when a node's cluster link comes up (again), the
 * grant changes other nodes made meanwhile never arrived, so every token in
 * use here is read again from the authenticator and its connections follow
 * what it grants now (`revoked` notices, docs/protocol.md §4).
 *
 * @module
 */

import { getLogger } from "npm:@logtape/logtape@^2.4.2";
import { backoffDelay } from "../_util/backoff.ts";
import type { Access } from "./access.ts";

const log = getLogger(["mist", "server"]);

/** How soon grants are read again when the authenticator failed. */
const RETRY = { initialMs: 500, maxMs: 30_000, jitter: 0.2 };

/** Reads the grants of a server's tokens again, one reading at a time. */
export class GrantRefresher {
  readonly #access: Access;
  #reading: Promise<void> = Promise.resolve();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  /** @param access the server's access control */
  constructor(access: Access) {
    this.#access = access;
  }

  /**
   * The link is up: reads every token's grants again, after the reading
   * under way if any, and again after a pause while the authenticator fails.
   *
   * @param retry how many readings failed before this one
   */
  relinked(retry = 0): void {
    clearTimeout(this.#timer);
    if (!this.#access.enabled || this.#closed) return;
    this.#reading = this.#reading.then(async () => {
      const failed = await this.#access.reread().catch((err) => {
        log.error("Reading grants again failed: {error}", { error: err });
        return 1;
      });
      if (failed === 0 || this.#closed) return;
      const ms = Math.round(backoffDelay(retry, RETRY));
      log.warn(
        "The grants of {failed} token(s) could not be read again after the cluster link came up: their connections keep the grants they had; retrying in {ms} ms",
        { failed, ms },
      );
      this.#timer = setTimeout(() => this.relinked(retry + 1), ms);
    });
  }

  /** Stops retrying. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
  }
}
