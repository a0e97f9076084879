/**
 * The server's health (PROTOCOL.md §8): whether it is alive, what a liveness
 * probe restarts on, and whether it is ready, what a load balancer routes on.
 *
 * @module
 */

import { settlesWithin } from "../_util/deadline.ts";
import type { Authenticator } from "../auth/authenticator.ts";
import type { Cluster } from "../cluster/cluster.ts";
import type { HealthReport } from "./port.ts";

/** How long a readiness check waits for the authenticator, in milliseconds. */
export const HEALTH_TIMEOUT_MS = 2000;

/** What a health check looks at. */
export interface HealthParts {
  /** Whether the server is shutting down. */
  readonly closing: boolean;
  /** The listeners started, with whether their accepts are failing now. */
  readonly listeners: readonly {
    readonly url: string;
    readonly stats?: { readonly acceptFailing: boolean };
  }[];
  /** The authenticator, when authentication is on. */
  readonly authenticator: Authenticator | undefined;
  /** The cluster link, when the server is a node of one. */
  readonly cluster: Cluster | undefined;
}

/**
 * Checks the server's health.
 *
 * - `live`: ok while the server is not shutting down and its listeners
 *   accept: a listener whose accepts fail (out of file descriptors) is
 *   `accept-failing` and makes `listeners` down until it recovers; the authenticator is not asked and the cluster link does not
 *   count, since restarting the process would not bring them back.
 * - `ready`: ok when, besides, the authenticator answers (within
 *   {@linkcode HEALTH_TIMEOUT_MS}) and the cluster link is up.
 *
 * @param parts what to look at
 * @param check which question
 * @returns the report; `down` names what is not up
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkHealth } from "./health.ts";
 * const parts = {
 *   closing: false,
 *   listeners: [{ url: "tcp://127.0.0.1:1445" }],
 *   authenticator: undefined,
 *   cluster: undefined,
 * };
 * const report = await checkHealth(parts, "ready");
 * assert.equal(report.ok, true);
 * assert.deepEqual(report.down, []);
 * ```
 */
export async function checkHealth(
  parts: HealthParts,
  check: "live" | "ready",
): Promise<HealthReport> {
  const down: string[] = [];
  const listeners: HealthReport["listeners"] = {};
  if (parts.closing) {
    down.push("server");
  } else {
    let failing = false;
    for (const { url, stats } of parts.listeners) {
      failing ||= stats?.acceptFailing === true;
      listeners[url] = stats?.acceptFailing ? "accept-failing" : "up";
    }
    if (parts.listeners.length === 0 || failing) down.push("listeners");
  }
  const cluster = parts.cluster === undefined ? "off" : parts.cluster.state;
  const report: HealthReport = { ok: false, check, listeners, cluster, down };
  if (parts.cluster !== undefined) {
    report.peers = parts.cluster.peers().length;
  }
  if (check === "ready") {
    report.authenticator = parts.authenticator === undefined
      ? "off"
      : await healthy(parts.authenticator)
      ? "up"
      : "down";
    if (report.authenticator === "down") down.push("authenticator");
    if (cluster === "down") down.push("cluster");
  }
  report.ok = down.length === 0;
  return report;
}

async function healthy(authenticator: Authenticator): Promise<boolean> {
  const answer = authenticator.healthy().catch(() => false);
  return await settlesWithin(answer, HEALTH_TIMEOUT_MS) && await answer;
}
