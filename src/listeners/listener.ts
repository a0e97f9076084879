/**
 * The listener family: what a started listener is, and the registry of
 * listener factories by URI scheme.
 *
 * @module
 */

import { getLogger } from "npm:@logtape/logtape@^2.4.2";
import { Registry } from "../_util/registry.ts";
import { bracket, errorText, unbracket } from "../_util/text.ts";
import type { ListenerStats } from "../server/transport.ts";
import type { ServerPort, TlsCertificate } from "../server/port.ts";

/** A started listener. */
export interface Listener {
  /** The bound address, e.g. `tcp://127.0.0.1:40123` (the real port when 0 was asked). */
  readonly url: string;
  /** The counters of its connections. */
  readonly stats: ListenerStats;
  /** Stops accepting connections; the open ones are left to the server. */
  close(): void;
  /** Resolves when the listener has stopped and every connection of it has ended. */
  readonly finished: Promise<void>;
  /**
   * Present on a listener that serves TLS: serves `tls` to the connections
   * accepted from now on, those open keep theirs. The certificate was checked
   * ({@linkcode checkCertificate}).
   *
   * @param tls the new certificate and key
   * @returns false when this listener serves the old one until a restart
   * @throws when it cannot take it (the old certificate stays)
   */
  renewCertificate?(tls: TlsCertificate): Promise<boolean>;
}

/**
 * A connection as the listeners read and write it: a `Deno.Conn`, or a TLS
 * connection on `node:tls` (`tls_socket.ts`).
 */
export interface ByteConn {
  /** Reads into `buffer`: how many bytes, or `null` once the peer finished sending. */
  read(buffer: Uint8Array): Promise<number | null>;
  /** Writes some of `bytes`: how many were written. */
  write(bytes: Uint8Array): Promise<number>;
  /** Ends the sending side; reads go on. */
  closeWrite(): Promise<void>;
  /** Closes both sides. */
  close(): void;
  /** The peer's address. */
  readonly remoteAddr: Deno.Addr;
}

/**
 * Hands a new certificate to every listener that can take one.
 *
 * @param listeners the server's listeners
 * @param tls the new certificate, checked already
 * @returns the URLs of the listeners that serve it now, and of those that
 *   keep the old one until a restart
 */
export async function renewCertificates(
  listeners: readonly Listener[],
  tls: TlsCertificate,
): Promise<{ renewed: string[]; kept: string[] }> {
  const renewed: string[] = [], kept: string[] = [];
  for (const listener of listeners) {
    if (listener.renewCertificate === undefined) continue;
    try {
      const done = await listener.renewCertificate(tls);
      (done ? renewed : kept).push(listener.url);
    } catch (err) {
      log.error("{listener}: cannot serve the new certificate: {error}", {
        listener: listener.url,
        error: err,
      });
      kept.push(listener.url);
    }
  }
  return { renewed, kept };
}

/**
 * Checks a certificate and key before any listener serves them.
 *
 * @param tls the certificate chain and private key, PEM
 * @throws {Error} when either does not parse or the key is not the
 *   certificate's
 */
export function checkCertificate(tls: TlsCertificate): void {
  // Deno's TLS refuses what it cannot serve: bad PEM, a key of another pair.
  Deno.listenTls({
    hostname: "127.0.0.1",
    port: 0,
    cert: tls.cert,
    key: tls.key,
  }).close();
}

/**
 * Starts a listener for a URL of its scheme.
 *
 * @param url the listener's URL, e.g. `tcp://127.0.0.1:1445`
 * @param server the server's side
 * @returns the started listener
 * @throws when it cannot listen (address in use, bad address)
 */
export type ListenerFactory = (
  url: URL,
  server: ServerPort,
) => Promise<Listener>;

/** Listener factories by scheme. */
export const listeners: Registry<ListenerFactory> = new Registry("listener");

/**
 * Registers a listener factory under a URI scheme, replacing any before it.
 *
 * @param scheme the scheme without `:` or `//`, e.g. `"tcp"`
 * @param factory what starts a listener of that scheme
 */
export function registerListener(
  scheme: string,
  factory: ListenerFactory,
): void {
  listeners.register(scheme, factory);
}

const log = getLogger(["mist", "server"]);

/**
 * Starts a listener for each URL, in order. A scheme nobody registered is
 * logged and skipped, as the original did.
 *
 * @param urls listener URLs
 * @param server the server the listeners feed
 * @param started called with each listener as soon as it runs, so that the
 *   caller can close the ones started before a failure
 * @throws {Error} for an invalid URL, a listener that cannot start, or when
 *   none could be started
 */
export async function startListeners(
  urls: readonly string[],
  server: ServerPort,
  started: (listener: Listener) => void,
): Promise<void> {
  let count = 0;
  for (const text of urls) {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      throw new Error(`Invalid listener URL "${text}"`);
    }
    keepExplicitPort(url, text);
    const scheme = url.protocol.slice(0, -1);
    const factory = listeners.get(scheme);
    if (factory === undefined) {
      log.warn("Skipping listener {url}: scheme {scheme} is not supported", {
        url: text,
        scheme,
      });
      continue;
    }
    let listener: Listener;
    try {
      listener = await factory(url, server);
    } catch (err) {
      throw new Error(`Cannot listen on ${text}: ${listenError(err)}`, {
        cause: err,
      });
    }
    started(listener);
    count++;
    log.info("{scheme} listener on {url}", {
      scheme: scheme.toUpperCase(),
      url: listener.url,
    });
  }
  if (count === 0) {
    throw new Error(
      `No listener started (asked for: ${urls.join(", ") || "none"})`,
    );
  }
}

function listenError(err: unknown): string {
  if (err instanceof Deno.errors.AddrInUse) return "address already in use";
  if (err instanceof Deno.errors.PermissionDenied) return "permission denied";
  return errorText(err);
}

/**
 * The ports written out in listener URLs where `URL` drops them: it elides a
 * special scheme's own default (`http://h:80`, `https://h:443`, `ws://h:80`,
 * `wss://h:443`), which is not the listener's default.
 */
const explicitPorts = new WeakMap<URL, number>();

/**
 * Remembers the port of `text` when `url` dropped it as its scheme's default.
 *
 * @param url the parsed listener URL
 * @param text what it was parsed from
 */
export function keepExplicitPort(url: URL, text: string): void {
  if (url.port !== "") return;
  // Under a scheme of no special meaning, `URL` keeps every port it is given.
  const port = URL.parse(`x-${text.trim()}`)?.port ?? "";
  if (port !== "") explicitPorts.set(url, Number(port));
}

/**
 * The host and port to bind for a listener URL.
 *
 * @param url the listener URL
 * @param defaultPort the port when the URL has none
 * @returns the hostname (IPv6 without brackets) and the port
 * @throws {TypeError} when the URL has no host
 */
export function bindAddress(
  url: URL,
  defaultPort: number,
): { hostname: string; port: number } {
  if (url.hostname === "") throw new TypeError(`${url.href} has no host`);
  const port = url.port !== ""
    ? Number(url.port)
    : explicitPorts.get(url) ?? defaultPort;
  return { hostname: unbracket(url.hostname), port };
}

/**
 * The URL of a bound address.
 *
 * @param scheme the listener's scheme
 * @param addr the bound address
 * @returns e.g. `tcp://127.0.0.1:40123` or `tcp://[::1]:40123`
 */
export function boundUrl(scheme: string, addr: Deno.NetAddr): string {
  return `${scheme}://${bracket(addr.hostname)}:${addr.port}`;
}
