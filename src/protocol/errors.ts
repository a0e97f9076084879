/**
 * The one error type of mist's domain, and the wire text of every error.
 *
 * A {@linkcode MistError} travels from wherever it is thrown (the codec, a
 * command, an authenticator) to the connection, which turns it into the protocol's
 * error reply in one place. The client maps an error reply back into a
 * `MistError` with the same code ({@linkcode MistError.fromText}), and uses the
 * last codes of {@linkcode ERROR_TEXT} for what goes wrong on its side.
 *
 * @module
 */

/** The wire text that starts each error reply, by code (docs/protocol.md §4, §6). */
export const ERROR_TEXT = {
  invalid_json: "invalid JSON",
  invalid_message: "invalid message",
  unknown_command: "Unknown Command",
  invalid_tags: "invalid tags",
  missing_tags: "missing tags",
  invalid_data: "invalid data",
  too_large: "message too large",
  too_many_tags: "too many tags",
  tag_too_long: "tag too long",
  too_many_subscriptions: "too many subscriptions",
  subscription_budget: "too many subscriptions: server budget reached",
  subscriptions_too_large: "subscriptions too large",
  reply_too_large: "reply too large",
  forbidden: "forbidden",
  invalid_token: "invalid token",
  auth_not_first: "auth must be the first command",
  token_exists: "token already exists",
  token_not_found: "token not found",
  authenticator_unavailable: "authenticator unavailable",
  internal: "internal error",
  // The client's own codes: the server never sends these texts.
  connection_failed: "cannot connect",
  connection_closed: "connection closed",
  not_connected: "not connected",
  timeout: "timed out",
  client_closed: "client closed",
  protocol_error: "protocol error",
  server_error: "server error",
} as const;

/** What went wrong, as a stable machine-readable code. */
export type ErrorCode = keyof typeof ERROR_TEXT;

/** The part of a request an error reply echoes back (docs/protocol.md §6). */
export interface ErrorContext {
  /** The request's command, or `""` when none could be read. */
  command: string;
  /** The request's tags, when they were valid. */
  tags?: readonly string[];
  /** The request's correlation id, when it had one. */
  id?: string | number;
}

/**
 * An error of mist's domain. Its message is the protocol's error text: it starts
 * with {@linkcode ERROR_TEXT}`[code]` and may add detail after a colon.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MistError } from "./errors.ts";
 * const err = new MistError("missing_tags");
 * assert.equal(err.message, "missing tags");
 * assert.equal(
 *   new MistError("invalid_json", "unexpected end").message,
 *   "invalid JSON: unexpected end",
 * );
 * ```
 */
export class MistError extends Error {
  /** Always `"MistError"`. */
  override name = "MistError";
  /** The stable code of this error. */
  readonly code: ErrorCode;
  /** The request this error answers, when the codec could read some of it. */
  context: ErrorContext | undefined;

  /**
   * Creates an error with the protocol's text for its code.
   *
   * @param code what went wrong
   * @param detail optional detail appended to the error text after `": "`
   * @param options standard error options (`cause`)
   */
  constructor(code: ErrorCode, detail?: string, options?: ErrorOptions) {
    super(
      detail ? `${ERROR_TEXT[code]}: ${detail}` : ERROR_TEXT[code],
      options,
    );
    this.code = code;
  }

  /**
   * The error an error reply's text stands for: the code whose text the reply
   * starts with (alone or followed by `": "`), and exactly that text as the message.
   * A text no code matches, such as a custom command's, gets the code
   * `server_error` and the message `server error: TEXT`.
   *
   * @param text the `error` field of a reply
   * @param context the reply's command, tags and id, kept as the error's context
   * @returns the error
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { MistError } from "./errors.ts";
   * const err = MistError.fromText('forbidden: not granted ["x"]');
   * assert.equal(err.code, "forbidden");
   * assert.equal(err.message, 'forbidden: not granted ["x"]');
   * ```
   */
  static fromText(text: string, context?: ErrorContext): MistError {
    let best: ErrorCode | undefined;
    for (const [code, prefix] of Object.entries(ERROR_TEXT)) {
      if (
        (text === prefix || text.startsWith(`${prefix}: `)) &&
        (best === undefined || prefix.length > ERROR_TEXT[best].length)
      ) {
        best = code as ErrorCode;
      }
    }
    const err = best === undefined
      ? new MistError("server_error", text)
      : new MistError(best, text.slice(ERROR_TEXT[best].length + 2));
    if (context !== undefined) err.context = { ...context };
    return err;
  }
}
