/**
 * The error of a configuration that cannot be used.
 *
 * @module
 */

/** A bad flag, config file, key or value. */
export class ConfigError extends Error {
  override name = "ConfigError";
}
