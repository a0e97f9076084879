/**
 * The exit codes of the client subcommands.
 *
 * @module
 */

/** The exit codes of the client subcommands. */
export const EXIT = Object.freeze({
  ok: 0,
  serverError: 1,
  usage: 2,
  unreachable: 3,
});
