/**
 * What an HTTP request presents (its body, its token) and the responses the
 * HTTP listeners build from mist's errors.
 *
 * @module
 */

import type { Principal } from "../core/principal.ts";
import { errorReply } from "../protocol/codec.ts";
import { type ErrorContext, MistError } from "../protocol/errors.ts";

/** Reads a body up to a size; `undefined` when it is longer. */
export async function readBody(
  request: Request,
  max: number,
): Promise<Uint8Array | undefined> {
  const declared = Number(request.headers.get("content-length") ?? NaN);
  if (declared > max) {
    await request.body?.cancel();
    return undefined;
  }
  if (request.body === null) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of request.body) {
    size += chunk.byteLength;
    if (size > max) return undefined; // leaving the loop cancels the body
    chunks.push(chunk);
  }
  const body = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return body;
}

/**
 * The token a request presents: the `X-AUTH-TOKEN` header, else the
 * `x-auth-token` query parameter (its name matched case-insensitively).
 *
 * @param request the request
 * @param url its parsed URL
 * @returns the token, or `undefined` when none is presented
 */
export function presentedToken(
  request: Pick<Request, "headers">,
  url: URL,
): string | undefined {
  const header = request.headers.get("x-auth-token");
  if (header !== null) return header;
  for (const [name, value] of url.searchParams) {
    if (name.toLowerCase() === "x-auth-token") return value;
  }
  return undefined;
}

/**
 * The token a `GET /metrics` request presents: `Authorization: Bearer T`,
 * which is what Prometheus sends, else as {@linkcode presentedToken}.
 *
 * @param request the request
 * @param url its parsed URL
 * @returns the token, or `undefined` when none is presented
 */
export function metricsToken(request: Request, url: URL): string | undefined {
  const authorization = request.headers.get("authorization");
  const bearer = authorization?.match(/^Bearer[ \t]+(\S+)[ \t]*$/i);
  return bearer?.[1] ?? presentedToken(request, url);
}

/** The error response for a failed request: the §6 error reply, with its HTTP status. */
export function failure(
  err: unknown,
  principal: Principal | undefined,
  message: ErrorContext,
): Response {
  if (!(err instanceof MistError)) throw err;
  const reply = errorReply(err, err.context ?? message);
  return json(statusOf(err, principal), reply);
}

/**
 * The HTTP status of an error (docs/protocol.md §8).
 *
 * @param err the error
 * @param principal who made the request, when known
 * @returns 401 for a missing or invalid token, 403 for a refused valid one,
 *   413 for a message too large, 503 when the authenticator is down, else 400
 */
export function statusOf(err: MistError, principal?: Principal): number {
  switch (err.code) {
    case "invalid_token":
      return 401;
    case "forbidden":
      return principal === undefined || principal.kind === "anonymous"
        ? 401
        : 403;
    case "authenticator_unavailable":
      return 503;
    case "too_large":
      return 413;
    default:
      return 400;
  }
}

export function methodNotAllowed(allow: string): Response {
  return json(405, { error: "method not allowed" }, { allow });
}

export function json(
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): Response {
  return new Response(JSON.stringify(body) + "\n", {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}
