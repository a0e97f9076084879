/**
 * The wire protocol: the message shape, decoding with every validation of
 * docs/protocol.md §6 in one place, and encoding of replies and deliveries.
 *
 * Pure: no I/O. Transports hand a frame's text or bytes to {@linkcode decode};
 * the broker serialises a delivery once with {@linkcode deliveryFrame} and every
 * transport writes that same {@linkcode Frame}.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { type ErrorContext, MistError } from "./errors.ts";

/** One protocol message, in either direction (docs/protocol.md §1). */
export interface Message {
  /** What to do (requests) or what this is (replies, deliveries). */
  command: string;
  /** The tag set of a subscription or a message. */
  tags?: readonly string[];
  /** The payload; never inspected or changed by the server. */
  data?: string;
  /** Set only on error replies. */
  error?: string;
  /** Correlation id chosen by the client (docs/protocol.md §5). */
  id?: string | number;
}

/** A decoded, validated request. `tags` keeps the order and duplicates sent. */
export interface CommandRequest {
  /** The command name, case-sensitive. */
  readonly command: string;
  /** The tags, when the request had them (valid, within the limits). */
  readonly tags?: readonly string[];
  /** The data, when the request had it. */
  readonly data?: string;
  /** The correlation id, when the request had one. */
  readonly id?: string | number;
  /**
   * The delivery frame of a publish, when the request's own bytes are it
   * (`canonical.ts`); the broker builds one otherwise.
   */
  readonly frame?: Frame;
}

/** The size limits every decoded frame is held to (docs/protocol.md §6). */
export interface Limits {
  /** Longest frame in bytes (UTF-8, without the line ending). */
  readonly maxMessageBytes: number;
  /** Most tags in one request. */
  readonly maxTags: number;
  /** Longest tag in bytes (UTF-8). */
  readonly maxTagBytes: number;
  /** Most subscriptions one connection may hold. */
  readonly maxSubscriptions: number;
}

/** The protocol's default limits. */
export const DEFAULT_LIMITS: Limits = Object.freeze({
  maxMessageBytes: 1024 * 1024,
  maxTags: 64,
  maxTagBytes: 1024,
  maxSubscriptions: 10_000,
});

const utf8Decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * Decodes and validates one frame.
 *
 * @param input the frame, as text (WebSocket) or UTF-8 bytes (TCP line without its ending)
 * @param limits the size limits to enforce
 * @param defaultCommand the command of a frame that names none (`POST /publish`
 *   bodies); without it such a frame is an `invalid message`
 * @returns the validated request
 * @throws {MistError} for every case of docs/protocol.md §6; its `context` holds what
 *   could be read of the request, for the error reply
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decode } from "./codec.ts";
 * assert.deepEqual(decode('{"command":"subscribe","tags":["a","b"]}'), {
 *   command: "subscribe",
 *   tags: ["a", "b"],
 * });
 * assert.throws(() => decode("{"), /invalid JSON/);
 * ```
 */
export function decode(
  input: string | Uint8Array,
  limits: Limits = DEFAULT_LIMITS,
  defaultCommand?: string,
): CommandRequest {
  let text: string;
  if (typeof input === "string") {
    if (
      input.length * 3 > limits.maxMessageBytes &&
      utf8Length(input) > limits.maxMessageBytes
    ) {
      throw withContext(new MistError("too_large"), { command: "" });
    }
    text = input;
  } else {
    if (input.byteLength > limits.maxMessageBytes) {
      throw withContext(new MistError("too_large"), { command: "" });
    }
    try {
      text = utf8Decoder.decode(input);
    } catch {
      throw withContext(new MistError("invalid_json", "not UTF-8"), {
        command: "",
      });
    }
  }

  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    // The parser's own message quotes the input, which may hold a token.
    throw withContext(new MistError("invalid_json"), { command: "" });
  }
  return validate(value, limits, defaultCommand);
}

/**
 * Validates a parsed message as a request: the checks of docs/protocol.md §6 that
 * follow parsing. {@linkcode decode} ends with it; a message that arrives
 * already parsed (from another node of a cluster) goes through it alone.
 *
 * @param value the parsed JSON value
 * @param limits the size limits to enforce
 * @param defaultCommand the command of a message that names none
 * @returns the validated request
 * @throws {MistError} as {@linkcode decode} does
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { validate } from "./codec.ts";
 * assert.deepEqual(validate({ command: "publish", tags: ["a"], data: "hi" }), {
 *   command: "publish",
 *   tags: ["a"],
 *   data: "hi",
 * });
 * assert.throws(() => validate({ command: "publish", tags: [1] }), /invalid tags/);
 * ```
 */
export function validate(
  value: unknown,
  limits: Limits = DEFAULT_LIMITS,
  defaultCommand?: string,
): CommandRequest {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw withContext(new MistError("invalid_message", "not an object"), {
      command: "",
    });
  }
  const { tags, data, id } = value as Record<string, unknown>;
  const command = (value as Record<string, unknown>).command ?? defaultCommand;
  const request: {
    command: string;
    tags?: readonly string[];
    data?: string;
    id?: string | number;
  } = { command: typeof command === "string" ? command : "" };
  // The id first: every error reply after this point can carry it.
  if (id !== undefined && id !== null) {
    // `1e400` is valid JSON but Infinity here, which JSON would echo as null.
    if (
      typeof id !== "string" &&
      (typeof id !== "number" || !Number.isFinite(id))
    ) {
      throw withContext(
        new MistError(
          "invalid_message",
          "id must be a string or a finite number",
        ),
        request,
      );
    }
    request.id = id;
  }
  if (typeof command !== "string") {
    throw withContext(
      new MistError("invalid_message", "missing string command"),
      request,
    );
  }
  // `null` stands for absent: the original Go client sends `"tags":null`.
  if (tags !== undefined && tags !== null) {
    checkTags(tags, limits, request);
    request.tags = tags;
  }
  if (data !== undefined && data !== null) {
    if (typeof data !== "string") {
      throw withContext(new MistError("invalid_data"), request);
    }
    request.data = data;
  }
  if (
    request.data !== undefined &&
    request.data.length * 3 > limits.maxMessageBytes &&
    utf8Length(request.data) > limits.maxMessageBytes
  ) {
    throw withContext(new MistError("too_large"), request);
  }
  return request;
}

/**
 * Validates a tag list against the limits.
 *
 * @param tags the value of a `tags` field
 * @param limits the size limits
 * @param context what an error should echo of the request
 * @throws {MistError} `invalid tags`, `too many tags`, `tag too long`
 */
export function checkTags(
  tags: unknown,
  limits: Limits,
  context: ErrorContext,
): asserts tags is string[] {
  if (!Array.isArray(tags)) {
    throw withContext(
      new MistError("invalid_tags", "expected an array of strings"),
      context,
    );
  }
  if (tags.length > limits.maxTags) {
    throw withContext(
      new MistError("too_many_tags", `${tags.length} > ${limits.maxTags}`),
      context,
    );
  }
  for (const tag of tags) {
    if (typeof tag !== "string") {
      throw withContext(
        new MistError("invalid_tags", "expected an array of strings"),
        context,
      );
    }
    if (tag === "") {
      throw withContext(new MistError("invalid_tags", "empty tag"), context);
    }
    if (
      tag.length * 3 > limits.maxTagBytes &&
      utf8Length(tag) > limits.maxTagBytes
    ) {
      throw withContext(
        new MistError(
          "tag_too_long",
          `longer than ${limits.maxTagBytes} bytes`,
        ),
        context,
      );
    }
  }
}

function withContext(err: MistError, context: ErrorContext): MistError {
  err.context = { ...context };
  return err;
}

/**
 * The request's tags, which the command requires to be non-empty.
 *
 * @param request a decoded request
 * @returns its tags
 * @throws {MistError} `missing tags` when it has none
 */
export function requireTags(request: CommandRequest): readonly string[] {
  if (request.tags === undefined || request.tags.length === 0) {
    throw new MistError("missing_tags");
  }
  return request.tags;
}

/**
 * The error reply for a failed request (docs/protocol.md §6).
 *
 * @param err the error
 * @param context what is known of the request
 * @returns `{command, tags?, error, id?}`
 */
export function errorReply(err: MistError, context: ErrorContext): Message {
  const reply: Message = { command: context.command };
  if (context.tags !== undefined) reply.tags = context.tags;
  reply.error = err.message;
  if (context.id !== undefined) reply.id = context.id;
  return reply;
}

/**
 * A message serialised once, shared by every connection it is written to.
 *
 * `text` is what SSE and Deno's WebSocket send; `line` is the UTF-8 line TCP
 * (and WebSocket line mode) sends. Each is made from the other on first use
 * and then reused; `webSocket` caches the same way the text frame of the
 * `ws://` listener.
 */
export class Frame {
  /**
   * Whether it went to more than one connection (the broker says so): a
   * writer may then share the bytes it joins it into with the others.
   */
  shared = false;
  #text: string | undefined;
  #line: Uint8Array | undefined;
  #webSocket: Uint8Array | undefined;
  #slab = 0;

  /**
   * Wraps the JSON text of one message.
   *
   * @param text the JSON text
   */
  constructor(text: string) {
    this.#text = text;
  }

  /**
   * A frame of a line that is already the message's JSON text (a canonical
   * publish read from a client), with its ending.
   *
   * @param line the UTF-8 JSON text ended by `\n`, not to be changed after
   * @param slab the number of the slab `line` is a view of, if any
   * @returns the frame
   */
  static ofLine(line: Uint8Array, slab = 0): Frame {
    const frame = new Frame("");
    frame.#text = undefined;
    frame.#line = line;
    frame.#slab = slab;
    return frame;
  }

  /**
   * The number of the slab the line was copied into, shared with the lines
   * read with it (a canonical publish), or 0 when the bytes are not in one:
   * how a queue tells how many slabs the lines it holds keep alive.
   */
  get slab(): number {
    return this.#slab;
  }

  /** The JSON text of the message. */
  get text(): string {
    if (this.#text === undefined) {
      const line = this.#line!;
      this.#text = Buffer.from(line.buffer, line.byteOffset, line.length)
        .toString("utf8", 0, line.length - 1);
    }
    return this.#text;
  }

  /** The message as UTF-8 bytes ended by `\n`. */
  get line(): Uint8Array {
    // Buffer.from encodes small strings into a pooled slab: several times
    // faster than TextEncoder.encode, which allocates a buffer per call.
    return this.#line ??= Buffer.from(this.#text + "\n");
  }

  /**
   * Whether the frame's line is a view of a larger buffer: the slab a
   * canonical publish was copied into, shared with the lines read with it,
   * or `Buffer`'s pool. Queued for long, such a frame keeps alive everything
   * published beside it; {@linkcode Frame.moveTo} gives it bytes elsewhere.
   */
  get sharesBuffer(): boolean {
    const line = this.#line;
    return line !== undefined && line.byteLength !== line.buffer.byteLength;
  }

  /**
   * Copies the line into `bytes` and makes them the line: how a connection
   * that holds few lines of many slabs keeps them in bytes of its own, apart
   * from the slabs they were cut from.
   *
   * @param bytes exactly {@linkcode Frame.size} bytes, not to be changed after
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Frame } from "./codec.ts";
   * const slab = new TextEncoder().encode('{"a":1}\n{"b":2}\n');
   * const frame = Frame.ofLine(slab.subarray(0, 8));
   * assert.equal(frame.sharesBuffer, true);
   * const backlog = new Uint8Array(64);
   * frame.moveTo(backlog.subarray(0, frame.size));
   * assert.equal(frame.line.buffer, backlog.buffer);
   * assert.equal(frame.text, '{"a":1}');
   * ```
   */
  moveTo(bytes: Uint8Array): void {
    if (bytes.byteLength !== this.size) {
      throw new RangeError(`moveTo needs ${this.size} bytes`);
    }
    bytes.set(this.line);
    this.#line = bytes;
    this.#slab = 0;
  }

  /**
   * The message as one WebSocket text frame, built once by `encode` (the
   * listener's framing) and shared by every receiver.
   *
   * @param encode builds the frame's bytes from the UTF-8 JSON text (the
   *   line without its `\n`)
   * @returns the cached bytes
   */
  webSocket(encode: (payload: Uint8Array) => Uint8Array): Uint8Array {
    return this.#webSocket ??= encode(this.line.subarray(0, -1));
  }

  /** The size the frame counts for in an outbound queue, in bytes. */
  get size(): number {
    return this.line.byteLength;
  }
}

/**
 * Serialises a message into a frame.
 *
 * @param message the message
 * @returns its frame
 */
export function encode(message: Message): Frame {
  return new Frame(JSON.stringify(message));
}

/**
 * The frame delivered to subscribers of a published message.
 *
 * @param tags the tags as published
 * @param data the payload
 * @returns `{"command":"publish","tags":[...],"data":"..."}`
 */
export function deliveryFrame(tags: readonly string[], data: string): Frame {
  return new Frame(JSON.stringify({ command: "publish", tags, data }));
}

/**
 * The length of a string in UTF-8 bytes, without encoding it.
 *
 * @param text any string (lone surrogates count as the 3 bytes of U+FFFD)
 * @returns its UTF-8 length
 */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (
      c >= 0xd800 && c <= 0xdbff && i + 1 < text.length &&
      (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00
    ) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}
