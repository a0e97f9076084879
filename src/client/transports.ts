/**
 * Registers the transports mist's client ships with, by URL scheme: `tcp` and
 * `tls` (one JSON object per line), `ws` and `wss` (one per text frame).
 * Importing this module once is all a client needs before
 * {@linkcode openTransport}. `parseServerAddress` accepts these and every
 * scheme registered later (`transportSchemes`).
 *
 * @module
 */

import { openLineTransport } from "./line_transport.ts";
import {
  openTransport,
  registerTransport,
  transportSchemes,
} from "./transport.ts";
import { openWebSocketTransport } from "./ws_transport.ts";

registerTransport("tcp", openLineTransport);
registerTransport("tls", openLineTransport);
registerTransport("ws", openWebSocketTransport);
registerTransport("wss", openWebSocketTransport);

export { openTransport, transportSchemes };
