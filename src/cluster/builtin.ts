/**
 * Registers the backplanes mist ships with, by URL scheme: `redis` and
 * `rediss` (Redis over TLS; also Valkey, KeyDB, Dragonfly). Importing this
 * module once is all a server needs before {@linkcode openBackplane}.
 *
 * The Redis client library is loaded only when a backplane starts linking, so
 * servers that are not in a cluster never load it.
 *
 * @module
 */

import {
  type BackplaneFactory,
  openBackplane,
  registerBackplane,
} from "./backplane.ts";
import { RedisBackplane } from "./backplane_redis.ts";

/** The schemes this module registers. */
export const BUILTIN_BACKPLANES: readonly string[] = ["redis", "rediss"];

const openRedis: BackplaneFactory = (url, options) =>
  new RedisBackplane(url.href, options);

registerBackplane("redis", openRedis);
registerBackplane("rediss", openRedis);

export { openBackplane };
