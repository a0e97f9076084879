/**
 * How a server joins a cluster: other nodes' messages come in through its
 * ingress, grant changes go both ways.
 *
 * @module
 */

import type { Backplane } from "../cluster/backplane.ts";
import { Cluster } from "../cluster/cluster.ts";
import type { Access } from "./access.ts";

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
