/**
 * The one error type of mist's domain, and the wire text of every error.
 *
 * A {@linkcode MistError} travels from wherever it is thrown (the codec, a
 * command, an authenticator) to the session, which turns it into the protocol's
 * error reply in one place. The client maps an error reply back into a
 * `MistError` with the same code.
 *
 * @module
 */

/** The wire text that starts each error reply, by code (PROTOCOL.md §4, §6). */
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
  forbidden: "forbidden",
  invalid_token: "invalid token",
  auth_not_first: "auth must be the first command",
  token_exists: "token already exists",
  token_not_found: "token not found",
  authenticator_unavailable: "authenticator unavailable",
  internal: "internal error",
} as const;

/** What went wrong, as a stable machine-readable code. */
export type ErrorCode = keyof typeof ERROR_TEXT;

/** The part of a request an error reply echoes back (PROTOCOL.md §6). */
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
 * import { MistError } from "./errors.ts";
 * const err = new MistError("missing_tags");
 * err.message; // "missing tags"
 * new MistError("invalid_json", "unexpected end").message; // "invalid JSON: unexpected end"
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
}
