/**
 * mist: a tag-based publish/subscribe server, and its client.
 *
 * Clients subscribe to sets of tags and receive every message whose tags
 * include all the tags of one of their subscriptions. This module starts a
 * server inside a Deno program, extends it with custom commands and
 * listeners, connects to servers as a client, and exposes the protocol's types.
 *
 * @example Run a server on a free port
 * ```ts
 * import assert from "node:assert/strict";
 * import { serve } from "@mist/mist";
 *
 * await using server = await serve({ listeners: ["tcp://127.0.0.1:0"] });
 * assert.match(server.addresses[0]!, /^tcp:\/\/127\.0\.0\.1:\d+$/);
 * ```
 *
 * @example Subscribe and publish as a client
 * ```ts
 * import assert from "node:assert/strict";
 * import { connect, serve } from "@mist/mist";
 *
 * await using server = await serve({ listeners: ["tcp://127.0.0.1:0"] });
 * await using alice = await connect(server.addresses[0]!);
 * await using bob = await connect(server.addresses[0]!);
 *
 * const sub = await alice.subscribe(["hello"]);
 * await bob.publish(["hello", "world"], "hi!");
 * for await (const msg of sub) {
 *   assert.deepEqual(msg.tags, ["hello", "world"]);
 *   assert.equal(msg.data, "hi!");
 *   break; // unsubscribes
 * }
 * ```
 *
 * @module
 */

export {
  DEFAULT_LISTENERS,
  DEFAULT_QUEUE_BYTES,
  MistServer,
  type Reconfiguration,
  serve,
  type ServeOptions,
  type ServerStats,
} from "./src/server/server.ts";
export {
  ERROR_TEXT,
  type ErrorCode,
  type ErrorContext,
  MistError,
} from "./src/protocol/errors.ts";
export {
  type CommandRequest,
  DEFAULT_LIMITS,
  Frame,
  type Limits,
  type Message,
} from "./src/protocol/codec.ts";
export type { CommandHandler, Connection } from "./src/server/connection.ts";
export {
  type ConnectionInfo,
  type ListenerStats,
  newStats,
  type OpenOptions,
  type Outlet,
} from "./src/server/transport.ts";
export { FLUSH_BUCKETS, Histogram } from "./src/server/histogram.ts";
export type {
  HealthReport,
  ListenerSettings,
  ServerPort,
  TlsCertificate,
} from "./src/server/port.ts";
export {
  type Listener,
  type ListenerFactory,
  registerListener,
} from "./src/listeners/listener.ts";
export {
  type Authenticator,
  type AuthenticatorFactory,
  registerAuthenticator,
} from "./src/auth/authenticator.ts";
export { openAuthenticator } from "./src/auth/builtin.ts";
export type { Principal } from "./src/core/principal.ts";
export { connect, MistClient } from "./src/client/client.ts";
export type { ConnectionMode, ConnectOptions } from "./src/client/options.ts";
export {
  type ClientEvent,
  type ClientState,
  STATUS_BUFFER,
} from "./src/client/status.ts";
export type {
  Delivery,
  SubscribeOptions,
  Subscription,
} from "./src/client/subscription.ts";
export type { MistAdmin } from "./src/client/admin.ts";
export {
  DEFAULT_RECONNECT,
  type ReconnectOptions,
} from "./src/client/backoff.ts";
export {
  type Backplane,
  type BackplaneFactory,
  type BackplaneHandlers,
  type BackplaneOptions,
  type LinkState,
  registerBackplane,
} from "./src/cluster/backplane.ts";
export { openBackplane } from "./src/cluster/builtin.ts";
export {
  registerTransport,
  type Transport,
  type TransportFactory,
  type TransportHandler,
  type TransportOptions,
} from "./src/client/transport.ts";
export type { Cluster } from "./src/cluster/cluster.ts";
export type {
  ClusterGrantsHandler,
  ClusterMessageHandler,
  ClusterStats,
} from "./src/cluster/cluster_options.ts";
