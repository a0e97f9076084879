/**
 * The server's configuration: defaults ← YAML file ← environment ←
 * command-line flags.
 *
 * Config keys, flags and environment variables share their names
 * (`log-level` in the file is `--log-level` on the command line and
 * `MIST_LOG_LEVEL` in the environment). Every value is validated with a
 * message that names the key and where it came from.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { errorText } from "../_util/text.ts";
import { joinDashValues } from "./_args.ts";
import { ConfigError } from "./config_error.ts";
import { readConfigFile, readTokenFile } from "./config_file.ts";
import { convertValue, type Kind } from "./config_value.ts";
import type { LogFormat, LogLevelName } from "./log.ts";
import { DEFAULT_LIMITS } from "../protocol/codec.ts";
import { DEFAULT_LISTENERS, DEFAULT_QUEUE_BYTES } from "../server/options.ts";
import { DEFAULT_BUDGET } from "../server/budget.ts";

export { ConfigError };
export { parseSize } from "./config_value.ts";

/** The server's settings. */
export interface Config {
  /** Run as a server (`--server`, or `server: true` in the file). */
  server: boolean;
  /** Listener URLs. */
  listeners: string[];
  /** The least severe level logged. */
  logLevel: LogLevelName;
  /** How log lines are written. */
  logFormat: LogFormat;
  /** The admin token (from `token`, or read from the `token-file`). */
  token?: string;
  /** The file the admin token was read from. */
  tokenFile?: string;
  /** The token `GET /metrics` asks for besides the admin token. */
  metricsToken?: string;
  /** The file the metrics token was read from. */
  metricsTokenFile?: string;
  /** This node's name in logs, metrics and the cluster. */
  nodeName?: string;
  /** The authenticator URI. */
  authenticator?: string;
  /** Path of the PEM certificate of the TLS listeners. */
  tlsCert?: string;
  /** Path of the PEM private key of the TLS listeners. */
  tlsKey?: string;
  /** Path of the PEM certificate authorities client certificates must be signed by (`tls://` only). */
  tlsClientCa?: string;
  /** Longest frame in bytes. */
  maxMessageSize: number;
  /** Most tags per request. */
  maxTags: number;
  /** Longest tag in bytes. */
  maxTagLength: number;
  /** Most subscriptions per connection. */
  maxSubscriptions: number;
  /** Most bytes of subscription tags per connection. */
  maxSubscriptionBytes: number;
  /** Most subscriptions over every connection. */
  maxTotalSubscriptions: number;
  /** Most bytes of subscription tags over every connection. */
  maxTotalSubscriptionBytes: number;
  /** Each connection's outbound queue in bytes. */
  queueSize: number;
  /** Seconds each connection gets at shutdown to receive what it is owed. */
  shutdownTimeout: number;
  /** The Redis URL of the cluster this server joins. */
  cluster?: string;
  /** The cluster's name (its Redis channel is `mist:<name>`). */
  clusterName?: string;
  /** The origins browsers may connect from besides the server's own, or `*`. */
  allowedOrigins?: string[];
}

/** What the command line asked for. */
export interface Invocation {
  /** The merged settings. */
  config: Config;
  /** `--help` was given. */
  help: boolean;
  /** `--version` was given. */
  version: boolean;
}

/** Every config key: its kind, its field, its help. */
export const CONFIG_KEYS = {
  "server": { kind: "boolean", field: "server" },
  "listeners": { kind: "list", field: "listeners" },
  "log-level": { kind: "level", field: "logLevel" },
  "log-format": { kind: "format", field: "logFormat" },
  "token": { kind: "secret", field: "token" },
  "token-file": { kind: "string", field: "tokenFile" },
  "metrics-token": { kind: "secret", field: "metricsToken" },
  "metrics-token-file": { kind: "string", field: "metricsTokenFile" },
  "node-name": { kind: "string", field: "nodeName" },
  "authenticator": { kind: "secret", field: "authenticator" },
  "tls-cert": { kind: "string", field: "tlsCert" },
  "tls-key": { kind: "string", field: "tlsKey" },
  "tls-client-ca": { kind: "string", field: "tlsClientCa" },
  "max-message-size": { kind: "size", field: "maxMessageSize" },
  "max-tags": { kind: "count", field: "maxTags" },
  "max-tag-length": { kind: "size", field: "maxTagLength" },
  "max-subscriptions": { kind: "count", field: "maxSubscriptions" },
  "max-subscription-bytes": { kind: "size", field: "maxSubscriptionBytes" },
  "max-total-subscriptions": { kind: "count", field: "maxTotalSubscriptions" },
  "max-total-subscription-bytes": {
    kind: "size",
    field: "maxTotalSubscriptionBytes",
  },
  "queue-size": { kind: "size", field: "queueSize" },
  "shutdown-timeout": { kind: "seconds", field: "shutdownTimeout" },
  "cluster": { kind: "secret", field: "cluster" },
  "cluster-name": { kind: "string", field: "clusterName" },
  "allowed-origins": { kind: "origins", field: "allowedOrigins" },
} as const satisfies Record<string, { kind: Kind; field: keyof Config }>;

type Key = keyof typeof CONFIG_KEYS;

/** The settings when nothing is configured. */
export function defaultConfig(): Config {
  return {
    server: false,
    listeners: [...DEFAULT_LISTENERS],
    logLevel: "INFO",
    logFormat: "text",
    maxMessageSize: DEFAULT_LIMITS.maxMessageBytes,
    maxTags: DEFAULT_LIMITS.maxTags,
    maxTagLength: DEFAULT_LIMITS.maxTagBytes,
    maxSubscriptions: DEFAULT_LIMITS.maxSubscriptions,
    maxSubscriptionBytes: DEFAULT_BUDGET.maxSubscriptionBytes,
    maxTotalSubscriptions: DEFAULT_BUDGET.maxTotalSubscriptions,
    maxTotalSubscriptionBytes: DEFAULT_BUDGET.maxTotalSubscriptionBytes,
    queueSize: DEFAULT_QUEUE_BYTES,
    shutdownTimeout: 5,
  };
}

/** How {@linkcode loadConfig} reads the environment. */
export interface LoadOptions {
  /** Reads an environment variable (default `Deno.env.get`). */
  env?: (name: string) => string | undefined;
}

/**
 * The environment variable of a config key: `MIST_` and the key upper-cased,
 * `-` → `_`.
 *
 * @param key a config key, e.g. `max-tags`
 * @returns the variable, e.g. `MIST_MAX_TAGS`
 */
export function envName(key: string): string {
  return `MIST_${key.toUpperCase().replaceAll("-", "_")}`;
}

/** The variable that names the config file, like `--config`. */
export const CONFIG_ENV = "MIST_CONFIG";

/** Where a value came from, least precedence first. */
const SOURCES = ["file", "env", "flag"] as const;
type Source = typeof SOURCES[number];

/** For each key set, where from: how much it counts and how to name it. */
type Origins = Map<Key, { rank: number; where: string }>;

/**
 * Parses the server's command line, reading the environment and the config
 * file it names. Flags win over the environment, which wins over the file.
 *
 * @param args the arguments after the program name
 * @param options where the environment comes from
 * @returns the merged settings and the informational flags
 * @throws {ConfigError} for an unknown flag or key, a bad value, or an unreadable file
 */
export async function loadConfig(
  args: readonly string[],
  options: LoadOptions = {},
): Promise<Invocation> {
  const env = options.env ?? ((name: string) => Deno.env.get(name));
  const specs: Record<
    string,
    { type: "string" | "boolean"; multiple?: boolean; short?: string }
  > = {
    config: { type: "string" },
    help: { type: "boolean", short: "h" },
    version: { type: "boolean", short: "v" },
  };
  for (const [key, spec] of Object.entries(CONFIG_KEYS)) {
    specs[key] = spec.kind === "boolean" ? { type: "boolean" } : {
      type: "string",
      multiple: spec.kind === "list" || spec.kind === "origins",
    };
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: joinDashValues(args, specs),
      options: specs,
      strict: true,
      allowPositionals: true,
    });
  } catch (err) {
    throw new ConfigError(errorText(err));
  }
  const { values, positionals } = parsed;

  const config = defaultConfig();
  const origins: Origins = new Map();
  const file = typeof values.config === "string"
    ? values.config
    : nonEmpty(env(CONFIG_ENV));
  if (file !== undefined) {
    apply(config, await readConfigFile(file), {
      source: "file",
      file,
      origins,
    });
  }

  const fromEnv: Record<string, unknown> = {};
  for (const key of Object.keys(CONFIG_KEYS)) {
    // An empty variable counts as unset, as shells and compose files write them.
    const value = nonEmpty(env(envName(key)));
    if (value !== undefined) fromEnv[key] = value;
  }
  apply(config, fromEnv, { source: "env", origins });

  const flags: Record<string, unknown> = {};
  for (const key of Object.keys(CONFIG_KEYS)) {
    if (values[key] !== undefined) flags[key] = values[key];
  }
  // The original's own example: --listeners "tcp://a:1", "http://b:2"
  const extra = positionals.filter((arg) => arg.includes("://"));
  const stray = positionals.filter((arg) => !arg.includes("://"));
  if (stray.length > 0 || (extra.length > 0 && flags.listeners === undefined)) {
    throw new ConfigError(
      `Unexpected argument "${stray[0] ?? extra[0]}"`,
    );
  }
  if (extra.length > 0) {
    flags.listeners = [...(flags.listeners as string[]), ...extra];
  }
  apply(config, flags, { source: "flag", origins });

  await resolveTokenFile(config, origins, "token", "token-file");
  await resolveTokenFile(
    config,
    origins,
    "metrics-token",
    "metrics-token-file",
  );

  if (config.authenticator !== undefined && config.token === undefined) {
    throw new ConfigError(
      `An authenticator needs the admin token: set token (--token), ${
        envName("token")
      } or token-file`,
    );
  }
  if ((config.tlsCert === undefined) !== (config.tlsKey === undefined)) {
    throw new ConfigError("tls-cert and tls-key go together: set both");
  }
  if (config.tlsClientCa !== undefined && config.tlsCert === undefined) {
    throw new ConfigError(
      "tls-client-ca needs the server's certificate: set tls-cert and tls-key",
    );
  }
  if (config.queueSize < config.maxMessageSize) {
    throw new ConfigError(
      `queue-size (${config.queueSize}) must be at least max-message-size (${config.maxMessageSize})`,
    );
  }
  return {
    config,
    help: values.help === true,
    version: values.version === true,
  };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === "" ? undefined : value;
}

/**
 * Settles a token and its file: the one set with more precedence wins; set
 * at the same level, both are an error. A file's content becomes the token.
 */
async function resolveTokenFile(
  config: Config,
  origins: Origins,
  tokenKey: "token" | "metrics-token",
  fileKey: "token-file" | "metrics-token-file",
): Promise<void> {
  const token = origins.get(tokenKey);
  const file = origins.get(fileKey);
  const tokenField = CONFIG_KEYS[tokenKey].field;
  const fileField = CONFIG_KEYS[fileKey].field;
  if (file === undefined) return;
  if (token !== undefined && token.rank === file.rank) {
    throw new ConfigError(
      `Set ${tokenKey} or ${fileKey}, not both (${token.where} and ${file.where})`,
    );
  }
  if (token !== undefined && token.rank > file.rank) {
    delete config[fileField];
    return;
  }
  config[tokenField] = await readTokenFile(config[fileField]!, file.where);
}

/**
 * What is allowed but probably wrong in a configuration, one sentence each,
 * for the server to log as warnings at start-up.
 *
 * @param config the merged settings
 * @returns the warnings, none when all is well
 */
export function configWarnings(config: Config): string[] {
  const warnings: string[] = [];
  if (config.token !== undefined && config.authenticator === undefined) {
    warnings.push(
      "A token without an authenticator has no effect: authentication is off",
    );
  }
  if (config.metricsToken !== undefined && config.authenticator === undefined) {
    warnings.push(
      "A metrics token without an authenticator has no effect: GET /metrics is open to anyone while authentication is off",
    );
  }
  if (
    config.cluster !== undefined &&
    /^(memory|scribble):/i.test(config.authenticator ?? "")
  ) {
    warnings.push(
      "A cluster needs an authenticator every node shares (postgres://): with memory:// or scribble:// each node has its own tokens",
    );
  }
  return warnings;
}

function apply(
  config: Config,
  values: Record<string, unknown>,
  { source, file, origins }: {
    source: Source;
    file?: string;
    origins: Origins;
  },
): void {
  const origin = source === "file"
    ? `config file ${file}`
    : source === "env"
    ? "the environment"
    : "flag";
  for (const [key, value] of Object.entries(values)) {
    if (!Object.hasOwn(CONFIG_KEYS, key)) {
      throw new ConfigError(
        `Unknown config key "${key}" in ${origin}; known keys: ${
          Object.keys(CONFIG_KEYS).join(", ")
        }`,
      );
    }
    const { kind, field } = CONFIG_KEYS[key as Key];
    const where = source === "flag"
      ? `--${key}`
      : source === "env"
      ? envName(key)
      : `"${key}" in ${origin}`;
    (config as unknown as Record<string, unknown>)[field] = convertValue(
      kind,
      value,
      where,
    );
    origins.set(key as Key, { rank: SOURCES.indexOf(source), where });
  }
}
