/**
 * At which level an error reply is logged (docs/operations.md, Logs): a
 * client's own faults at DEBUG, the limits it meets at INFO, the server's
 * budget at WARN, as an operator may need to raise it. Every one of these
 * lines is rate-limited per connection (`_util/rate_limit.ts`): a client decides how often
 * they happen.
 *
 * @module
 */

import type { LogLevel } from "npm:@logtape/logtape@^2.4.2";
import type { ErrorCode } from "../protocol/errors.ts";

/**
 * The level of the log line of an error reply.
 *
 * @param code the reply's error code
 * @returns `warning` for the server's subscription budget, `info` for a
 *   limit of a connection or a message, `debug` for the rest (bad input,
 *   unknown commands, refused permissions and tokens: `Access` logs refused
 *   tokens at INFO itself, on every transport)
 */
export function replyLevel(code: ErrorCode): LogLevel {
  switch (code) {
    case "subscription_budget":
      return "warning";
    case "too_large":
    case "too_many_tags":
    case "tag_too_long":
    case "too_many_subscriptions":
    case "subscriptions_too_large":
    case "reply_too_large":
      return "info";
    default:
      return "debug";
  }
}
