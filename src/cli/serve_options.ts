/**
 * What the program's settings ask of `serve()`.
 *
 * @module
 */

import type { Authenticator } from "../auth/authenticator.ts";
import type { ServeOptions } from "../server/options.ts";
import type { TlsCertificate } from "../server/port.ts";
import type { Config } from "./config.ts";

/** What the program opened or read before serving. */
export interface Opened {
  /** The authenticator opened from `config.authenticator`. */
  authenticator?: Authenticator | undefined;
  /** The PEM texts read from `tls-cert`, `tls-key` and `tls-client-ca`. */
  tls?: TlsCertificate | undefined;
}

/**
 * The options of `serve()` for a configuration.
 *
 * @param config the merged settings
 * @param opened the authenticator and certificate, when there are any
 * @returns the options, with no key for what is not set
 */
export function serveOptions(
  config: Config,
  opened: Opened = {},
): ServeOptions {
  const { authenticator, tls } = opened;
  return {
    listeners: config.listeners,
    limits: {
      maxMessageBytes: config.maxMessageSize,
      maxTags: config.maxTags,
      maxTagBytes: config.maxTagLength,
      maxSubscriptions: config.maxSubscriptions,
    },
    queueBytes: config.queueSize,
    maxSubscriptionBytes: config.maxSubscriptionBytes,
    maxTotalSubscriptions: config.maxTotalSubscriptions,
    maxTotalSubscriptionBytes: config.maxTotalSubscriptionBytes,
    drainTimeoutMs: config.shutdownTimeout * 1000,
    ...(authenticator === undefined ? {} : { authenticator }),
    ...(config.token === undefined ? {} : { token: config.token }),
    ...(config.metricsToken === undefined
      ? {}
      : { metricsToken: config.metricsToken }),
    ...(config.nodeName === undefined ? {} : { nodeName: config.nodeName }),
    ...(tls === undefined ? {} : { tls }),
    ...(config.cluster === undefined ? {} : { cluster: config.cluster }),
    ...(config.clusterName === undefined
      ? {}
      : { clusterName: config.clusterName }),
    ...(config.allowedOrigins === undefined
      ? {}
      : { allowedOrigins: config.allowedOrigins }),
  };
}
