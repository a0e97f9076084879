/**
 * How a server joins a cluster: other nodes' messages come in through its
 * ingress, grant changes go both ways.
 *
 * @module
 */

import type { Backplane } from "../cluster/backplane.ts";
import { openBackplane } from "../cluster/builtin.ts";
import { Cluster } from "../cluster/cluster.ts";
import type { Access } from "./access.ts";
import { GrantRefresher } from "./relink.ts";

/** What {@linkcode joinCluster} connects the cluster to. */
export interface JoinOptions {
  /** This node's name, its id in the cluster. */
  node: string;
  /** Milliseconds between heartbeats, when not the default. */
  heartbeatMs: number | undefined;
  /** The server's access control: grant changes here and there. */
  access: Access;
  /** Runs a message published on another node, here only. */
  ingress: (tags: readonly string[], data: string) => void;
}

/**
 * Makes the server a node of a cluster and starts linking in the background.
 *
 * @param backplane what carries the envelopes
 * @param options the node's name and what it connects to
 * @returns the started cluster node
 * @throws {TypeError} for an empty node name
 */
export function joinCluster(
  backplane: Backplane,
  options: JoinOptions,
): Cluster {
  const { node, heartbeatMs, access } = options;
  const cluster = new Cluster(
    heartbeatMs === undefined
      ? { backplane, node }
      : { backplane, node, heartbeatMs },
  );
  cluster.onMessage(options.ingress);
  // Grant changes made here reach every node; theirs apply here.
  access.onGrantsChanged((digest, tags) => {
    cluster.publishGrants(digest, tags);
  });
  cluster.onGrants((digest, tags) => access.applyGrants(digest, tags));
  cluster.start();
  return cluster;
}

/** How a server may be set up to join a cluster (a part of `ServeOptions`). */
export interface MembershipOptions {
  /** The Redis URL of the cluster. */
  cluster?: string;
  /** The cluster's name. */
  clusterName?: string;
  /** A backplane to join through instead; wins over `cluster`. */
  backplane?: Backplane;
  /** Milliseconds between heartbeats. */
  heartbeatMs?: number;
}

/**
 * A server's place in a cluster, if it has one: the backplane it opened, the
 * node once it joined, and the grants read again whenever its link comes up.
 */
export class Membership {
  readonly #backplane: Backplane | undefined;
  readonly #heartbeatMs: number | undefined;
  readonly #access: Access;
  readonly #refresher: GrantRefresher;
  #cluster: Cluster | undefined;

  /**
   * Opens the backplane, if any; nothing links before {@linkcode join}.
   *
   * @param options the server's cluster options
   * @param access the server's access control
   * @throws {TypeError} for an invalid cluster URL or name
   */
  constructor(options: MembershipOptions, access: Access) {
    this.#backplane = options.backplane ??
      (options.cluster === undefined
        ? undefined
        : openBackplane(options.cluster, { name: options.clusterName }));
    this.#heartbeatMs = options.heartbeatMs;
    this.#access = access;
    this.#refresher = new GrantRefresher(access);
  }

  /** The node, once joined; `undefined` for a server alone. */
  get cluster(): Cluster | undefined {
    return this.#cluster;
  }

  /**
   * Joins the cluster, once, linking in the background.
   *
   * @param node this node's name
   * @param ingress runs a message published on another node, here only
   */
  join(node: string, ingress: JoinOptions["ingress"]): void {
    if (this.#backplane === undefined || this.#cluster !== undefined) return;
    this.#cluster = joinCluster(this.#backplane, {
      node,
      heartbeatMs: this.#heartbeatMs,
      access: this.#access,
      ingress,
    });
    this.#cluster.onState((state) => {
      if (state === "up") this.#refresher.relinked();
    });
  }

  /** Leaves the cluster, or closes a backplane that never joined. */
  async close(): Promise<void> {
    this.#refresher.close();
    await (this.#cluster?.close() ?? this.#backplane?.close());
  }
}
