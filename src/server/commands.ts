/**
 * The command table: the protocol's commands by name (PROTOCOL.md §3, §4),
 * plus whatever custom commands a library user registers.
 *
 * @module
 */

import type { Access } from "./access.ts";
import { checkAdmin } from "../core/principal.ts";
import { MistError } from "../protocol/errors.ts";
import { type Request, requireTags } from "../protocol/codec.ts";
import type { CommandHandler } from "./connection.ts";

export type { CommandHandler };

/** The basic commands of PROTOCOL.md §3. */
export const BASIC_COMMANDS: ReadonlyMap<string, CommandHandler> = new Map<
  string,
  CommandHandler
>([
  ["ping", () => ({ command: "ping", tags: [], data: "pong" })],
  ["subscribe", (session, request) => {
    session.subscribe(requireTags(request));
  }],
  ["unsubscribe", (session, request) => {
    session.unsubscribe(requireTags(request));
  }],
  ["publish", (session, request) => {
    session.publish(requireTags(request), request.data ?? "");
  }],
  ["list", (session) => ({
    command: "list",
    tags: [],
    data: JSON.stringify(session.subscriptions()),
  })],
  ["auth", (session, request) => session.authenticate(request.data)],
]);

function token(request: Request): string {
  if (request.data === undefined || request.data === "") {
    throw new MistError("invalid_data", "missing token");
  }
  return request.data;
}

/**
 * The admin commands of PROTOCOL.md §4, bound to a server's access control.
 * Only admin connections may use them; everyone else gets `forbidden: admin only`.
 *
 * @param access the server's access control
 * @returns the commands by name
 */
export function adminCommands(
  access: Access,
): Map<string, CommandHandler> {
  return new Map<string, CommandHandler>([
    ["register", async (session, request) => {
      checkAdmin(session.principal);
      await access.register(token(request), request.tags ?? []);
    }],
    ["unregister", async (session, request) => {
      checkAdmin(session.principal);
      await access.unregister(token(request));
    }],
    ["set", async (session, request) => {
      checkAdmin(session.principal);
      await access.grant(token(request), requireTags(request));
    }],
    ["unset", async (session, request) => {
      checkAdmin(session.principal);
      await access.revoke(token(request), requireTags(request));
    }],
    ["tags", async (session, request) => {
      checkAdmin(session.principal);
      const name = token(request);
      return { command: "tags", tags: await access.tags(name), data: name };
    }],
  ]);
}

/**
 * Builds a server's command table.
 *
 * @param access the server's access control, for the admin commands
 * @param custom extra commands by name
 * @returns the protocol's commands and the custom ones
 * @throws {TypeError} when a custom command would replace a protocol command
 */
export function commandTable(
  access: Access,
  custom: Readonly<Record<string, CommandHandler>> = {},
): Map<string, CommandHandler> {
  const table = new Map([...BASIC_COMMANDS, ...adminCommands(access)]);
  for (const [name, handler] of Object.entries(custom)) {
    if (table.has(name)) {
      throw new TypeError(`Cannot replace the protocol command "${name}"`);
    }
    table.set(name, handler);
  }
  return table;
}
