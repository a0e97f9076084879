/**
 * The files the configuration reads: the YAML config file and token files.
 *
 * @module
 */

import { parse as parseYaml } from "npm:yaml@^2.9.1";
import { errorText } from "../_util/text.ts";
import { ConfigError } from "./config_error.ts";

/**
 * Reads the YAML config file.
 *
 * @param path the file
 * @returns its mapping of keys (empty for an empty file)
 * @throws {ConfigError} when it cannot be read, is not YAML or not a mapping;
 *   a YAML error keeps its line, column and code frame
 */
export async function readConfigFile(
  path: string,
): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    throw new ConfigError(`Cannot read config file ${path}: ${reason(err)}`);
  }
  let value: unknown;
  try {
    value = parseYaml(text);
  } catch (err) {
    // The yaml package's message ends with the line/column and a code frame.
    throw new ConfigError(
      `Config file ${path} is not valid YAML: ${errorText(err).trimEnd()}`,
    );
  }
  if (value === null || value === undefined) return {};
  if (typeof value !== "object" || Array.isArray(value)) {
    throw new ConfigError(`Config file ${path} must be a mapping of keys`);
  }
  return value as Record<string, unknown>;
}

/**
 * Reads a token from a file: its content without trailing line breaks. The
 * content never appears in an error.
 *
 * @param path the file
 * @param where how to name the key it came from, e.g. `--token-file`
 * @returns the token
 * @throws {ConfigError} when the file cannot be read, is empty or holds more than one line
 */
export async function readTokenFile(
  path: string,
  where: string,
): Promise<string> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    throw new ConfigError(`Cannot read ${where} ${path}: ${reason(err)}`);
  }
  const token = text.replace(/[\r\n]+$/, "");
  if (token.trim() === "") {
    throw new ConfigError(`The file of ${where} ${path} is empty`);
  }
  if (/[\r\n]/.test(token)) {
    throw new ConfigError(
      `The file of ${where} ${path} must hold the token on one line`,
    );
  }
  return token;
}

function reason(err: unknown): string {
  return err instanceof Deno.errors.NotFound
    ? "no such file"
    : err instanceof Deno.errors.IsADirectory
    ? "a directory"
    : errorText(err);
}
