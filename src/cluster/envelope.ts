/**
 * Envelopes: what nodes of a cluster tell each other, and their one-line JSON
 * codec. Pure: no I/O.
 *
 * Every envelope names the node it comes from, so that a node can ignore its
 * own (it has already delivered them locally). Encoded envelopes never contain
 * a raw newline, so a backplane may join several into one transport message
 * with `\n` between them.
 *
 * @module
 */

/** A message published on a node, for the subscribers of every other node. */
export interface MessageEnvelope {
  /** Always `"message"`. */
  readonly kind: "message";
  /** The id of the node it was published on. */
  readonly node: string;
  /** The message's tags as published (non-empty). */
  readonly tags: readonly string[];
  /** The payload. */
  readonly data: string;
}

/**
 * A token's grants changed on a node (`register`, `set`, `unset`,
 * `unregister`): it carries revocations, so that every node applies them to
 * its own connections.
 */
export interface GrantsEnvelope {
  /** Always `"grants"`. */
  readonly kind: "grants";
  /** The id of the node where the change was made. */
  readonly node: string;
  /** The token's SHA-256 digest in hex (never the token itself). */
  readonly token: string;
  /** Every tag the token grants after the change, or `null` when it was unregistered. */
  readonly tags: readonly string[] | null;
}

/** A node is alive; it says so every `interval` milliseconds. */
export interface HeartbeatEnvelope {
  /** Always `"heartbeat"`. */
  readonly kind: "heartbeat";
  /** The id of the living node. */
  readonly node: string;
  /** How often that node sends heartbeats, in milliseconds. */
  readonly interval: number;
}

/** Anything a node sends to the others, tagged by `kind`. */
export type Envelope = MessageEnvelope | GrantsEnvelope | HeartbeatEnvelope;

/**
 * Encodes an envelope as one line of JSON (no newline in it).
 *
 * @param envelope the envelope
 * @returns its text
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeEnvelope } from "./envelope.ts";
 * assert.equal(
 *   encodeEnvelope({ kind: "message", node: "n1", tags: ["a"], data: "hi" }),
 *   '{"kind":"message","node":"n1","tags":["a"],"data":"hi"}',
 * );
 * ```
 */
export function encodeEnvelope(envelope: Envelope): string {
  switch (envelope.kind) {
    case "message":
      return JSON.stringify({
        kind: "message",
        node: envelope.node,
        tags: envelope.tags,
        data: envelope.data,
      });
    case "grants":
      return JSON.stringify({
        kind: "grants",
        node: envelope.node,
        token: envelope.token,
        tags: envelope.tags,
      });
    case "heartbeat":
      return JSON.stringify({
        kind: "heartbeat",
        node: envelope.node,
        interval: envelope.interval,
      });
  }
}

const DIGEST = /^[0-9a-f]{64}$/;

/**
 * Decodes and validates one encoded envelope. Unknown fields are ignored.
 *
 * @param text what a backplane delivered
 * @returns the envelope
 * @throws {TypeError} when it is not a valid envelope, saying what is wrong
 *   (quoting nothing of the input but an unknown kind)
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeEnvelope } from "./envelope.ts";
 * assert.deepEqual(
 *   decodeEnvelope('{"kind":"heartbeat","node":"n1","interval":2000}'),
 *   { kind: "heartbeat", node: "n1", interval: 2000 },
 * );
 * ```
 */
export function decodeEnvelope(text: string): Envelope {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new TypeError("Envelope is not valid JSON");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TypeError("Envelope is not a JSON object");
  }
  const fields = value as Record<string, unknown>;
  const { kind, node } = fields;
  if (typeof node !== "string" || node === "") {
    throw new TypeError("Envelope has no node id");
  }
  switch (kind) {
    case "message": {
      const { tags, data } = fields;
      if (!isTags(tags) || tags.length === 0) {
        throw new TypeError(
          "Message envelope needs a non-empty array of string tags",
        );
      }
      if (typeof data !== "string") {
        throw new TypeError("Message envelope needs string data");
      }
      return { kind, node, tags, data };
    }
    case "grants": {
      const { token, tags } = fields;
      if (typeof token !== "string" || !DIGEST.test(token)) {
        throw new TypeError("Grants envelope needs a SHA-256 hex token digest");
      }
      if (tags !== null && !isTags(tags)) {
        throw new TypeError(
          "Grants envelope needs an array of string tags or null",
        );
      }
      return { kind, node, token, tags };
    }
    case "heartbeat": {
      const { interval } = fields;
      if (
        typeof interval !== "number" || !Number.isSafeInteger(interval) ||
        interval < 1
      ) {
        throw new TypeError("Heartbeat envelope needs a positive interval");
      }
      return { kind, node, interval };
    }
    default:
      throw new TypeError(
        typeof kind === "string"
          ? `Unknown envelope kind "${kind.slice(0, 32)}"`
          : "Envelope has no kind",
      );
  }
}

function isTags(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((tag) => typeof tag === "string");
}
