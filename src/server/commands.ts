/**
 * The command table: each command of docs/protocol.md §3 and §4, its whole
 * behaviour (permission, limits, counters, routing, reply) in one handler,
 * plus whatever custom commands a library user registers.
 *
 * Every way a request reaches the server runs through this table: frames on
 * TCP and WebSocket, `POST /publish` bodies, SSE subscriptions, and messages
 * from other nodes of a cluster.
 *
 * @module
 */

import {
  checkAdmin,
  checkInspect,
  checkPublish,
  checkSubscribe,
} from "../core/principal.ts";
import type { Broker } from "../core/broker.ts";
import { tagSet } from "../core/set_trie.ts";
import {
  type CommandRequest,
  type Limits,
  requireTags,
} from "../protocol/codec.ts";
import { MistError } from "../protocol/errors.ts";
import type { Access } from "./access.ts";
import { type SubscriptionBudget, subscriptionBytes } from "./budget.ts";
import type { CommandHandler, Connection } from "./connection.ts";

export type { CommandHandler };

/** What the command handlers need from the server. */
export interface CommandContext {
  /** Access control: principals, grants, the admin commands' store. */
  readonly access: Access;
  /**
   * Routes a message published by a connection: to the local subscribers
   * (never back to the publisher) and, unless the connection is `local`, to
   * the other nodes of the cluster.
   */
  route(
    from: Connection,
    tags: readonly string[],
    request: CommandRequest,
  ): void;
  /** The subscriptions of every connection. */
  readonly broker: Broker<Connection>;
  /** The size limits: `maxSubscriptions` applies here. */
  readonly limits: Limits;
  /** What every subscription costs, against the server's and each connection's limits. */
  readonly budget: SubscriptionBudget<Connection>;
  /** Connections accepted since start, and open now, over every listener (`who`). */
  connections(): { accepted: number; open: number };
}

function basicCommands(
  server: CommandContext,
): [string, CommandHandler][] {
  return [
    ["ping", () => ({ command: "ping", tags: [], data: "pong" })],
    ["subscribe", (connection, request) => {
      const requested = requireTags(request);
      checkSubscribe(connection.principal, requested);
      const tags = tagSet(requested);
      const { broker, budget } = server;
      if (!broker.subscribe(connection, tags, server.limits.maxSubscriptions)) {
        return; // held already: it costs nothing more
      }
      try {
        budget.charge(connection, subscriptionBytes(tags));
      } catch (err) {
        broker.unsubscribe(connection, tags);
        throw err;
      }
    }],
    ["unsubscribe", (connection, request) => {
      // Always allowed: a connection only ever removes what it holds.
      const tags = tagSet(requireTags(request));
      if (server.broker.unsubscribe(connection, tags)) {
        server.budget.refund(connection, subscriptionBytes(tags));
      }
    }],
    ["publish", (connection, request) => {
      const tags = requireTags(request);
      checkPublish(connection.principal, tags);
      connection.info.stats.received++;
      server.route(connection, tags, request);
    }],
    ["list", (connection) => ({
      command: "list",
      tags: [],
      data: listText(server.broker.subscriptions(connection)),
    })],
    ["auth", async (connection, request) => {
      if (!server.access.enabled) return;
      if (connection.requests > 1 || connection.presented) {
        throw new MistError("auth_not_first");
      }
      if (request.data === undefined) throw new MistError("invalid_token");
      connection.adopt(
        await server.access.principal(request.data, connection.id),
      );
    }],
  ];
}

/**
 * The longest `list` text: twice this still fits V8's longest string (about
 * 2^29 characters), as the reply's encoding may double it. With
 * `max-subscription-bytes` a list is far shorter.
 */
export const MAX_LIST_CHARS = 2 ** 27;

/**
 * The data of a `list` reply: the subscriptions as a JSON array of tag
 * arrays, built one subscription at a time so that a list too long to be a
 * string is an error reply, never a failure of the server.
 *
 * @param subscriptions each subscription's tags
 * @param max the longest text allowed
 * @returns the JSON text
 * @throws {MistError} `reply too large` past `max` characters
 */
export function listText(
  subscriptions: readonly (readonly string[])[],
  max: number = MAX_LIST_CHARS,
): string {
  const parts: string[] = [];
  let length = 1; // "[" and "]", less the comma the first part has none of
  for (const tags of subscriptions) {
    const part = JSON.stringify(tags);
    length += part.length + 1;
    if (length > max) {
      throw new MistError(
        "reply_too_large",
        `${subscriptions.length} subscriptions`,
      );
    }
    parts.push(part);
  }
  return `[${parts.join(",")}]`;
}

/** The original's hidden commands (docs/protocol.md §3): views of the whole node. */
function inspectCommands(server: CommandContext): [string, CommandHandler][] {
  const commands: Record<string, CommandHandler> = {
    listall: () => ({
      command: "listall",
      tags: [],
      data: server.broker.tags().join(" "),
    }),
    who: () => {
      const { accepted, open } = server.connections();
      return {
        command: "who",
        tags: [],
        // Two spaces after "Lifetime", as the original wrote it.
        data:
          `Lifetime  connections: ${accepted}\nSubscribers connected: ${open}`,
      };
    },
  };
  return Object.entries(commands).map(([name, handler]) => [
    name,
    (connection, request) => {
      checkInspect(connection.principal);
      return handler(connection, request);
    },
  ]);
}

function token(request: CommandRequest): string {
  if (request.data === undefined || request.data === "") {
    throw new MistError("invalid_data", "missing token");
  }
  return request.data;
}

/** An admin command: runs only for admin connections. */
function adminOnly(handler: CommandHandler): CommandHandler {
  return (connection, request) => {
    checkAdmin(connection.principal);
    return handler(connection, request);
  };
}

function adminCommands(access: Access): [string, CommandHandler][] {
  const commands: Record<string, CommandHandler> = {
    register: async (_, request) => {
      await access.register(token(request), request.tags ?? []);
    },
    unregister: async (_, request) => {
      await access.unregister(token(request));
    },
    set: async (_, request) => {
      await access.grant(token(request), requireTags(request));
    },
    unset: async (_, request) => {
      await access.revoke(token(request), requireTags(request));
    },
    tags: async (_, request) => {
      const name = token(request);
      return { command: "tags", tags: await access.tags(name), data: name };
    },
  };
  return Object.entries(commands).map((
    [name, handler],
  ) => [name, adminOnly(handler)]);
}

/**
 * Builds a server's command table.
 *
 * @param server what the handlers act on
 * @param custom extra commands by name
 * @returns the protocol's commands and the custom ones
 * @throws {TypeError} when a custom command would replace a protocol command
 */
export function commandTable(
  server: CommandContext,
  custom: Readonly<Record<string, CommandHandler>> = {},
): Map<string, CommandHandler> {
  const table = new Map([
    ...basicCommands(server),
    ...inspectCommands(server),
    ...adminCommands(server.access),
  ]);
  for (const [name, handler] of Object.entries(custom)) {
    if (table.has(name)) {
      throw new TypeError(`Cannot replace the protocol command "${name}"`);
    }
    table.set(name, handler);
  }
  return table;
}
