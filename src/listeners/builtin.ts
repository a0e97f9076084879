/**
 * Registers the listeners mist ships with, by URI scheme: `tcp`, `tls`,
 * `http`, `https`, `ws` and `wss`. The server imports this module once.
 *
 * @module
 */

import { listenHttp } from "./http.ts";
import { registerListener } from "./listener.ts";
import { listenTcp, listenTls } from "./tcp.ts";
import { listenWs } from "./ws_listener.ts";

registerListener("tcp", listenTcp);
registerListener("tls", listenTls);
registerListener("http", listenHttp);
registerListener("https", listenHttp);
registerListener("ws", listenWs);
registerListener("wss", listenWs);
