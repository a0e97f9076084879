/**
 * The `mist` program: `mist --server` runs a server; `mist ping`, `subscribe`,
 * `publish`, `list` and `admin` are a client.
 *
 * @module
 */

import { getLogger } from "npm:@logtape/logtape@^2.4.2";
import denoJson from "./deno.json" with { type: "json" };
import { writeAllSync } from "./src/_util/io.ts";
import { errorText } from "./src/_util/text.ts";
import type { Authenticator } from "./src/auth/authenticator.ts";
import { openAuthenticator } from "./src/auth/builtin.ts";
import {
  CLIENT_COMMANDS,
  runClientCommand,
} from "./src/cli/client_commands.ts";
import { CLIENT_HELP } from "./src/cli/client_help.ts";
import {
  type Config,
  ConfigError,
  configWarnings,
  loadConfig,
} from "./src/cli/config.ts";
import { setupLogging } from "./src/cli/log.ts";
import { Reloader } from "./src/cli/reload.ts";
import { serveOptions } from "./src/cli/serve_options.ts";
import { type MistServer, serve } from "./src/server/server.ts";

/** The version of this program. */
export const VERSION: string = denoJson.version;

const HELP = `mist ${VERSION}: a tag-based publish/subscribe server

Usage:
  mist --server [flags]     run a server
  mist ping|subscribe|publish|list|admin|bench [flags]
                            talk to a server ("mist help COMMAND" for each)
  mist version, -v, --version
                            print the version
  mist help, -h, --help     print this help

Server flags (each is also a key of the --config file, without the dashes, and
an environment variable MIST_<KEY>: see below):
  --config FILE             YAML file of settings; flags override it (MIST_CONFIG)
  --listeners URLS          comma-separated listener URLs: tcp://, tls://, http://,
                            https://, ws://, wss:// (default
                            tcp://127.0.0.1:1445,http://127.0.0.1:8080,ws://127.0.0.1:8888;
                            a scheme this build does not support is logged and skipped)
  --tls-cert FILE           PEM certificate of the tls://, https:// and wss:// listeners
  --tls-key FILE            PEM private key that goes with --tls-cert
  --tls-client-ca FILE      PEM CA certificates: tls:// listeners then require client
                            certificates signed by them (mutual TLS; not available
                            with https:// or wss:// listeners)
  --authenticator URI       turn authentication on, tokens kept in memory://,
                            scribble://?db=DIR or postgres://USER:PASS@HOST:PORT?db=NAME
  --token TOKEN             the admin token (required with --authenticator); a flag
                            shows in the process list (ps): prefer MIST_TOKEN or
                            --token-file, which do not
  --token-file FILE         read the admin token from FILE (one line)
  --metrics-token TOKEN     a token that may read GET /metrics and nothing else
  --metrics-token-file FILE read the metrics token from FILE
  --node-name NAME          this node's name in the cluster and metrics (default:
                            HOST:PORT of the first listener)
  --log-level LEVEL         TRACE, DEBUG, INFO, WARN, ERROR or FATAL (default INFO)
  --log-format FORMAT       text (default) or json: one JSON object per line
  --max-message-size SIZE   longest message in bytes (default 1MiB)
  --max-tags N              most tags in one message (default 64)
  --max-tag-length SIZE     longest tag in bytes (default 1KiB)
  --max-subscriptions N     most subscriptions per connection (default 10000)
  --max-subscription-bytes SIZE
                            most bytes of subscription tags per connection (default 4MiB)
  --max-total-subscriptions N
                            most subscriptions over every connection (default 1000000)
  --max-total-subscription-bytes SIZE
                            most bytes of subscription tags over every connection
                            (default 256MiB)
  --queue-size SIZE         outbound buffer per connection; when a client reads too
                            slowly, newer messages to it are dropped (default 8MiB)
  --shutdown-timeout SECS   on SIGINT/SIGTERM, how long each connection gets to
                            receive what it is owed before it is closed (default 5)
  --request-timeout SECS    how long a ws:// client gets for its TLS handshake and
                            request head before it is disconnected (default 10)
  --tls-handshake-timeout SECS  close a TLS connection that has not finished its
                            handshake by then (default 10; 0: no limit)
  --auth-timeout SECS       with --authenticator, close a connection that sent no
                            command by then (default 30; 0: no limit)
  --idle-timeout SECS       close a connection that sent and was sent nothing for
                            that long (default 0: never)
  --cluster URL             join a cluster through Redis (or Valkey, KeyDB, Dragonfly):
                            redis://[USER:PASS@]HOST:PORT[/DB] or rediss://...
  --cluster-name NAME       lets several clusters share one Redis (default mist)
  --allowed-origins ORIGIN  browser pages that may connect besides the server's own,
                            e.g. https://app.example.com, or * for any (repeatable)

Sizes are bytes, or a number with KiB, MiB, GiB, KB, MB or GB.
The server stops cleanly on SIGINT or SIGTERM; a second one (half a second or
more later) exits at once.
SIGHUP reads the configuration again and applies the log level and format,
the limits and queue size of new connections and shutdown-timeout; it logs
which other changed keys need a restart.

Environment: every key can be set as MIST_ and the key in upper case with _ for
-, e.g. MIST_LOG_LEVEL=DEBUG, MIST_LISTENERS=tcp://0.0.0.0:1445, MIST_TOKEN,
MIST_TOKEN_FILE, MIST_SERVER=true. An empty variable counts as unset. Flags win
over the environment, which wins over the --config file.
`;

const print = writeAllSync;

/**
 * Runs the program.
 *
 * @param args the arguments after the program name
 * @returns the exit code
 */
export async function main(args: readonly string[]): Promise<number> {
  const [first = "", ...rest] = args;
  if (CLIENT_COMMANDS.has(first)) return await runClientCommand(args);
  if (first === "version" && rest.length === 0) {
    print(Deno.stdout, `mist ${VERSION}\n`);
    return 0;
  }
  if (first === "help") return help(rest);
  if (first !== "" && !first.startsWith("-")) {
    print(
      Deno.stderr,
      `mist: "${first}" is not a command; the commands are ${
        COMMANDS.join(", ")
      }, and --server runs a server\nRun "mist --help" for usage.\n`,
    );
    return 2;
  }
  let config: Config;
  try {
    const invocation = await loadConfig(args);
    if (invocation.help) {
      print(Deno.stdout, HELP);
      return 0;
    }
    if (invocation.version) {
      print(Deno.stdout, `mist ${VERSION}\n`);
      return 0;
    }
    config = invocation.config;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    print(Deno.stderr, `mist: ${err.message}\nRun "mist --help" for usage.\n`);
    return 2;
  }
  if (!config.server) {
    print(Deno.stderr, HELP);
    return 2;
  }
  await setupLogging(config.logLevel, config.logFormat);
  return await runServer(config, args);
}

/** Every word `mist` takes first. */
const COMMANDS = [...CLIENT_COMMANDS, "version", "help"];

/** `mist help`, or `mist help COMMAND`. */
function help(args: readonly string[]): number {
  const [command, ...extra] = args;
  if (command === undefined) {
    print(Deno.stdout, HELP);
    return 0;
  }
  const text = command === "server"
    ? HELP
    : command === "version" || command === "help"
    ? `Usage: mist ${command}\n\n${
      command === "version" ? "Prints the version." : "Prints the help."
    }\n`
    : CLIENT_HELP[command];
  if (text === undefined || extra.length > 0) {
    print(
      Deno.stderr,
      `mist help: ${
        text === undefined
          ? `"${command}" is not a command; the commands are ${
            COMMANDS.join(", ")
          }`
          : `unexpected argument "${extra[0]}"`
      }\nRun "mist --help" for usage.\n`,
    );
    return 2;
  }
  print(Deno.stdout, text);
  return 0;
}

/** The exit code of a forced exit on a second signal: 128 + its number. */
const FORCED_EXIT = { SIGINT: 130, SIGTERM: 143 } as const;
/**
 * A repeat sooner than this after the first signal is the same one, delivered
 * twice: Ctrl-C signals the whole process group, and `deno task` forwards it
 * to the server too.
 */
const REPEAT_MS = 500;

async function runServer(
  config: Config,
  args: readonly string[],
): Promise<number> {
  const log = getLogger(["mist"]);
  // Signals first: one that arrives while listeners start still stops cleanly.
  const stop = Promise.withResolvers<void>();
  let stopping = false;
  let stoppedAt = 0;
  let reloader: Reloader | undefined;
  const handlers: [Deno.Signal, () => void][] = [
    ...(["SIGINT", "SIGTERM"] as const).map((
      signal,
    ): [Deno.Signal, () => void] => [signal, () => {
      if (stopping) {
        if (performance.now() - stoppedAt < REPEAT_MS) return;
        log.warn(
          "{signal} received again, exiting now with code {code} without waiting for the drain",
          { signal, code: FORCED_EXIT[signal] },
        );
        Deno.exit(FORCED_EXIT[signal]);
      }
      stopping = true;
      stoppedAt = performance.now();
      log.info("{signal} received, shutting down", { signal });
      stop.resolve();
    }]),
    ["SIGHUP", () => {
      if (reloader === undefined || stopping) {
        log.info("SIGHUP received while {what}: ignored", {
          what: stopping ? "shutting down" : "starting",
        });
        return;
      }
      log.info("SIGHUP received, reading the configuration again");
      reloader.reload();
    }],
  ];
  for (const [signal, handler] of handlers) {
    Deno.addSignalListener(signal, handler);
  }
  for (const warning of configWarnings(config)) log.warn(warning);
  try {
    const server = await startServer(config);
    if (server === undefined) return 1;
    reloader = new Reloader({ args, config, server });
    await stop.promise;
    await server.close();
    return 0;
  } finally {
    for (const [signal, handler] of handlers) {
      Deno.removeSignalListener(signal, handler);
    }
  }
}

async function startServer(config: Config): Promise<MistServer | undefined> {
  const log = getLogger(["mist"]);
  let authenticator: Authenticator | undefined;
  try {
    const tls = config.tlsCert === undefined || config.tlsKey === undefined
      ? undefined
      : {
        cert: await readPem(config.tlsCert, "tls-cert"),
        key: await readPem(config.tlsKey, "tls-key"),
        ...(config.tlsClientCa === undefined ? {} : {
          clientCa: await readPem(config.tlsClientCa, "tls-client-ca"),
        }),
      };
    if (config.authenticator !== undefined) {
      authenticator = await openAuthenticator(config.authenticator);
      log.info("Authentication is on, tokens in {scheme}", {
        // Only the scheme: the URI may hold a password.
        scheme: new URL(config.authenticator).protocol + "//",
      });
    }
    return await serve(serveOptions(config, { authenticator, tls }));
  } catch (err) {
    // serve() closes the authenticator it was given; before that, it is ours.
    await authenticator?.close().catch(() => {});
    log.fatal("{error}", { error: errorText(err) });
    return undefined;
  }
}

async function readPem(path: string, key: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (err) {
    throw new Error(
      `Cannot read ${key} ${path}: ${
        err instanceof Deno.errors.NotFound ? "no such file" : errorText(err)
      }`,
    );
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
