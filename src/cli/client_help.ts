/**
 * The help texts of the client subcommands.
 *
 * @module
 */

import { DEFAULT_ADDRESS } from "../client/address.ts";
import { BENCH_HELP } from "./bench_args.ts";

const COMMON_HELP = `Common flags:
  --host H       the server: a URL (tcp://, tls://, ws://, wss://, or http://
                 for an HTTP listener's WebSocket) or host:port
                 (default ${DEFAULT_ADDRESS})
  --token T      the token to present (default: $MIST_TOKEN, which, unlike
                 --token, does not show in the process list)
  --ca FILE      trust the PEM certificate authorities in FILE for tls:// and
                 wss:// besides the system's; repeat for more
  --cert FILE    present the PEM client certificate in FILE on tls:// (to a
                 server with tls-client-ca); goes with --key
  --key FILE     the PEM private key of --cert
  --json         print whole messages as JSON lines
  -h, --help     print this help

Exit codes: 0 success, 1 the server answered with an error, 2 usage error,
3 could not connect.`;

/** The help of each client subcommand. */
export const CLIENT_HELP: Readonly<Record<string, string>> = {
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

Manages the tokens of a server with authentication on (started with
--authenticator); --token or MIST_TOKEN must be the server's admin token.

Actions:
  register TOKEN --tags a,b   create TOKEN granting these tags
  unregister TOKEN            remove TOKEN
  set TOKEN --tags a,b        grant TOKEN more tags
  unset TOKEN --tags a,b      take tags away from TOKEN
  tags TOKEN                  print the tags TOKEN grants, as "a,b"

${COMMON_HELP}
`,
  bench: BENCH_HELP,
};
