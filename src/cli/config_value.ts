/**
 * One config value checked and converted from what a flag, a variable or the
 * YAML file gave, with a message naming where it came from.
 *
 * @module
 */

import { LOG_FORMATS, LOG_LEVELS } from "./log.ts";
import { ConfigError } from "./config_error.ts";
import { normaliseOrigin } from "../listeners/origins.ts";

/** `secret`: a string that may hold a token or a password, never echoed. */
export type Kind =
  | "boolean"
  | "string"
  | "secret"
  | "list"
  | "origins"
  | "level"
  | "format"
  | "count"
  | "seconds"
  | "size";

/**
 * Checks and converts a config value.
 *
 * @param kind what the key holds
 * @param value what was given
 * @param where how to name its source: `--max-tags`, `MIST_MAX_TAGS`, `"max-tags" in config file F`
 * @returns the value to use
 * @throws {ConfigError} when it is not of the kind; a secret's value is never echoed
 */
export function convertValue(
  kind: Kind,
  value: unknown,
  where: string,
): unknown {
  const got = kind === "secret"
    ? Array.isArray(value) ? "a list" : `a ${typeof value}`
    : JSON.stringify(value);
  const bad = (expected: string) =>
    new ConfigError(
      `Invalid value for ${where}: expected ${expected}, got ${got}`,
    );
  switch (kind) {
    case "boolean": {
      // A variable is text: MIST_SERVER=true, or 1.
      const text = typeof value === "string" ? value.trim().toLowerCase() : "";
      if (typeof value === "boolean") return value;
      if (text === "true" || text === "1") return true;
      if (text === "false" || text === "0") return false;
      throw bad("true or false");
    }
    case "string":
    case "secret":
      if (typeof value !== "string" || value === "") {
        throw bad("a non-empty string");
      }
      return value;
    case "list":
    case "origins": {
      const items = typeof value === "string"
        ? [value]
        : Array.isArray(value) && value.every((v) => typeof v === "string")
        ? value as string[]
        : undefined;
      if (items === undefined) {
        throw bad(kind === "list" ? "a list of URLs" : "a list of origins");
      }
      const entries = items.flatMap((item) => item.split(","))
        .map((item) => item.trim()).filter((item) => item !== "");
      if (kind === "origins") {
        for (const entry of entries) {
          try {
            normaliseOrigin(entry);
          } catch {
            throw new ConfigError(
              `Invalid value for ${where}: "${entry}" is not an origin: expected scheme://host[:port], such as https://app.example.com, or *`,
            );
          }
        }
        return entries.map(normaliseOrigin);
      }
      for (const url of entries) {
        if (!URL.canParse(url)) throw bad("URLs such as tcp://127.0.0.1:1445");
      }
      return entries;
    }
    case "level": {
      const level = typeof value === "string" ? value.toUpperCase() : "";
      const name = level === "WARNING" ? "WARN" : level;
      if (!(LOG_LEVELS as readonly string[]).includes(name)) {
        throw bad(LOG_LEVELS.join(", "));
      }
      return name;
    }
    case "format": {
      const format = typeof value === "string" ? value.toLowerCase() : "";
      if (!(LOG_FORMATS as readonly string[]).includes(format)) {
        throw bad(LOG_FORMATS.join(" or "));
      }
      return format;
    }
    case "count": {
      const n = typeof value === "number"
        ? value
        : typeof value === "string" && /^\d+$/.test(value.trim())
        ? Number(value)
        : NaN;
      if (!Number.isSafeInteger(n) || n < 1) throw bad("a positive integer");
      return n;
    }
    case "seconds": {
      const n = typeof value === "number"
        ? value
        : typeof value === "string" && /^\s*\d+(\.\d+)?\s*$/.test(value)
        ? Number(value)
        : NaN;
      if (!(n >= 0 && n <= 3600)) {
        throw bad("a number of seconds from 0 to 3600");
      }
      return n;
    }
    case "size": {
      const n = parseSize(value);
      if (n === undefined) throw bad("a size such as 1048576, 512KiB or 8MiB");
      return n;
    }
  }
}

const UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  kb: 1000,
  kib: 1024,
  mb: 1000 ** 2,
  mib: 1024 ** 2,
  gb: 1000 ** 3,
  gib: 1024 ** 3,
};

/**
 * Parses a size in bytes: a positive integer, or a string like `512KiB`, `8MiB`, `1MB`.
 *
 * @param value a number or a string
 * @returns the size in bytes, or `undefined` when it is not a positive whole size
 */
export function parseSize(value: unknown): number | undefined {
  if (typeof value === "number") {
    return Number.isSafeInteger(value) && value >= 1 ? value : undefined;
  }
  if (typeof value !== "string") return undefined;
  const match = /^\s*(\d+)\s*([a-z]*)\s*$/i.exec(value);
  const unit = UNITS[match?.[2]?.toLowerCase() ?? "?"];
  if (match === null || unit === undefined) return undefined;
  const n = Number(match[1]) * unit;
  return Number.isSafeInteger(n) && n >= 1 ? n : undefined;
}
