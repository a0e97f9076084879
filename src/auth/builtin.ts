/**
 * Registers the authenticators mist ships with, by URI scheme: `memory`,
 * `scribble`, and `postgres` (also spelled `postgresql`). Importing this
 * module once is all a server needs before {@linkcode openAuthenticator}.
 *
 * The PostgreSQL driver is loaded only when a `postgres:` URI is opened, so
 * servers that do not use it never load it.
 *
 * @module
 */

import {
  type AuthenticatorFactory,
  openAuthenticator,
  registerAuthenticator,
} from "./authenticator.ts";
import { openMemory } from "./memory.ts";
import { openScribble } from "./scribble.ts";

/** The schemes this module registers. */
export const BUILTIN_AUTHENTICATORS: readonly string[] = [
  "memory",
  "scribble",
  "postgres",
  "postgresql",
];

const openPostgres: AuthenticatorFactory = async (url) =>
  (await import("./postgres.ts")).openPostgres(url);

registerAuthenticator("memory", openMemory);
registerAuthenticator("scribble", openScribble);
registerAuthenticator("postgres", openPostgres);
registerAuthenticator("postgresql", openPostgres);

export { openAuthenticator };
