/**
 * The transport for each scheme a client connects with.
 *
 * @module
 */

import { openLineTransport } from "./line_transport.ts";
import type { TransportFactory } from "./transport.ts";
import { openWebSocketTransport } from "./ws_transport.ts";

const TRANSPORTS: Readonly<Record<string, TransportFactory>> = {
  "tcp:": openLineTransport,
  "tls:": openLineTransport,
  "ws:": openWebSocketTransport,
  "wss:": openWebSocketTransport,
};

/**
 * Opens the transport of a URL's scheme.
 *
 * @param url a server URL from `parseServerAddress`
 * @param options what connecting needs
 * @param handler where frames go
 * @returns the open transport
 * @throws {TypeError} for a scheme without a transport
 * @throws {Error} whatever the transport throws when it cannot connect
 */
export const openTransport: TransportFactory = (url, options, handler) => {
  const factory = TRANSPORTS[url.protocol];
  if (factory === undefined) {
    return Promise.reject(new TypeError(`No transport for "${url.protocol}"`));
  }
  return factory(url, options, handler);
};
