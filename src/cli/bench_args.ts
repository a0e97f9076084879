/**
 * The command line of `mist bench`: its help, its flags, checked, and the
 * options of a run they make.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { errorText } from "../_util/text.ts";
import { DEFAULT_ADDRESS, parseServerAddress } from "../client/address.ts";
import { joinDashValues } from "./_args.ts";
import { SCENARIOS } from "./bench_report.ts";
import type { Job } from "./bench_wire.ts";

/** The help of `mist bench`. */
export const BENCH_HELP: string = `Usage: mist bench [SCENARIO] [flags]

Load-tests a mist server and reports deliveries per second, loss (deliveries
expected against those received), drops (the server's "dropped" notices) and
end-to-end latency (p50, p99, p99.9, from a timestamp in each payload). The
clients run in worker threads and speak the protocol on raw sockets.

Scenarios:
  fanout     one publisher, --subscribers connections on one tag (default)
  routing    --subscribers connections with 10 tags each; each publish goes
             to the next tag, so it matches one subscription
  latency    one publisher at --rate (default 1000/s), --subscribers on one tag
  idle       --subscribers idle subscribed connections: the time to open
             them, and that every one answers a ping after --duration

Flags:
  --host H          the server (default ${DEFAULT_ADDRESS}): tcp://, tls://,
                    ws://, wss://, http:// (its WebSocket) or host:port
  --transport T     tcp, tls, ws or wss: the scheme to use with --host
  --ws-lines        require WebSocket line mode (mist.lines); by default it
                    is offered and used when the server accepts it
  --ws-frames       do not offer line mode: one message per frame
  --token T         the token to present (default: $MIST_TOKEN)
  --ca FILE         trust the PEM certificate authorities in FILE; repeat
  --duration S      seconds of publishing, or of idling (default 5)
  --rate N          messages per second in all (default: as fast as the
                    server takes them; latency: 1000)
  --subscribers N   subscriber connections (default: fanout 10, routing 100,
                    latency 10, idle 1000)
  --payload BYTES   the payload size, at least 19 (default 100)
  --workers N       subscriber threads (default: the cores less one)
  --json            print one JSON document of the result, nothing else
  -h, --help        print this help

Exit codes: 0 done, 1 the run failed, 2 usage error, 3 could not connect.
`;

/** What a run needs. */
export interface BenchOptions {
  scenario: string;
  /** The server URL, checked. */
  url: URL;
  protocol: "mist" | "resp";
  wsLines: Job["wsLines"];
  token?: string;
  caCerts?: string[];
  durationS: number;
  rate: number;
  subscribers: number;
  payloadBytes: number;
  workers: number;
  /** Called about four times a second with the run so far. */
  onProgress?: (line: string) => void;
}

const DEFAULT_SUBSCRIBERS: Record<string, number> = {
  fanout: 10,
  routing: 100,
  latency: 10,
  idle: 1000,
};

/** A command line that cannot be run as given. */
export class BenchUsageError extends Error {
  override name = "BenchUsageError";
}

/**
 * Parses `mist bench`'s command line and reads its `--ca` files.
 *
 * @param args the arguments after `bench`
 * @returns the run's options (`undefined` when it asked for help) and whether
 *   to print JSON
 * @throws {BenchUsageError} for a flag or value that cannot be used
 */
export async function parseBenchArgs(
  args: readonly string[],
): Promise<{ options: BenchOptions | undefined; json: boolean }> {
  const spec = {
    host: { type: "string" },
    transport: { type: "string" },
    "ws-lines": { type: "boolean" },
    "ws-frames": { type: "boolean" },
    token: { type: "string" },
    ca: { type: "string", multiple: true },
    duration: { type: "string" },
    rate: { type: "string" },
    subscribers: { type: "string" },
    payload: { type: "string" },
    workers: { type: "string" },
    json: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  } as const;
  let parsed;
  try {
    parsed = parseArgs({
      args: joinDashValues(args, spec),
      options: spec,
      strict: true,
      allowPositionals: true,
    });
  } catch (err) {
    throw new BenchUsageError(errorText(err));
  }
  const { values, positionals } = parsed;
  const json = values.json === true;
  if (values.help === true) return { options: undefined, json };
  const [scenario = "fanout", ...rest] = positionals;
  if (!SCENARIOS.includes(scenario)) {
    throw new BenchUsageError(
      `unknown scenario "${scenario}"; use ${SCENARIOS.join(", ")}`,
    );
  }
  if (rest.length > 0) {
    throw new BenchUsageError(`unexpected argument "${rest[0]}"`);
  }
  let host = values.host ?? DEFAULT_ADDRESS;
  if (values.transport !== undefined) {
    if (!["tcp", "tls", "ws", "wss"].includes(values.transport)) {
      throw new BenchUsageError(
        `--transport "${values.transport}" is not tcp, tls, ws or wss`,
      );
    }
    host = `${values.transport}://${
      host.replace(/^[a-z][a-z0-9+.-]*:\/\//i, "")
    }`;
  }
  let url: URL;
  try {
    url = parseServerAddress(host);
  } catch (err) {
    throw new BenchUsageError(errorText(err));
  }
  if (values["ws-lines"] && values["ws-frames"]) {
    throw new BenchUsageError("--ws-lines and --ws-frames exclude each other");
  }
  const token = values.token ?? Deno.env.get("MIST_TOKEN");
  const caCerts = [];
  for (const path of values.ca ?? []) {
    try {
      caCerts.push(await Deno.readTextFile(path));
    } catch (err) {
      throw new BenchUsageError(`cannot read --ca ${path}: ${errorText(err)}`);
    }
  }
  const number = (name: string, text: string | undefined, fallback: number) => {
    if (text === undefined) return fallback;
    const n = Number(text);
    if (!Number.isFinite(n) || n < 0 || text.trim() === "") {
      throw new BenchUsageError(`--${name} "${text}" is not a number`);
    }
    return n;
  };
  const durationS = number("duration", values.duration, 5);
  if (durationS <= 0) {
    throw new BenchUsageError("--duration must be more than 0");
  }
  const subscribers = Math.floor(
    number("subscribers", values.subscribers, DEFAULT_SUBSCRIBERS[scenario]!),
  );
  if (subscribers < 1) {
    throw new BenchUsageError("--subscribers must be at least 1");
  }
  const payloadBytes = Math.floor(number("payload", values.payload, 100));
  if (payloadBytes < 19) {
    throw new BenchUsageError("--payload must be at least 19");
  }
  const workers = Math.max(
    1,
    Math.floor(
      number(
        "workers",
        values.workers,
        Math.max(1, navigator.hardwareConcurrency - 1),
      ),
    ),
  );
  return {
    json,
    options: {
      scenario,
      url,
      protocol: "mist",
      wsLines: values["ws-lines"] ? "on" : values["ws-frames"] ? "off" : "auto",
      ...(token !== undefined && token !== "" ? { token } : {}),
      ...(caCerts.length > 0 ? { caCerts } : {}),
      durationS,
      rate: number("rate", values.rate, scenario === "latency" ? 1000 : 0),
      subscribers,
      payloadBytes,
      workers,
    },
  };
}
