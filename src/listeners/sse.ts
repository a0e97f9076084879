/**
 * Server-Sent Events: `GET /subscribe?tags=a,b&tags=c` streams every matching
 * delivery as one `data:` event (docs/protocol.md §8).
 *
 * @module
 */

import type { Principal } from "../core/principal.ts";
import { checkTags, type Frame, type Limits } from "../protocol/codec.ts";
import { MistError } from "../protocol/errors.ts";
import type { ConnectionInfo, Outlet } from "../server/transport.ts";
import type { ServerPort } from "../server/port.ts";

const encoder = new TextEncoder();

/** How much the stream buffers before the connection stops writing to it. */
const STREAM_HIGH_WATER_BYTES = 64 * 1024;

/** About the most text one enqueue joins events into, in UTF-16 units. */
const EVENT_CHUNK_CHARS = 16 * 1024;

/**
 * The subscriptions an event-stream request asks for: each `tags` parameter is
 * one subscription, its tags separated by commas (repeats count once).
 *
 * @param url the request URL
 * @param limits the size limits
 * @returns the subscriptions
 * @throws {MistError} `missing tags` when there is none; the tag errors of §6
 */
export function requestedSubscriptions(url: URL, limits: Limits): string[][] {
  // Tags are exact strings (docs/protocol.md §2): split on commas, nothing trimmed.
  const distinct = new Map<string, string[]>();
  for (const value of url.searchParams.getAll("tags")) {
    const tags = value.split(",").filter((tag) => tag !== "");
    if (tags.length > 0) distinct.set(JSON.stringify(tags), tags);
  }
  if (distinct.size === 0) throw new MistError("missing_tags");
  if (distinct.size > limits.maxSubscriptions) {
    throw new MistError("too_many_subscriptions");
  }
  for (const tags of distinct.values()) {
    checkTags(tags, limits, { command: "subscribe" });
  }
  return [...distinct.values()];
}

/**
 * Opens an event stream for a connection holding the given subscriptions,
 * each made through the `subscribe` command.
 *
 * @param subscriptions what to subscribe to
 * @param server the server's side
 * @param info where the connection comes from
 * @param principal who subscribes
 * @returns the streaming response
 * @throws {MistError} `forbidden` for tags not granted (before anything is sent)
 */
export function serveEvents(
  subscriptions: readonly string[][],
  server: ServerPort,
  info: ConnectionInfo,
  principal: Principal,
): Response {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let resume: (() => void) | undefined;
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
    },
    pull() {
      resume?.();
      resume = undefined;
    },
    cancel() {
      connection.close();
    },
  }, new ByteLengthQueuingStrategy({ highWaterMark: STREAM_HIGH_WATER_BYTES }));

  const keepAlive = setInterval(() => {
    // A stalled client gets no comments either: they would only pile up.
    if ((controller.desiredSize ?? 0) > 0) {
      controller.enqueue(encoder.encode(": keep-alive\n\n"));
    }
  }, server.settings.keepAliveMs);
  const outlet: Outlet = {
    write(frames: readonly Frame[]): void | Promise<void> {
      return writeEvents(frames, 0);
    },
    close() {
      clearInterval(keepAlive);
      resume?.();
      try {
        controller.close();
      } catch {
        // Cancelled by the client already.
      }
    },
  };
  /**
   * Enqueues the events of frames from `from` on, a chunk of at most
   * {@linkcode EVENT_CHUNK_CHARS} at a time, waiting for the stream to want
   * more between chunks: a client that stops reading holds the frames it
   * shares with others plus about one chunk, never a copy of its queue.
   */
  function writeEvents(
    frames: readonly Frame[],
    from: number,
  ): void | Promise<void> {
    let i = from;
    while (i < frames.length) {
      let text = "";
      while (i < frames.length && text.length < EVENT_CHUNK_CHARS) {
        text += `data: ${frames[i++]!.text}\n\n`;
      }
      controller.enqueue(encoder.encode(text));
      if ((controller.desiredSize ?? 0) <= 0) {
        const rest = i;
        return new Promise<void>((resolve) => resume = resolve).then(() =>
          connection.isClosed ? undefined : writeEvents(frames, rest)
        );
      }
    }
  }
  const connection = server.open(outlet, info, { principal });
  try {
    for (const tags of subscriptions) {
      connection.run({ command: "subscribe", tags });
    }
  } catch (err) {
    connection.close();
    throw err;
  }
  controller.enqueue(encoder.encode(": subscribed\n\n"));
  return new Response(body, {
    headers: {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache",
      "x-accel-buffering": "no",
    },
  });
}
