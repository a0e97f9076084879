/**
 * Reading what a server sends: one frame into a {@linkcode Message}, checked
 * enough that the client can rely on its fields. Pure: no I/O.
 *
 * @module
 */

import { MistError } from "./errors.ts";
import type { Message } from "./codec.ts";

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Parses one frame from the server.
 *
 * `null` stands for an absent field, as the original server's Go encoder may
 * send it. The error never quotes the frame: a reply to `tags` holds a token.
 *
 * @param frame a WebSocket text frame, or a line's UTF-8 bytes without its ending
 * @returns the message
 * @throws {MistError} `protocol error` when the frame is not such a message
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseServerFrame } from "./inbound.ts";
 * assert.deepEqual(
 *   parseServerFrame('{"command":"ping","tags":[],"data":"pong"}'),
 *   { command: "ping", tags: [], data: "pong" },
 * );
 * ```
 */
export function parseServerFrame(frame: string | Uint8Array): Message {
  let text: string;
  try {
    text = typeof frame === "string" ? frame : utf8.decode(frame);
  } catch {
    throw bad("a frame from the server is not UTF-8");
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw bad(
      `a frame from the server is not JSON (${text.length} characters)`,
    );
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw bad("a frame from the server is not a JSON object");
  }
  const { command, tags, data, error, id } = value as Record<string, unknown>;
  if (typeof command !== "string") {
    throw bad("a frame from the server has no string command");
  }
  const message: Message = { command };
  if (tags !== undefined && tags !== null) {
    if (!Array.isArray(tags) || !tags.every((t) => typeof t === "string")) {
      throw bad(`a "${command}" frame from the server has invalid tags`);
    }
    message.tags = tags;
  }
  if (data !== undefined && data !== null) {
    if (typeof data !== "string") {
      throw bad(`a "${command}" frame from the server has invalid data`);
    }
    message.data = data;
  }
  if (error !== undefined && error !== null) {
    if (typeof error !== "string") {
      throw bad(`a "${command}" frame from the server has an invalid error`);
    }
    message.error = error;
  }
  if (id !== undefined && id !== null) {
    if (typeof id !== "string" && typeof id !== "number") {
      throw bad(`a "${command}" frame from the server has an invalid id`);
    }
    message.id = id;
  }
  return message;
}

function bad(detail: string): MistError {
  return new MistError("protocol_error", detail);
}

/**
 * The error an error reply stands for, with the reply's command, tags and id
 * as its context.
 *
 * @param reply a message with `error` set
 * @returns the error
 */
export function replyError(reply: Message): MistError {
  return MistError.fromText(reply.error ?? "", {
    command: reply.command,
    ...(reply.tags !== undefined ? { tags: reply.tags } : {}),
    ...(reply.id !== undefined ? { id: reply.id } : {}),
  });
}
