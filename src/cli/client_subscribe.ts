/**
 * `mist subscribe`: a long-lived connection that prints what arrives and says
 * on standard error what happens to the connection.
 *
 * @module
 */

import { MistError } from "../protocol/errors.ts";
import { connect, type MistClient } from "../client/client.ts";
import type { ClientEvent } from "../client/status.ts";
import { printMessage, write } from "./_output.ts";
import type { ClientArgs } from "./client_args.ts";
import { EXIT } from "./exit.ts";

/**
 * `mist subscribe`: prints each message until interrupted.
 *
 * @param parsed the command line
 * @returns the exit code
 */
export async function subscribe(parsed: ClientArgs): Promise<number> {
  const client = await connect(parsed.address, {
    ...parsed.options,
    reconnect: true,
    whenDisconnected: "wait",
  });
  const stop = () => void client.close();
  const signals = ["SIGINT", "SIGTERM"] as const;
  for (const signal of signals) Deno.addSignalListener(signal, stop);
  const watching = watch(client);
  try {
    const messages = client.messages();
    for (const tags of parsed.tags) await client.subscribe(tags);
    write(
      Deno.stderr,
      `mist subscribe: subscribed to ${
        parsed.tags.map((tags) => tags.join(",")).join(" and ")
      }\n`,
    );
    for await (const message of messages) {
      if (!printMessage(parsed.json, message, message.data)) break;
    }
    return EXIT.ok;
  } catch (err) {
    if (err instanceof MistError && err.code === "client_closed") {
      return EXIT.ok; // interrupted while subscribing
    }
    throw err;
  } finally {
    for (const signal of signals) Deno.removeSignalListener(signal, stop);
    await client.close();
    await watching;
  }
}

/** Tells standard error what happens to a long-lived connection. */
async function watch(client: MistClient): Promise<void> {
  for await (const event of client.status()) {
    const line = describeEvent(event);
    if (line !== undefined) write(Deno.stderr, `mist subscribe: ${line}\n`);
  }
}

function describeEvent(event: ClientEvent): string | undefined {
  switch (event.type) {
    case "disconnect":
      return `${event.error.message}; reconnecting`;
    case "reconnect":
      return `reconnected after ${
        (event.gapMs / 1000).toFixed(1)
      } s; messages published meanwhile were lost`;
    case "dropped":
      return `the server dropped ${event.count} messages: reading too slowly`;
    case "slow":
      return "dropping messages: the output is too slow";
    case "error":
      return event.error.message;
    default:
      return undefined;
  }
}
