/**
 * The admin commands (docs/protocol.md §4), for a client connected with the admin token.
 *
 * @module
 */

import { MistError } from "../protocol/errors.ts";
import type { Message } from "../protocol/codec.ts";

/**
 * Manages the tokens of a server that has authentication on. Every method
 * resolves once the server has applied the command and rejects with the
 * server's error: `forbidden: admin only` unless the client connected with the
 * admin token, `token already exists`, `token not found`.
 *
 * Tokens travel to the server and nowhere else: they never appear in the
 * client's errors or logs.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { connect, type MistAdmin, openAuthenticator, serve } from "@mist/mist";
 *
 * async function onboard(admin: MistAdmin, token: string): Promise<string[]> {
 *   await admin.register(token, ["orders"]);
 *   await admin.set(token, ["invoices"]);
 *   return await admin.tags(token);
 * }
 *
 * await using server = await serve({
 *   listeners: ["tcp://127.0.0.1:0"],
 *   authenticator: await openAuthenticator("memory://"),
 *   token: "admin-token",
 * });
 * await using client = await connect(server.addresses[0]!, { token: "admin-token" });
 * assert.deepEqual(await onboard(client.admin, "shop-token"), ["invoices", "orders"]);
 * await assert.rejects(client.admin.register("shop-token", []), {
 *   name: "MistError",
 *   code: "token_exists",
 * });
 *
 * // Anyone else is refused.
 * await using user = await connect(server.addresses[0]!, { token: "shop-token" });
 * await assert.rejects(user.admin.tags("shop-token"), {
 *   message: "forbidden: admin only",
 * });
 * ```
 */
export interface MistAdmin {
  /**
   * Registers a token that grants tags.
   *
   * @param token the new token
   * @param tags the tags it grants
   * @throws {MistError} `token already exists`
   */
  register(token: string, tags: readonly string[]): Promise<void>;
  /**
   * Removes a token; connections using it lose what it granted.
   *
   * @param token the token
   * @throws {MistError} `token not found`
   */
  unregister(token: string): Promise<void>;
  /**
   * Grants a token more tags.
   *
   * @param token the token
   * @param tags the tags to add
   * @throws {MistError} `token not found`
   */
  set(token: string, tags: readonly string[]): Promise<void>;
  /**
   * Takes tags away from a token.
   *
   * @param token the token
   * @param tags the tags to remove
   * @throws {MistError} `token not found`
   */
  unset(token: string, tags: readonly string[]): Promise<void>;
  /**
   * The tags a token grants.
   *
   * @param token the token
   * @returns its tags, sorted
   * @throws {MistError} `token not found`
   */
  tags(token: string): Promise<string[]>;
}

/**
 * The admin commands over a client's request function.
 *
 * @param request sends one request and resolves with its reply
 * @returns the admin commands
 */
export function adminMethods(
  request: (message: Message) => Promise<Message | undefined>,
): MistAdmin {
  const send = async (message: Message) => {
    await request(message);
  };
  return {
    register: (token, tags) =>
      send({ command: "register", tags: tagList(tags), data: check(token) }),
    unregister: (token) => send({ command: "unregister", data: check(token) }),
    set: (token, tags) =>
      send({ command: "set", tags: tagList(tags), data: check(token) }),
    unset: (token, tags) =>
      send({ command: "unset", tags: tagList(tags), data: check(token) }),
    async tags(token) {
      const reply = await request({ command: "tags", data: check(token) });
      if (reply?.tags === undefined) {
        throw new MistError("protocol_error", 'no tags in the reply to "tags"');
      }
      return [...reply.tags];
    },
  };
}

function check(token: unknown): string {
  if (typeof token !== "string" || token === "") {
    throw new TypeError("The token must be a non-empty string");
  }
  return token;
}

function tagList(tags: unknown): string[] {
  if (
    !Array.isArray(tags) ||
    !tags.every((tag) => typeof tag === "string" && tag !== "")
  ) {
    throw new TypeError("Tags must be an array of non-empty strings");
  }
  return [...tags];
}
