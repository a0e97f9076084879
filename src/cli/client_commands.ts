/**
 * The command-line client: `mist ping`, `subscribe`, `publish`, `list` and
 * `admin`, each a thin shell over the library client.
 *
 * Exit codes: 0 success, 1 the server answered with an error, 2 a usage error,
 * 3 the server could not be reached. Every failure is one line on standard error.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { type PartialSyncWriter, writeAllSync } from "../_util/io.ts";
import { errorText } from "../_util/text.ts";
import { MistError } from "../protocol/errors.ts";
import { DEFAULT_ADDRESS, parseServerAddress } from "../client/address.ts";
import { connect, type MistClient } from "../client/client.ts";
import type { ConnectOptions } from "../client/options.ts";
import type { ClientEvent } from "../client/status.ts";

/** The subcommands this module runs. */
export const CLIENT_COMMANDS: ReadonlySet<string> = new Set([
  "ping",
  "subscribe",
  "publish",
  "list",
  "admin",
]);

/** The exit codes of the client subcommands. */
export const EXIT = Object.freeze({
  ok: 0,
  serverError: 1,
  usage: 2,
  unreachable: 3,
});

const ADMIN_ACTIONS = ["register", "unregister", "set", "unset", "tags"];

const COMMON_HELP = `Common flags:
  --host H       the server: a URL (tcp://, tls://, ws://, wss://, or http://
                 for an HTTP listener's WebSocket) or host:port
                 (default ${DEFAULT_ADDRESS})
  --token T      the token to present (default: $MIST_TOKEN)
  --json         print whole messages as JSON lines
  -h, --help     print this help

Exit codes: 0 success, 1 the server answered with an error, 2 usage error,
3 could not connect.`;

const HELP: Record<string, string> = {
  ping: `Usage: mist ping [flags]

Pings the server and prints "pong" and the round-trip time, e.g. "pong 0.4 ms"
(--json: the reply with the time in milliseconds as "ms").

${COMMON_HELP}
`,
  subscribe: `Usage: mist subscribe --tags a,b [--tags c ...] [flags]

Subscribes to the messages whose tags include all the tags of one --tags, and
prints each one's data on its own line (--json: the whole message as one JSON
line, which keeps data holding newlines on one line), once however many --tags
match it, until interrupted (Ctrl-C exits 0). Reconnects by itself after a lost
connection and says so on standard error.

  --tags a,b     a subscription's tags, comma-separated; repeat for more
                 subscriptions (spaces around commas are ignored)

${COMMON_HELP}
`,
  publish: `Usage: mist publish --tags a,b --data TEXT [flags]

Publishes a message; prints nothing on success.

  --tags a,b     the message's tags, comma-separated
  --data TEXT    the payload; "-" reads standard input and publishes each
                 line as one message

${COMMON_HELP}
`,
  list: `Usage: mist list [flags]

Prints this connection's subscriptions, one per line as "a,b" (a new
connection has none; --json: the whole reply).

${COMMON_HELP}
`,
  admin: `Usage: mist admin ACTION TOKEN [--tags a,b] [flags]

Manages the tokens of a server with authentication on; --token must be the
server's admin token.

Actions:
  register TOKEN --tags a,b   create TOKEN granting these tags
  unregister TOKEN            remove TOKEN
  set TOKEN --tags a,b        grant TOKEN more tags
  unset TOKEN --tags a,b      take tags away from TOKEN
  tags TOKEN                  print the tags TOKEN grants, as "a,b"

${COMMON_HELP}
`,
};

/** A command line that cannot be run as given. */
class UsageError extends Error {
  override name = "UsageError";
}

/** Writes all of a text to a stream; `false` once the reader has gone. */
function write(stream: PartialSyncWriter, text: string): boolean {
  try {
    writeAllSync(stream, text);
  } catch (err) {
    if (err instanceof Deno.errors.BrokenPipe) return false;
    throw err;
  }
  return true;
}

interface Parsed {
  command: string;
  positionals: string[];
  tags: string[][];
  data: string | undefined;
  json: boolean;
  options: ConnectOptions;
  address: URL;
}

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
  let parsed: Parsed | undefined;
  try {
    parsed = parse(command, args.slice(1));
    if (parsed === undefined) {
      write(Deno.stdout, HELP[command] ?? "");
      return EXIT.ok;
    }
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    write(
      Deno.stderr,
      `mist ${command}: ${err.message} (see "mist ${command} --help")\n`,
    );
    return EXIT.usage;
  }
  try {
    switch (parsed.command) {
      case "ping":
        return await ping(parsed);
      case "subscribe":
        return await subscribe(parsed);
      case "publish":
        return await publish(parsed);
      case "list":
        return await list(parsed);
      default:
        return await admin(parsed);
    }
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

/** Parses a subcommand's flags; `undefined` when it asked for help. */
function parse(command: string, args: string[]): Parsed | undefined {
  let values: Record<string, string | boolean | string[] | undefined>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args,
      options: {
        host: { type: "string" },
        token: { type: "string" },
        json: { type: "boolean" },
        help: { type: "boolean", short: "h" },
        ...(command === "subscribe" || command === "publish" ||
            command === "admin"
          ? { tags: { type: "string", multiple: true } }
          : {}),
        ...(command === "publish" ? { data: { type: "string" } } : {}),
      },
      strict: true,
      allowPositionals: command === "admin",
    }));
  } catch (err) {
    throw new UsageError(errorText(err));
  }
  if (values.help === true) return undefined;

  let address: URL;
  try {
    address = parseServerAddress(
      typeof values.host === "string" ? values.host : DEFAULT_ADDRESS,
    );
  } catch (err) {
    throw new UsageError(errorText(err));
  }
  const token = typeof values.token === "string"
    ? values.token
    : Deno.env.get("MIST_TOKEN");
  if (token === "") throw new UsageError("--token is empty");
  const tags = ((values.tags ?? []) as string[]).map(tagList);
  const data = values.data as string | undefined;

  if (command === "subscribe" && tags.length === 0) {
    throw new UsageError("--tags is required");
  }
  if (command === "publish") {
    if (tags.length !== 1) {
      throw new UsageError(
        tags.length === 0 ? "--tags is required" : "give --tags once",
      );
    }
    if (data === undefined) throw new UsageError("--data is required");
  }
  if (command === "admin") {
    const [action, target, ...rest] = positionals;
    if (action === undefined) {
      throw new UsageError(
        `an action is required: ${ADMIN_ACTIONS.join(", ")}`,
      );
    }
    if (!ADMIN_ACTIONS.includes(action)) {
      throw new UsageError(
        `unknown action "${action}"; use ${ADMIN_ACTIONS.join(", ")}`,
      );
    }
    if (target === undefined || target === "") {
      throw new UsageError(`${action} needs the TOKEN to act on`);
    }
    if (rest.length > 0) {
      throw new UsageError(`unexpected argument "${rest[0]}"`);
    }
    const needsTags = action === "register" || action === "set" ||
      action === "unset";
    if (needsTags && tags.length !== 1) {
      throw new UsageError(
        tags.length === 0 ? `${action} needs --tags` : "give --tags once",
      );
    }
    if (!needsTags && tags.length > 0) {
      throw new UsageError(`${action} takes no --tags`);
    }
  }
  return {
    command,
    positionals,
    tags,
    data,
    json: values.json === true,
    options: {
      ...(token !== undefined ? { token } : {}),
      // One-shot commands fail rather than wait; subscribe overrides this.
      reconnect: false,
      whenDisconnected: "fail",
    },
    address,
  };
}

function tagList(text: string): string[] {
  const tags = text.split(",").map((tag) => tag.trim());
  if (tags.some((tag) => tag === "")) {
    throw new UsageError(`--tags "${text}" has an empty tag`);
  }
  return tags;
}

function printMessage(json: boolean, message: object, text: string): boolean {
  return write(Deno.stdout, `${json ? JSON.stringify(message) : text}\n`);
}

// ---- the subcommands ---------------------------------------------------------

async function ping(parsed: Parsed): Promise<number> {
  await using client = await connect(parsed.address, parsed.options);
  const ms = await client.ping();
  printMessage(
    parsed.json,
    { command: "ping", tags: [], data: "pong", ms: Number(ms.toFixed(3)) },
    `pong ${ms.toFixed(1)} ms`,
  );
  return EXIT.ok;
}

async function list(parsed: Parsed): Promise<number> {
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

async function admin(parsed: Parsed): Promise<number> {
  const [action, token] = parsed.positionals as [string, string];
  const tags = parsed.tags[0] ?? [];
  await using client = await connect(parsed.address, parsed.options);
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
  return EXIT.ok;
}

/** How many publishes `--data -` keeps in flight. */
const PUBLISH_WINDOW = 256;

async function publish(parsed: Parsed): Promise<number> {
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

async function subscribe(parsed: Parsed): Promise<number> {
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
