/**
 * `SIGHUP`: the configuration read again, with the same command line and
 * environment as at start, and what can change while the server runs applied.
 *
 * @module
 */

import { getLogger } from "npm:@logtape/logtape@^2.4.2";
import { errorText } from "../_util/text.ts";
import {
  checkCertificate,
  type MistServer,
  type Reconfiguration,
} from "../server/server.ts";
import { type Config, CONFIG_KEYS, loadConfig } from "./config.ts";
import { setupLogging } from "./log.ts";
import { serveOptions } from "./serve_options.ts";

const log = getLogger(["mist"]);

type Key = keyof typeof CONFIG_KEYS;

/**
 * The keys a reload applies; every other key takes a restart. A new key that
 * can change live is one line here and, when the server holds it, one in
 * {@linkcode reconfiguration}.
 */
export const LIVE_KEYS: ReadonlySet<string> = new Set<Key>([
  "log-level",
  "log-format",
  "max-message-size",
  "max-tags",
  "max-tag-length",
  "max-subscriptions",
  "queue-size",
  "shutdown-timeout",
  "allowed-origins",
  "tls-cert",
  "tls-key",
]);

/** Keys the program reads only at start, whatever their value: never compared. */
const IGNORED = new Set<string>(["server"]);

/** What changed between two configurations. */
export interface ConfigChanges {
  /** Changed keys a reload applies. */
  live: string[];
  /** Changed keys that take a restart. */
  restart: string[];
}

/**
 * The keys whose values differ, sorted into those a reload applies and
 * those that take a restart. Values are compared, never shown.
 *
 * @param before the configuration in force
 * @param after the configuration read again
 * @returns the changed keys, in the order of `CONFIG_KEYS`
 */
export function configChanges(before: Config, after: Config): ConfigChanges {
  const changes: ConfigChanges = { live: [], restart: [] };
  for (const [key, { field }] of Object.entries(CONFIG_KEYS)) {
    if (IGNORED.has(key)) continue;
    if (JSON.stringify(before[field]) === JSON.stringify(after[field])) {
      continue;
    }
    (LIVE_KEYS.has(key) ? changes.live : changes.restart).push(key);
  }
  return changes;
}

/**
 * What the server is told of a configuration on reload.
 *
 * @param config the configuration read again
 * @returns the settings {@linkcode MistServer.reconfigure} takes
 */
export function reconfiguration(config: Config): Reconfiguration {
  const { limits, queueBytes, drainTimeoutMs } = serveOptions(config);
  return {
    ...(limits === undefined ? {} : { limits }),
    ...(queueBytes === undefined ? {} : { queueBytes }),
    ...(drainTimeoutMs === undefined ? {} : { drainTimeoutMs }),
    // Unset means none: a key removed from the file is a change too.
    allowedOrigins: config.allowedOrigins ?? [],
  };
}

/**
 * The configuration in force with the restart-only keys of `next` left as
 * they were, so that a later reload names them again.
 */
function inForce(before: Config, next: Config, restart: string[]): Config {
  const merged = { ...next } as Record<string, unknown>;
  for (const key of [...restart, ...IGNORED]) {
    const field = CONFIG_KEYS[key as Key].field;
    if (before[field] === undefined) delete merged[field];
    else merged[field] = before[field];
  }
  return merged as unknown as Config;
}

/** What a {@linkcode Reloader} reads again and applies to. */
export interface ReloaderOptions {
  /** The command line the server started with. */
  args: readonly string[];
  /** The configuration it started with. */
  config: Config;
  /** The running server. */
  server: MistServer;
  /** Reads the environment, as at start (default `Deno.env.get`). */
  env?: (name: string) => string | undefined;
}

/** Reloads the configuration of a running server, one reload at a time. */
export class Reloader {
  readonly #args: readonly string[];
  readonly #server: MistServer;
  readonly #env: ((name: string) => string | undefined) | undefined;
  #config: Config;
  #last: Promise<void> = Promise.resolve();

  /** @param options what to read again and what to apply it to */
  constructor(options: ReloaderOptions) {
    this.#args = options.args;
    this.#config = options.config;
    this.#server = options.server;
    this.#env = options.env;
  }

  /** The configuration in force. */
  get config(): Config {
    return this.#config;
  }

  /**
   * Reads the configuration again and applies what can change live; logs one
   * `INFO` line with what it applied and one `WARN` with the changed keys
   * that take a restart. A configuration that cannot be read or is not valid
   * is logged as an `ERROR` and nothing changes. Never rejects.
   *
   * @returns once this reload (and any before it) is done
   */
  reload(): Promise<void> {
    this.#last = this.#last.then(() => this.#reload());
    return this.#last;
  }

  async #reload(): Promise<void> {
    let next: Config;
    try {
      next = (await loadConfig(
        this.#args,
        this.#env === undefined ? {} : { env: this.#env },
      )).config;
    } catch (err) {
      log.error("Configuration not reloaded, nothing changed: {error}", {
        error: errorText(err),
      });
      return;
    }
    const { live, restart } = configChanges(this.#config, next);
    let certificate: { cert: string; key: string } | undefined;
    try {
      certificate = await this.#newCertificate(next, live, restart);
      this.#server.reconfigure(reconfiguration(next));
    } catch (err) {
      log.error("Configuration not reloaded, nothing changed: {error}", {
        error: errorText(err),
      });
      return;
    }
    if (certificate !== undefined) {
      const { renewed, kept } = await this.#server.renewCertificate(
        certificate,
      );
      if (renewed.length === 0) {
        // Served nowhere: still to be applied, by a restart or the next SIGHUP.
        for (const key of ["tls-cert", "tls-key"]) {
          if (live.includes(key)) live.splice(live.indexOf(key), 1);
        }
        restart.push("tls-cert", "tls-key");
      }
      if (kept.length > 0) {
        log.warn("Old TLS certificate served until a restart on {listeners}", {
          listeners: kept.join(", "),
        });
      }
      if (renewed.length > 0) {
        log.info("New TLS certificate served on {listeners}", {
          listeners: renewed.join(", "),
        });
      }
    }
    this.#config = inForce(this.#config, next, restart);
    // Logged as the logs were: the operator sees it even when the new level
    // is quieter.
    log.info("Configuration reloaded: {applied}", {
      applied: live.length === 0 ? "nothing changed" : live.join(", "),
    });
    if (restart.length > 0) {
      log.warn(
        "Changed in the configuration but applied only at a restart: {keys}",
        { keys: [...new Set(restart)].join(", ") },
      );
    }
    if (live.includes("log-level") || live.includes("log-format")) {
      await setupLogging(next.logLevel, next.logFormat);
    }
  }

  /**
   * The certificate and key to serve from now on, read from their files and
   * checked; `undefined` when the listeners serve them already. A server
   * that serves no TLS, or a configuration without a certificate, leaves the
   * keys to a restart.
   *
   * @throws {Error} when the files cannot be read, do not parse or do not match
   */
  async #newCertificate(
    next: Config,
    live: string[],
    restart: string[],
  ): Promise<{ cert: string; key: string } | undefined> {
    const keys = live.filter((key) => key === "tls-cert" || key === "tls-key");
    const serving = this.#server.settings.tls;
    if (
      serving === undefined || next.tlsCert === undefined ||
      next.tlsKey === undefined
    ) {
      for (const key of keys) live.splice(live.indexOf(key), 1);
      restart.push(...keys);
      return undefined;
    }
    const [cert, key] = await Promise.all([
      Deno.readTextFile(next.tlsCert),
      Deno.readTextFile(next.tlsKey),
    ]);
    if (cert === serving.cert && key === serving.key) return undefined;
    try {
      checkCertificate({ cert, key });
    } catch (err) {
      throw new Error(
        `the certificate of ${next.tlsCert} and the key of ${next.tlsKey} cannot be served: ${
          errorText(err)
        }`,
      );
    }
    if (keys.length === 0) live.push("tls-cert");
    return { cert, key };
  }
}
