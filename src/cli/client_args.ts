/**
 * The command line of a client subcommand: its flags, checked, and the
 * connect options they make.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { errorText } from "../_util/text.ts";
import { DEFAULT_ADDRESS, parseServerAddress } from "../client/address.ts";
import type { ConnectOptions } from "../client/options.ts";
import { joinDashValues } from "./_args.ts";

/** The actions of `mist admin`. */
export const ADMIN_ACTIONS: readonly string[] = [
  "register",
  "unregister",
  "set",
  "unset",
  "tags",
];

/** A command line that cannot be run as given. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** A client subcommand's command line, checked. */
export interface ClientArgs {
  command: string;
  positionals: string[];
  tags: string[][];
  data: string | undefined;
  json: boolean;
  options: ConnectOptions;
  address: URL;
}

/**
 * Parses a subcommand's flags and reads the `--ca`, `--cert` and `--key` files.
 *
 * @param command the subcommand
 * @param args its arguments
 * @returns the checked command line; `undefined` when it asked for help
 * @throws {UsageError} for a flag, value or file that cannot be used
 */
export async function parseClientArgs(
  command: string,
  args: readonly string[],
): Promise<ClientArgs | undefined> {
  let values: Record<
    string,
    string | boolean | (string | boolean)[] | undefined
  >;
  let positionals: string[];
  const options: Record<
    string,
    { type: "string" | "boolean"; multiple?: boolean; short?: string }
  > = {
    host: { type: "string" },
    token: { type: "string" },
    ca: { type: "string", multiple: true },
    cert: { type: "string" },
    key: { type: "string" },
    json: { type: "boolean" },
    help: { type: "boolean", short: "h" },
    ...(command === "subscribe" || command === "publish" ||
        command === "admin"
      ? { tags: { type: "string", multiple: true } }
      : {}),
    ...(command === "publish" ? { data: { type: "string" } } : {}),
  };
  try {
    ({ values, positionals } = parseArgs({
      args: joinDashValues(args, options),
      options,
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
  const caCerts = await Promise.all(
    ((values.ca ?? []) as string[]).map((path) =>
      readPem("--ca", path, "CERTIFICATE")
    ),
  );
  const certFile = values.cert as string | undefined;
  const keyFile = values.key as string | undefined;
  if ((certFile === undefined) !== (keyFile === undefined)) {
    throw new UsageError("--cert and --key go together: give both");
  }
  const clientCert = certFile === undefined || keyFile === undefined ? {} : {
    cert: await readPem("--cert", certFile, "CERTIFICATE"),
    key: await readPem("--key", keyFile, "PRIVATE KEY"),
  };
  return {
    command,
    positionals,
    tags,
    data,
    json: values.json === true,
    options: {
      ...(token !== undefined ? { token } : {}),
      ...(caCerts.length > 0 ? { caCerts } : {}),
      ...clientCert,
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

/** Reads a PEM file of a flag; `label` is what its `-----BEGIN` line must name. */
async function readPem(
  flag: string,
  path: string,
  label: "CERTIFICATE" | "PRIVATE KEY",
): Promise<string> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    throw new UsageError(
      `cannot read ${flag} ${path}: ${
        err instanceof Deno.errors.NotFound ? "no such file" : errorText(err)
      }`,
    );
  }
  // "PRIVATE KEY" also matches "EC PRIVATE KEY" and "RSA PRIVATE KEY".
  if (!new RegExp(`-----BEGIN (?:[A-Z]+ )?${label}-----`).test(text)) {
    throw new UsageError(
      `${flag} ${path} holds no PEM ${label.toLowerCase()}`,
    );
  }
  return text;
}
