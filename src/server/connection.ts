/**
 * One connected client: who it is, its outbound queue, and the frames it sends.
 *
 * A listener adapts its transport to an {@linkcode Outlet} and hands each frame
 * it reads to {@linkcode Connection.receive}; the connection decodes it, runs
 * the command's handler (the command table of `commands.ts`) and queues the
 * reply. Deliveries from the broker land in the same queue, which one flush per
 * event-loop turn writes to the outlet.
 *
 * @module
 */

import { getLogger } from "npm:@logtape/logtape@^2.4.2";
import { limitedLog } from "../_util/rate_limit.ts";
import { errorText } from "../_util/text.ts";
import type { Broker } from "../core/broker.ts";
import { maySubscribe, type Principal } from "../core/principal.ts";
import { canonicalPublish } from "../protocol/canonical.ts";
import {
  type CommandRequest,
  decode,
  encode,
  errorReply,
  type Frame,
  type Limits,
  type Message,
} from "../protocol/codec.ts";
import {
  type ErrorCode,
  type ErrorContext,
  MistError,
} from "../protocol/errors.ts";
import type { Access } from "./access.ts";
import { type SubscriptionBudget, subscriptionBytes } from "./budget.ts";
import { replyLevel } from "./log_policy.ts";
import { Outbox } from "./outbox.ts";
import type { ConnectionInfo, OpenOptions, Outlet } from "./transport.ts";

const log = getLogger(["mist", "connection"]);

/**
 * A command's implementation: returns its reply, or nothing for none. Throw a
 * {@linkcode MistError} for an error reply.
 */
export type CommandHandler = (
  connection: Connection,
  request: CommandRequest,
) => Message | void | Promise<Message | void>;

/** What a connection needs from the server it belongs to. */
export interface ConnectionHost {
  /** The broker every connection of the server shares. */
  readonly broker: Broker<Connection>;
  /** Access control: principals, grants. */
  readonly access: Access;
  /** What the subscriptions of every connection cost. */
  readonly budget: SubscriptionBudget<Connection>;
  /** The size limits of frames and subscriptions. */
  readonly limits: Limits;
  /** The capacity of each connection's outbound queue, in bytes. */
  readonly queueBytes: number;
  /** The command table. */
  readonly commands: ReadonlyMap<string, CommandHandler>;
  /** Error replies sent, by code: one field per code, made once. */
  readonly errors: Record<ErrorCode, number>;
  /** Forgets a closed connection. */
  release(connection: Connection): void;
}

let nextId = 1;

/**
 * One connected client.
 *
 * Requests are handled in the order they arrive: a listener awaits the promise
 * {@linkcode Connection.receive} may return before it hands over the next frame.
 */
export class Connection {
  /** A number unique within the process, for logs. */
  readonly id: number = nextId++;
  /** Where the connection comes from. */
  readonly info: ConnectionInfo;
  /** Whether what it publishes stays on this node (see {@linkcode OpenOptions.local}). */
  readonly local: boolean;
  /** Whether the transport presented a token when it connected. */
  readonly presented: boolean;
  readonly #host: ConnectionHost;
  readonly #outbox: Outbox;
  readonly #counted: boolean;
  #principal: Principal;
  #requests = 0;
  /** Grows with every frame received and every message queued: what `idle-timeout` watches. */
  activity = 0;
  /** Whether TRACE is on, read once: asking LogTape per command costs 4 %. */
  readonly #trace = log.isEnabledFor("trace");
  #isClosed = false;
  /** Made when someone first waits for the close: most connections have no one. */
  #closed: PromiseWithResolvers<void> | undefined;

  /**
   * Opens a connection; listeners get one from `ServerPort.open`.
   *
   * @param host the server
   * @param outlet the transport to write to
   * @param info where the connection comes from
   * @param options its principal and kind
   */
  constructor(
    host: ConnectionHost,
    outlet: Outlet,
    info: ConnectionInfo,
    options: OpenOptions = {},
  ) {
    this.#host = host;
    this.info = info;
    this.local = options.local ?? false;
    this.#outbox = new Outbox(outlet, {
      id: this.id,
      capacity: host.queueBytes,
      stats: info.stats,
      failed: this,
    });
    this.presented = options.principal !== undefined;
    this.#principal = options.principal ?? host.access.unidentified;
    this.#follow();
    this.#counted = !options.internal;
    if (this.#counted) {
      info.stats.connections++;
      info.stats.accepted++;
      log.debug("{listener} connection {id} opened from {remote}", {
        listener: info.listener,
        id: this.id,
        remote: info.remote,
      });
    }
  }

  /** Resolves once the connection has closed. */
  get closed(): Promise<void> {
    if (this.#isClosed) return Promise.resolve();
    this.#closed ??= Promise.withResolvers();
    return this.#closed.promise;
  }

  /** Whether the connection has closed. */
  get isClosed(): boolean {
    return this.#isClosed;
  }

  /** How many requests it has made (the one being handled included). */
  get requests(): number {
    return this.#requests;
  }

  /** Bytes queued or being written now. */
  get queuedBytes(): number {
    return this.#outbox.bytes;
  }

  /** The most bytes its queue ever held. */
  get peakQueuedBytes(): number {
    return this.#outbox.peak;
  }

  // ---- requests -----------------------------------------------------------

  /**
   * Handles one frame read from the client: decodes it, runs its command and
   * queues the reply.
   *
   * This is the one flow-control question between a listener and the server:
   * a returned promise means "read nothing more until it settles", because a
   * command is still running (an authenticator call) or because the client
   * does not read its replies and its outbound queue is full.
   *
   * @param input the frame's text or UTF-8 bytes
   * @returns a promise to await before the next frame, or nothing
   */
  receive(input: string | Uint8Array): void | Promise<void> {
    this.activity++;
    let request: CommandRequest;
    try {
      request = (typeof input !== "string" &&
        canonicalPublish(input, this.#host.limits)) ||
        decode(input, this.#host.limits);
    } catch (err) {
      return this.refuse(err);
    }
    this.#requests++;
    if (this.#trace) {
      log.trace("{listener} connection {id} command {command}", {
        listener: this.info.listener,
        id: this.id,
        command: request.command,
      });
    }
    let result: Message | void | Promise<Message | void>;
    try {
      result = this.run(request);
    } catch (err) {
      this.#fail(err, request);
      return this.#paused();
    }
    if (result instanceof Promise) {
      return result.then(
        (reply) => this.#answer(request, reply),
        (err) => this.#fail(err, request),
      ).then(() => this.#paused());
    }
    this.#answer(request, result);
    return this.#paused();
  }

  /**
   * Runs a request as this connection, through the command table: what
   * {@linkcode Connection.receive} does once a frame is decoded, for requests
   * that do not arrive as frames (an SSE subscription, a `POST /publish`
   * body, a custom command composing others).
   *
   * @param request a validated request
   * @returns the command's reply, if it has one
   * @throws {MistError} `Unknown Command`, and whatever the command throws
   */
  run(request: CommandRequest): Message | void | Promise<Message | void> {
    const handler = this.#host.commands.get(request.command);
    if (handler === undefined) throw new MistError("unknown_command");
    return handler(this, request);
  }

  /**
   * Answers a frame that could not be read (too large, binary, not JSON).
   *
   * @param error why
   * @returns as {@linkcode Connection.receive}
   */
  refuse(error: unknown): void | Promise<void> {
    this.#fail(error, { command: "" });
    return this.#paused();
  }

  #answer(request: CommandRequest, reply: Message | void): void {
    if (reply !== undefined) {
      if (request.id !== undefined) reply.id = request.id;
      this.send(reply);
    } else if (request.id !== undefined) {
      this.send({
        command: request.command,
        id: request.id,
        tags: request.tags ?? [],
        data: "ok",
      });
    }
  }

  #fail(err: unknown, request: ErrorContext): void {
    if (!(err instanceof MistError)) {
      log.error("{listener} connection {id}: {command} failed: {error}", {
        listener: this.info.listener,
        id: this.id,
        command: request.command,
        error: err,
      });
      err = new MistError("internal");
    }
    const error = err as MistError;
    this.#host.errors[error.code]++;
    const context = error.context ?? request;
    limitedLog(
      log,
      replyLevel(error.code),
      `reply:${error.code}`,
      "{listener} connection {id}: error reply to {command}: {error}",
      {
        listener: this.info.listener,
        id: this.id,
        command: context.command === "" ? "(unreadable)" : context.command,
        error: error.message,
      },
      this.id,
    );
    this.send(errorReply(error, context));
  }

  /** A promise while the client does not read its replies, else nothing. */
  #paused(): void | Promise<void> {
    return this.#isClosed ? undefined : this.#outbox.writable();
  }

  // ---- who it is ----------------------------------------------------------

  /** Who this connection acts as. */
  get principal(): Principal {
    return this.#principal;
  }

  /**
   * Makes the connection act as a principal from now on (after `auth`).
   *
   * @param principal who it is now
   */
  adopt(principal: Principal): void {
    if (this.#isClosed) return;
    this.#unfollow();
    this.#principal = principal;
    this.#follow();
    log.debug("{listener} connection {id} authenticated as {kind}", {
      listener: this.info.listener,
      id: this.id,
      kind: principal.kind,
    });
  }

  /**
   * Replaces this connection's principal after its token's grants changed,
   * and drops the subscriptions that are no longer granted.
   *
   * @param principal the new principal
   */
  regrant(principal: Principal): void {
    this.#principal = principal;
    const revoked: string[][] = [];
    const removed = this.#host.broker.retain(this, (tags) => {
      if (maySubscribe(principal, tags)) return true;
      revoked.push(tags);
      return false;
    });
    // One notice per subscription lost (docs/protocol.md §4), so that a client
    // can tell a revoked subscription from a quiet one.
    for (const tags of revoked) {
      this.#host.budget.refund(this, subscriptionBytes(tags));
      this.send({ command: "revoked", tags });
    }
    if (removed > 0) {
      log.debug("{listener} connection {id} lost {removed} subscription(s)", {
        listener: this.info.listener,
        id: this.id,
        removed,
      });
    }
  }

  #follow(): void {
    if (this.#principal.kind === "token") {
      this.#host.access.track(this.#principal, this);
    }
  }

  #unfollow(): void {
    if (this.#principal.kind === "token") {
      this.#host.access.untrack(this.#principal.digest, this);
    }
  }

  // ---- output -------------------------------------------------------------

  /**
   * Queues a delivery, or drops it when the queue is full (docs/protocol.md §7).
   *
   * @param frame the shared frame of a published message
   */
  deliver(frame: Frame): void {
    if (this.#isClosed) return;
    this.activity++;
    if (this.#outbox.offer(frame)) {
      this.info.stats.delivered++;
    } else {
      this.info.stats.dropped++;
    }
  }

  /**
   * Queues a message for the client; never dropped (replies, notices).
   *
   * @param message the message
   */
  send(message: Message): void {
    if (this.#isClosed) return;
    this.activity++;
    this.#outbox.force(encode(message));
  }

  /**
   * Closes the connection after its outbox failed to write: what the
   * outbox calls, once.
   *
   * @param err the write's error
   */
  writeFailed(err: unknown): void {
    log.debug("{listener} connection {id}: write failed: {error}", {
      listener: this.info.listener,
      id: this.id,
      error: errorText(err),
    });
    this.close();
  }

  /**
   * Waits until everything queued has been written, or the time is up.
   *
   * @param timeoutMs the most time to wait
   * @returns whether the queue was emptied in time
   */
  drain(timeoutMs: number): Promise<boolean> {
    return this.#outbox.drain(timeoutMs);
  }

  /**
   * Closes the connection: removes its subscriptions and closes the
   * transport. Idempotent; does not wait for queued frames (see
   * {@linkcode Connection.drain}).
   */
  close(): void {
    if (this.#isClosed) return;
    this.#isClosed = true;
    this.#host.broker.remove(this);
    this.#host.budget.release(this);
    this.#unfollow();
    this.#host.release(this);
    if (this.#counted) this.info.stats.connections--;
    this.#outbox.close();
    if (this.#counted) {
      log.debug("{listener} connection {id} closed", {
        listener: this.info.listener,
        id: this.id,
      });
    }
    this.#closed?.resolve();
  }
}
