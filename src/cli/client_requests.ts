/**
 * `mist ping`, `mist list` and `mist publish`: one connection, a request or
 * a stream of them, an answer.
 *
 * @module
 */

import { connect } from "../client/client.ts";
import { printMessage, write } from "./_output.ts";
import type { ClientArgs } from "./client_args.ts";
import { EXIT } from "./exit.ts";

/**
 * `mist ping`: prints `pong` and the round-trip time.
 *
 * @param parsed the command line
 * @returns the exit code
 */
export async function ping(parsed: ClientArgs): Promise<number> {
  await using client = await connect(parsed.address, parsed.options);
  const ms = await client.ping();
  printMessage(
    parsed.json,
    { command: "ping", tags: [], data: "pong", ms: Number(ms.toFixed(3)) },
    `pong ${ms.toFixed(1)} ms`,
  );
  return EXIT.ok;
}

/**
 * `mist list`: prints the connection's subscriptions.
 *
 * @param parsed the command line
 * @returns the exit code
 */
export async function list(parsed: ClientArgs): Promise<number> {
  await using client = await connect(parsed.address, parsed.options);
  const subscriptions = await client.list();
  if (parsed.json) {
    printMessage(true, {
      command: "list",
      tags: [],
      data: JSON.stringify(subscriptions),
    }, "");
  } else {
    for (const tags of subscriptions) {
      if (!write(Deno.stdout, `${tags.join(",")}\n`)) break;
    }
  }
  return EXIT.ok;
}

/** How many publishes `--data -` keeps in flight. */
const PUBLISH_WINDOW = 256;

/**
 * `mist publish`: one message, or each line of standard input with `--data -`.
 *
 * @param parsed the command line
 * @returns the exit code
 * @throws {MistError} the first failure
 */
export async function publish(parsed: ClientArgs): Promise<number> {
  const tags = parsed.tags[0]!;
  await using client = await connect(parsed.address, parsed.options);
  if (parsed.data !== "-") {
    await client.publish(tags, parsed.data!);
    return EXIT.ok;
  }
  // Replies come in order, so the first failure to arrive is the first in
  // order; reading stops there.
  let failure: unknown;
  const inFlight = new Set<Promise<void>>();
  for await (const line of lines(Deno.stdin.readable)) {
    if (failure !== undefined) break;
    const sent: Promise<void> = client.publish(tags, line)
      .catch((err) => {
        failure ??= err;
      })
      .finally(() => inFlight.delete(sent));
    inFlight.add(sent);
    if (inFlight.size >= PUBLISH_WINDOW) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  if (failure !== undefined) throw failure;
  return EXIT.ok;
}

/** The lines of a stream: `\n` or `\r\n` endings, the last line with or without one. */
async function* lines(
  stream: ReadableStream<Uint8Array>,
): AsyncGenerator<string> {
  let rest = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    rest += chunk;
    const parts = rest.split("\n");
    rest = parts.pop()!;
    for (const part of parts) {
      yield part.endsWith("\r") ? part.slice(0, -1) : part;
    }
  }
  if (rest !== "") yield rest.endsWith("\r") ? rest.slice(0, -1) : rest;
}
