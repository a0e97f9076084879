/**
 * `mist admin`: the token management commands, with a hint when the server
 * refuses them.
 *
 * @module
 */

import { MistError } from "../protocol/errors.ts";
import { connect, type MistClient } from "../client/client.ts";
import { printMessage } from "./_output.ts";
import type { ClientArgs } from "./client_args.ts";
import { EXIT } from "./exit.ts";

/**
 * `mist admin ACTION TOKEN`.
 *
 * @param parsed the command line
 * @returns the exit code
 * @throws {MistError} the server's refusal
 */
export async function admin(parsed: ClientArgs): Promise<number> {
  const [action, token] = parsed.positionals as [string, string];
  const tags = parsed.tags[0] ?? [];
  await using client = await connect(parsed.address, parsed.options);
  try {
    await run(client, parsed, action, token, tags);
  } catch (err) {
    if (!(err instanceof MistError && err.code === "forbidden")) throw err;
    const hinted = new MistError(err.code, undefined, { cause: err });
    hinted.message = `${err.message} (${await hint(client, parsed)})`;
    throw hinted;
  }
  return EXIT.ok;
}

async function run(
  client: MistClient,
  parsed: ClientArgs,
  action: string,
  token: string,
  tags: string[],
): Promise<void> {
  switch (action) {
    case "register":
      await client.admin.register(token, tags);
      break;
    case "unregister":
      await client.admin.unregister(token);
      break;
    case "set":
      await client.admin.set(token, tags);
      break;
    case "unset":
      await client.admin.unset(token, tags);
      break;
    default: {
      const granted = await client.admin.tags(token);
      printMessage(
        parsed.json,
        { command: "tags", tags: granted, data: token },
        granted.join(","),
      );
    }
  }
}

/**
 * Why an admin command was refused. With authentication off the server lets
 * anyone run `who` and no one run admin commands; with it on, only the admin
 * runs either.
 */
async function hint(client: MistClient, parsed: ClientArgs): Promise<string> {
  const open = await client.request({ command: "who", tags: [] })
    .then(() => true, () => false);
  if (open) {
    return "the server has authentication off: admin commands work only on a server started with --authenticator, given its admin token";
  }
  return parsed.options.token === undefined
    ? "give the server's admin token in MIST_TOKEN or --token"
    : "the token given is not the server's admin token";
}
