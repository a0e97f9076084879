/**
 * Command-line helpers shared by the server's flags and the client
 * subcommands.
 *
 * @module
 */

/**
 * Joins a string flag and a value that looks like a negative number into one
 * `--flag=-1` argument: `node:util` `parseArgs` would otherwise take `-1` for
 * a flag and call the flag's argument "ambiguous", where the flag's own check
 * has the message that helps ("expected a positive integer").
 *
 * @param args the arguments as given
 * @param options the flags, as given to `parseArgs`
 * @returns the arguments to parse
 */
export function joinDashValues(
  args: readonly string[],
  options: Readonly<Record<string, { type: "string" | "boolean" }>>,
): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const next = args[i + 1];
    if (arg === "--") {
      out.push(...args.slice(i));
      break;
    }
    const name = arg.startsWith("--") ? arg.slice(2) : undefined;
    if (
      name !== undefined && Object.hasOwn(options, name) &&
      options[name]!.type === "string" && next !== undefined &&
      /^-[\d.]/.test(next)
    ) {
      out.push(`${arg}=${next}`);
      i++;
    } else {
      out.push(arg);
    }
  }
  return out;
}
