/**
 * One way for every plug-in family (listeners, authenticators, backplanes,
 * client transports) to register its implementations under URI schemes.
 *
 * @module
 */

/**
 * Factories by URI scheme, matched case-insensitively.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Registry } from "./registry.ts";
 * const registry = new Registry<() => string>("greeter");
 * registry.register("hello", () => "hi");
 * assert.equal(registry.get("HELLO")?.(), "hi");
 * assert.deepEqual(registry.schemes(), ["hello"]);
 * ```
 */
export class Registry<F> {
  /** What the family is called, for messages. */
  readonly family: string;
  readonly #factories = new Map<string, F>();

  /** @param family what the family is called, e.g. `"listener"` */
  constructor(family: string) {
    this.family = family;
  }

  /**
   * Registers a factory under a scheme, replacing any before it.
   *
   * @param scheme the scheme without `:` or `//`, e.g. `"tcp"`
   * @param factory what the scheme opens
   */
  register(scheme: string, factory: F): void {
    this.#factories.set(scheme.toLowerCase(), factory);
  }

  /**
   * The factory of a scheme.
   *
   * @param scheme the scheme, with or without a trailing `:`
   * @returns its factory, or `undefined`
   */
  get(scheme: string): F | undefined {
    return this.#factories.get(scheme.toLowerCase().replace(/:$/, ""));
  }

  /** @returns the registered schemes, in the order they were registered */
  schemes(): string[] {
    return [...this.#factories.keys()];
  }

  /**
   * The factory of a URL's scheme, or an error that lists the known ones.
   *
   * @param url the URL
   * @returns its factory
   * @throws {TypeError} for a scheme nobody registered
   */
  require(url: URL): F {
    const factory = this.get(url.protocol);
    if (factory === undefined) {
      throw new TypeError(
        `Unknown ${this.family} scheme "${url.protocol.slice(0, -1)}"; known: ${
          this.schemes().map((s) => `${s}://`).join(", ")
        }`,
      );
    }
    return factory;
  }
}
