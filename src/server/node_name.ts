/**
 * The name of a node not given one (`ServeOptions.nodeName`).
 *
 * @module
 */

/**
 * The host name and the port of the node's first listener: stable across
 * restarts and different for each node of a host.
 *
 * @param address the bound URL of the first listener, if any
 * @returns `"HOST:PORT"`, or the host name alone without a listener
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defaultNodeName } from "./node_name.ts";
 * assert.equal(defaultNodeName("tcp://127.0.0.1:1445"), `${Deno.hostname()}:1445`);
 * ```
 */
export function defaultNodeName(address: string | undefined): string {
  let host = "localhost";
  try {
    host = Deno.hostname();
  } catch {
    // No --allow-sys: the port still tells the nodes of one host apart.
  }
  const port = address === undefined ? "" : URL.parse(address)?.port ?? "";
  return port === "" ? host : `${host}:${port}`;
}
