/**
 * Request bodies (RFC 9112 §6): how one is delimited, by `Content-Length` or
 * chunked, and a stream of it read off the wire only as the route pulls it.
 *
 * @module
 */

import { BadRequest, BodyCutShort, type Wire } from "./http_wire.ts";

/** A request body being read: its stream, and whether it was read to its end. */
export interface Body {
  /** The body as a stream, made when first asked for. */
  readonly stream: ReadableStream<Uint8Array>;
  /** Its next bytes, `null` once it has ended (the first read sends `100 Continue`). */
  read(): Promise<Uint8Array | null>;
  /** Whether every byte of the body was read (the next request follows). */
  readonly ended: boolean;
  /** The bytes of it not read yet, when its length is known; else `Infinity`. */
  readonly left: number;
  /** Whether the route asked for the body (`100 Continue` was sent). */
  readonly started: boolean;
  /**
   * Reads what the route left of the body, discarding it, up to `max` bytes.
   *
   * @returns whether the body ended (false: past `max`, or unreadable)
   */
  skip(max: number): Promise<boolean>;
}

/**
 * A request body as a stream, read from the wire only as it is pulled: nothing
 * of it is buffered here beyond one read.
 *
 * @param wire the connection's reading side
 * @param how how the body is delimited
 * @param first called on the first pull (to send `100 Continue`)
 * @returns the body
 */
export function readBody(
  wire: Wire,
  how: Framing,
  first: () => Promise<void>,
): Body {
  if (how !== "chunked" && how.length === 0) return NO_BODY;
  let left = how === "chunked" ? 0 : how.length;
  let ended = how !== "chunked" && left === 0;
  let started = false;
  /** The next bytes, `null` once the body has ended. */
  const next = async (): Promise<Uint8Array | null> => {
    if (how === "chunked") {
      while (left === 0) {
        const line = await wire.line();
        const size = /^([0-9a-fA-F]{1,12})[ \t]*(;.*)?$/.exec(line);
        if (size === null) throw new BadRequest(400, "bad chunked body");
        left = parseInt(size[1]!, 16);
        if (left === 0) {
          while (await wire.line() !== ""); // trailers, ignored
          return null;
        }
      }
    } else if (left === 0) {
      return null;
    }
    const bytes = await wire.take(left);
    if (bytes === null) throw new BodyCutShort();
    left -= bytes.length;
    if (how === "chunked" && left === 0 && await wire.line() !== "") {
      throw new BadRequest(400, "bad chunked body");
    }
    return bytes;
  };
  const read = async (): Promise<Uint8Array | null> => {
    if (!started) {
      started = true;
      await first();
    }
    const bytes = await next();
    if (bytes === null) ended = true;
    return bytes;
  };
  let stream: ReadableStream<Uint8Array> | undefined;
  return {
    get stream() {
      return stream ??= new ReadableStream<Uint8Array>({
        async pull(controller) {
          const bytes = await read();
          if (bytes === null) controller.close();
          else controller.enqueue(bytes);
        },
      }, { highWaterMark: 0 });
    },
    read,
    get ended() {
      return ended;
    },
    get started() {
      return started;
    },
    get left() {
      return ended ? 0 : how === "chunked" ? Infinity : left;
    },
    async skip(max: number): Promise<boolean> {
      started = true;
      let skipped = 0;
      try {
        while (!ended && skipped <= max) {
          const bytes = await next();
          if (bytes === null) ended = true;
          else skipped += bytes.length;
        }
      } catch {
        return false;
      }
      return ended;
    },
  };
}

/** The body of a request without one: nothing made per request. */
const NO_BODY: Body = {
  get stream() {
    return new ReadableStream<Uint8Array>({ start: (c) => c.close() });
  },
  read: () => Promise.resolve(null),
  ended: true,
  left: 0,
  started: false,
  skip: () => Promise.resolve(true),
};

/** How a request's body is delimited (RFC 9112 §6.3). */
export type Framing = { length: number } | "chunked";

/**
 * The framing of a request's body.
 *
 * @throws {BadRequest} `400` for both `Content-Length` and
 *   `Transfer-Encoding`, a length that is not one number, or a coding
 *   other than chunked (`501`): what request smuggling is made of
 */
export function framing(headers: Headers): Framing {
  const coding = headers.get("transfer-encoding");
  const length = headers.get("content-length");
  if (coding !== null) {
    if (length !== null) {
      throw new BadRequest(400, "both Content-Length and Transfer-Encoding");
    }
    if (coding.trim().toLowerCase() !== "chunked") {
      throw new BadRequest(501, "only the chunked transfer coding is served");
    }
    return "chunked";
  }
  if (length === null) return { length: 0 };
  // Repeated headers are joined with ", ": all must be the same number.
  const values = new Set(length.split(",").map((v) => v.trim()));
  const [value] = values;
  if (values.size !== 1 || !/^\d{1,15}$/.test(value!)) {
    throw new BadRequest(400, "bad Content-Length");
  }
  return { length: Number(value) };
}

/** The wire body of each request the front made. */
const BODIES = new WeakMap<Request, Body>();

/**
 * Gives a request the body it came with on the wire, for
 * {@linkcode bodyOf}: read directly, without a stream.
 *
 * @param request the request the front made
 * @param body its body
 */
export function attachBody(request: Request, body: Body): void {
  BODIES.set(request, body);
}

/**
 * The wire body of a request the front made, or `undefined` for another
 * request (whose `body` stream is its body).
 *
 * @param request the request
 * @returns its body
 */
export function bodyOf(request: Request): Body | undefined {
  return BODIES.get(request);
}
