/**
 * The command-line client: `mist ping`, `subscribe`, `publish`, `list` and
 * `admin`, each a thin shell over the library client. This module picks the
 * subcommand and turns failures into one line and an exit code.
 *
 * Exit codes: 0 success, 1 the server answered with an error, 2 a usage error,
 * 3 the server could not be reached. Every failure is one line on standard error.
 *
 * @module
 */

import { MistError } from "../protocol/errors.ts";
import { write } from "./_output.ts";
import { bench } from "./bench.ts";
import { admin } from "./client_admin.ts";
import { type ClientArgs, parseClientArgs, UsageError } from "./client_args.ts";
import { CLIENT_HELP } from "./client_help.ts";
import { list, ping, publish } from "./client_requests.ts";
import { subscribe } from "./client_subscribe.ts";
import { EXIT } from "./exit.ts";

export { EXIT };

/** The subcommands this module runs. */
export const CLIENT_COMMANDS: ReadonlySet<string> = new Set([
  "ping",
  "subscribe",
  "publish",
  "list",
  "admin",
  "bench",
]);

const RUN: Record<string, (parsed: ClientArgs) => Promise<number>> = {
  ping,
  subscribe,
  publish,
  list,
  admin,
};

/**
 * Runs a client subcommand.
 *
 * @param args the arguments after the program name, starting with the subcommand
 * @returns the exit code ({@linkcode EXIT})
 */
export async function runClientCommand(
  args: readonly string[],
): Promise<number> {
  const command = args[0] ?? "";
  if (command === "bench") return await bench(args.slice(1));
  try {
    const parsed = await parseClientArgs(command, args.slice(1));
    if (parsed === undefined) {
      write(Deno.stdout, CLIENT_HELP[command] ?? "");
      return EXIT.ok;
    }
    return await RUN[command]!(parsed);
  } catch (err) {
    return fail(command, err);
  }
}

function fail(command: string, err: unknown): number {
  if (err instanceof UsageError) {
    write(
      Deno.stderr,
      `mist ${command}: ${err.message} (see "mist ${command} --help")\n`,
    );
    return EXIT.usage;
  }
  if (!(err instanceof MistError)) throw err;
  write(Deno.stderr, `mist ${command}: ${err.message}\n`);
  switch (err.code) {
    case "connection_failed":
    case "connection_closed":
    case "not_connected":
    case "timeout":
      return EXIT.unreachable;
    default:
      return EXIT.serverError;
  }
}
