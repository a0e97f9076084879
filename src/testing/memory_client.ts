/**
 * A client connected to a server in memory, with no socket: for unit tests of
 * commands, permissions and custom commands, and for benchmarks.
 *
 * @module
 */

import type { Message } from "../protocol/codec.ts";
import type { Connection } from "../server/connection.ts";
import type { ServerPort } from "../server/port.ts";
import { newStats, type OpenOptions } from "../server/transport.ts";
import { abortable } from "../_util/deadline.ts";

/**
 * One connection opened on a server through {@linkcode ServerPort.open}: what
 * it is sent goes through {@linkcode Connection.receive}, as a listener would
 * hand it a frame; what the server writes is parsed into
 * {@linkcode MemoryClient.received}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MistServer } from "../server/server.ts";
 * import { MemoryClient } from "./memory_client.ts";
 * await using server = new MistServer();
 * await using client = new MemoryClient(server);
 * await client.send({ command: "ping" });
 * assert.deepEqual(await client.next(), { command: "ping", tags: [], data: "pong" });
 * ```
 */
export class MemoryClient implements AsyncDisposable {
  /** The server side of the connection. */
  readonly connection: Connection;
  /** Every message the server wrote that {@linkcode MemoryClient.next} has not taken. */
  readonly received: Message[] = [];
  #waiter: (() => void) | undefined;

  /**
   * Opens a connection on a server.
   *
   * @param server the server to connect to
   * @param options the principal presented on connect, if any
   */
  constructor(server: ServerPort, options?: OpenOptions) {
    const outlet = {
      write: (frames: readonly { text: string }[]) => {
        for (const frame of frames) this.received.push(JSON.parse(frame.text));
        this.#waiter?.();
      },
      close: () => this.#waiter?.(),
    };
    const info = { listener: "memory", remote: "memory", stats: newStats() };
    this.connection = server.open(outlet, info, options);
  }

  /**
   * Sends one frame, as a listener hands it over, and waits until the server
   * is ready for the next.
   *
   * @param message a message, or raw text
   */
  async send(message: object | string): Promise<void> {
    const text = typeof message === "string"
      ? message
      : JSON.stringify(message);
    await this.connection.receive(text);
  }

  /**
   * The next message the server wrote.
   *
   * @param timeoutMs how long to wait before failing (only to avoid hangs)
   * @returns the message
   * @throws {Error} when none arrives in time or the connection closed
   */
  async next(timeoutMs = 10_000): Promise<Message> {
    const deadline = AbortSignal.timeout(timeoutMs);
    while (this.received.length === 0) {
      if (this.connection.isClosed) throw new Error("connection closed");
      const arrived = new Promise<void>((resolve) => this.#waiter = resolve);
      await abortable(arrived, deadline);
    }
    return this.received.shift()!;
  }

  /**
   * Waits until everything the server queued has been written.
   *
   * @returns whether it was, within a second
   */
  flushed(): Promise<boolean> {
    return this.connection.drain(1000);
  }

  /** Closes the connection. */
  close(): void {
    this.connection.close();
  }

  /** Closes the connection (`await using`). */
  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }
}
