/**
 * Responses on the wire: the status line and headers, a body known whole
 * with its `content-length`, an event stream chunked as its chunks come.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { writeAll } from "../_util/io.ts";
import type { ByteConn } from "./listener.ts";

const REASONS: Record<number, string> = {
  100: "Continue",
  101: "Switching Protocols",
  200: "OK",
  202: "Accepted",
  204: "No Content",
  303: "See Other",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  413: "Content Too Large",
  417: "Expectation Failed",
  426: "Upgrade Required",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  501: "Not Implemented",
  503: "Service Unavailable",
};

const CRLF = Buffer.from("\r\n");

/** The bytes of the responses made by {@linkcode fixedResponse}. */
const KNOWN = new WeakMap<Response, Uint8Array>();

/**
 * A response whose body is known whole: the front writes its bytes without
 * reading them back out of the response's stream.
 *
 * @param text the body, written as UTF-8
 * @param init its status and headers
 * @returns the response
 */
export function fixedResponse(text: string, init: ResponseInit): Response {
  const bytes = Buffer.from(text, "utf8");
  const response = new Response(bytes, init);
  KNOWN.set(response, bytes);
  return response;
}
const NOTHING = new Uint8Array(0);

/** Headers the front writes itself, never copied from a response. */
const FRAMING_HEADERS = new Set([
  "content-length",
  "transfer-encoding",
  "connection",
  "keep-alive",
]);

/**
 * The status line and headers of a response.
 *
 * @param status the status
 * @param headers the response's headers
 * @param extra the framing headers, e.g. `content-length: 5\r\n`
 */
export function headBytes(
  status: number,
  headers: Headers,
  extra: string,
): Buffer {
  let text = `HTTP/1.1 ${status} ${REASONS[status] ?? ""}\r\n`;
  for (const [name, value] of headers) {
    if (!FRAMING_HEADERS.has(name)) text += `${name}: ${value}\r\n`;
  }
  return Buffer.from(text + extra + "\r\n", "latin1");
}

/** How a response is written. */
export interface Writing {
  /** A response to `HEAD`: the head only. */
  head: boolean;
  /** Whether the connection stays open after it. */
  keepAlive: boolean;
  /** HTTP/1.0 asked for keep-alive, which then is said. */
  sayKeepAlive: boolean;
}

/**
 * Writes a response whose body is known whole: a `content-length`, one write.
 */
export async function writeFixed(
  conn: ByteConn,
  response: Response,
  how: Writing,
): Promise<void> {
  const known = KNOWN.get(response);
  const body = known ??
    (response.body === null
      ? NOTHING
      : new Uint8Array(await response.arrayBuffer()));
  const noBody = response.status === 204 || response.status === 304;
  // A HEAD answer without a body to measure (an event stream's) says no length.
  const unknown = how.head && known === undefined && response.body === null;
  const extra =
    (noBody || unknown ? "" : `content-length: ${body.length}\r\n`) +
    connectionHeader(how);
  const head = headBytes(response.status, response.headers, extra);
  await writeAll(
    conn,
    how.head || noBody || body.length === 0
      ? head
      : Buffer.concat([head, body]),
  );
}

/**
 * Writes a streamed response as its chunks come, each write awaited (a client
 * that does not read holds one chunk here, the rest waits upstream): chunked,
 * then the connection is closed. Ends when the stream ends or `gone` settles
 * (the client closed), whichever is first.
 */
export async function writeStreamed(
  conn: ByteConn,
  response: Response,
  chunked: boolean,
  gone: Promise<unknown>,
): Promise<void> {
  const reader = response.body!.getReader();
  gone.then(() => reader.cancel().catch(() => {}), () => {});
  await writeAll(
    conn,
    headBytes(
      response.status,
      response.headers,
      (chunked ? "transfer-encoding: chunked\r\n" : "") +
        "connection: close\r\n",
    ),
  );
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      if (value.length === 0) continue;
      await writeAll(
        conn,
        chunked
          ? Buffer.concat([
            Buffer.from(`${value.length.toString(16)}\r\n`, "latin1"),
            value,
            CRLF,
          ])
          : value,
      );
    }
    if (chunked) await writeAll(conn, Buffer.from("0\r\n\r\n", "latin1"));
  } finally {
    reader.cancel().catch(() => {});
  }
}

function connectionHeader(how: Writing): string {
  if (!how.keepAlive) return "connection: close\r\n";
  return how.sayKeepAlive ? "connection: keep-alive\r\n" : "";
}

/** The most bytes read and dropped before closing a connection with a body unread. */
const LINGER_BYTES = 1024 * 1024;

/** Ends the writing side, then reads and drops what comes, up to {@linkcode LINGER_BYTES}. */
export async function linger(conn: ByteConn): Promise<void> {
  const scratch = new Uint8Array(16 * 1024);
  let dropped = 0;
  try {
    await conn.closeWrite();
    while (dropped < LINGER_BYTES) {
      const n = await conn.read(scratch);
      if (n === null) return;
      dropped += n;
    }
  } catch {
    // Closed meanwhile.
  }
}

/** Responses written as they come: event streams. The rest are read whole. */
export function isStream(response: Response): boolean {
  return !KNOWN.has(response) && response.body !== null &&
    (response.headers.get("content-type") ?? "").startsWith(
      "text/event-stream",
    );
}

/** Settles when the client closes its side (what it sends meanwhile is dropped). */
export async function closedBy(conn: ByteConn): Promise<void> {
  const scratch = new Uint8Array(256);
  try {
    while (await conn.read(scratch) !== null);
  } catch {
    // Closed.
  }
}
