/**
 * The command table: the protocol's commands by name (PROTOCOL.md §3), plus
 * whatever custom commands a library user registers.
 *
 * @module
 */

import { type Request, requireTags } from "./protocol.ts";
import type { CommandHandler, Session } from "./session.ts";

export type { CommandHandler };

/** The basic commands of PROTOCOL.md §3. */
export const BASIC_COMMANDS: ReadonlyMap<string, CommandHandler> = new Map<
  string,
  CommandHandler
>([
  ["ping", () => ({ command: "ping", tags: [], data: "pong" })],
  ["subscribe", (session: Session, request: Request) => {
    session.subscribe(requireTags(request));
  }],
  ["unsubscribe", (session: Session, request: Request) => {
    session.unsubscribe(requireTags(request));
  }],
  ["publish", (session: Session, request: Request) => {
    session.publish(requireTags(request), request.data ?? "");
  }],
  ["list", (session: Session) => ({
    command: "list",
    tags: [],
    data: JSON.stringify(session.subscriptions()),
  })],
  // Authentication is off: `auth` is accepted and ignored.
  ["auth", () => {}],
]);

/**
 * Builds a server's command table.
 *
 * @param custom extra commands by name
 * @returns the basic commands and the custom ones
 * @throws {TypeError} when a custom command would replace a protocol command
 */
export function commandTable(
  custom: Readonly<Record<string, CommandHandler>> = {},
): Map<string, CommandHandler> {
  const table = new Map(BASIC_COMMANDS);
  for (const [name, handler] of Object.entries(custom)) {
    if (table.has(name)) {
      throw new TypeError(`Cannot replace the protocol command "${name}"`);
    }
    table.set(name, handler);
  }
  return table;
}
