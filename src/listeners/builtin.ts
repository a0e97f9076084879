/**
 * Registers the listeners mist ships with, by URI scheme: `tcp`, `tls`,
 * `http`, `https`, `ws` and `wss`. The server imports this module once.
 *
 * @module
 */

import { listenHttp, listenWebSocket } from "./http.ts";
import { registerListener } from "./listener.ts";
import { listenTcp, listenTls } from "./tcp.ts";

registerListener("tcp", listenTcp);
registerListener("tls", listenTls);
registerListener("http", listenHttp);
registerListener("https", listenHttp);
registerListener("ws", listenWebSocket);
registerListener("wss", listenWebSocket);
