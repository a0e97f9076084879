/**
 * One connected client: its requests, its subscriptions and its outbound queue.
 *
 * A listener adapts its transport to an {@linkcode Outlet} and feeds the
 * session each frame it reads; the session decodes, dispatches through the
 * command table and queues replies and deliveries for the outlet.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import type { Access } from "./access.ts";
import {
  ANONYMOUS,
  checkGranted,
  isGranted,
  OPEN,
  type Principal,
} from "../core/principal.ts";
import type { Broker } from "../core/broker.ts";
import { OutboundQueue } from "../core/outbound_queue.ts";
import { type ErrorContext, MistError } from "../protocol/errors.ts";
import {
  decode,
  encode,
  errorReply,
  type Frame,
  type Limits,
  type Message,
  type Request,
} from "../protocol/codec.ts";

const log = getLogger(["mist", "session"]);

/** The transport side of a session: where its frames are written. */
export interface Outlet {
  /**
   * Writes frames, in order. The session calls it again only once the returned
   * promise (if any) settles; a rejection closes the session.
   */
  write(frames: readonly Frame[]): void | Promise<void>;
  /** Closes the transport. Called once, when the session closes. */
  close(): void;
}

/** A command's implementation: returns its reply, or nothing for none. */
export type CommandHandler = (
  session: Session,
  request: Request,
) => Message | void | Promise<Message | void>;

/** Counters of one listener, shared by its sessions. */
export interface ListenerStats {
  /** Connections open now. */
  connections: number;
  /** Connections accepted since start. */
  accepted: number;
  /** Messages published by this listener's clients. */
  received: number;
  /** Messages queued for this listener's clients. */
  delivered: number;
  /** Messages dropped because a client's queue was full. */
  dropped: number;
}

/** What a session needs from the server it belongs to. */
export interface SessionHost {
  /** The broker every session of the server shares. */
  readonly broker: Broker<Session>;
  /** The size limits of frames and subscriptions. */
  readonly limits: Limits;
  /** The capacity of each session's outbound queue, in bytes. */
  readonly queueBytes: number;
  /** The command table. */
  readonly commands: ReadonlyMap<string, CommandHandler>;
  /** Access control: principals, grants. */
  readonly access: Access;
  /** Routes a message published by a session. */
  route(from: Session, tags: readonly string[], data: string): void;
  /** Forgets a closed session. */
  release(session: Session): void;
}

/** Where a session comes from, for logs. */
export interface SessionInfo {
  /** The address of the listener that accepted it, e.g. `tcp://127.0.0.1:1445`. */
  readonly listener: string;
  /** The client's address. */
  readonly remote: string;
  /** The listener's counters. */
  readonly stats: ListenerStats;
}

let nextId = 1;

/**
 * One connected client.
 *
 * Requests are handled in the order they arrive; the listener awaits the
 * promise {@linkcode Session.handle} returns for a command that needs I/O.
 */
export class Session {
  /** A number unique within the process, for logs. */
  readonly id: number = nextId++;
  /** Where the session comes from. */
  readonly info: SessionInfo;
  readonly #host: SessionHost;
  readonly #outlet: Outlet;
  readonly #queue: OutboundQueue<Frame>;
  #principal: Principal;
  /** Whether the transport presented a token when it connected. */
  readonly #presented: boolean;
  #commands = 0;
  #flushing = false;
  #isClosed = false;
  #writable: PromiseWithResolvers<void> | undefined;
  #idle: PromiseWithResolvers<void> | undefined;
  readonly #closed = Promise.withResolvers<void>();

  /**
   * Opens a session; listeners get one from {@linkcode ListenerContext.open}.
   *
   * @param host the server
   * @param outlet the transport to write to
   * @param info where the session comes from
   * @param presented the principal of a token the transport presented when it
   *   connected (HTTP header or query parameter); without one the session
   *   starts anonymous (or open, while authentication is off)
   */
  constructor(
    host: SessionHost,
    outlet: Outlet,
    info: SessionInfo,
    presented?: Principal,
  ) {
    this.#host = host;
    this.#outlet = outlet;
    this.info = info;
    this.#queue = new OutboundQueue(host.queueBytes);
    this.#presented = presented !== undefined;
    this.#principal = presented ?? (host.access.enabled ? ANONYMOUS : OPEN);
    this.#follow();
    info.stats.connections++;
    info.stats.accepted++;
    log.debug("{listener} session {id} opened from {remote}", {
      listener: info.listener,
      id: this.id,
      remote: info.remote,
    });
  }

  /** Resolves once the session has closed. */
  get closed(): Promise<void> {
    return this.#closed.promise;
  }

  /** Whether the session has closed. */
  get isClosed(): boolean {
    return this.#isClosed;
  }

  /** Bytes queued or being written now. */
  get queuedBytes(): number {
    return this.#queue.bytes;
  }

  /** The most bytes its queue ever held. */
  get peakQueuedBytes(): number {
    return this.#queue.peak;
  }

  /**
   * Whether replies the client asked for but does not read have filled twice
   * the queue's capacity: a transport that cannot stop reading requests
   * (WebSocket) should drop such a client.
   */
  get overloaded(): boolean {
    return this.#queue.bytes > 2 * this.#queue.capacity;
  }

  /**
   * Whether the outbound queue is full: the listener should wait for
   * {@linkcode Session.writable} before reading the next request.
   */
  get congested(): boolean {
    return this.#queue.full && !this.#isClosed;
  }

  /** Resolves when the outbound queue has room again (or the session closed). */
  writable(): Promise<void> {
    if (!this.congested) return Promise.resolve();
    this.#writable ??= Promise.withResolvers();
    return this.#writable.promise;
  }

  // ---- requests -----------------------------------------------------------

  /**
   * Handles one frame read from the client.
   *
   * @param input the frame's text or UTF-8 bytes
   * @returns a promise when the command needs I/O; await it before the next frame
   */
  handle(input: string | Uint8Array): void | Promise<void> {
    let request: Request;
    try {
      request = decode(input, this.#host.limits);
    } catch (err) {
      this.#fail(err, { command: "" });
      return;
    }
    this.#commands++;
    log.trace("{listener} session {id} command {command}", {
      listener: this.info.listener,
      id: this.id,
      command: request.command,
    });
    const handler = this.#host.commands.get(request.command);
    if (handler === undefined) {
      this.#fail(new MistError("unknown_command"), request);
      return;
    }
    let result: Message | void | Promise<Message | void>;
    try {
      result = handler(this, request);
    } catch (err) {
      this.#fail(err, request);
      return;
    }
    if (result instanceof Promise) {
      return result.then(
        (reply) => this.#answer(request, reply),
        (err) => this.#fail(err, request),
      );
    }
    this.#answer(request, result);
  }

  /**
   * Answers a frame the transport could not read (too large, binary).
   *
   * @param error why
   */
  refuse(error: MistError): void {
    this.#fail(error, { command: "" });
  }

  #answer(request: Request, reply: Message | void): void {
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
      log.error("{listener} session {id}: {command} failed: {error}", {
        listener: this.info.listener,
        id: this.id,
        command: request.command,
        error: err,
      });
      err = new MistError("internal");
    }
    const error = err as MistError;
    const context = error.context ?? request;
    log.debug("{listener} session {id}: error reply to {command}: {error}", {
      listener: this.info.listener,
      id: this.id,
      command: context.command === "" ? "(unreadable)" : context.command,
      error: error.message,
    });
    this.send(errorReply(error, context));
  }

  // ---- who it is ----------------------------------------------------------

  /** Who this session acts as. */
  get principal(): Principal {
    return this.#principal;
  }

  /**
   * Authenticates with a token (the `auth` command). Ignored while
   * authentication is off.
   *
   * @param token the token sent
   * @throws {MistError} `auth must be the first command` unless this is the
   *   session's first command and no token was presented on connect;
   *   `invalid token` (the session stays anonymous); `authenticator unavailable`
   */
  async authenticate(token: string | undefined): Promise<void> {
    if (!this.#host.access.enabled) return;
    if (this.#commands > 1 || this.#presented) {
      throw new MistError("auth_not_first");
    }
    if (token === undefined) throw new MistError("invalid_token");
    const principal = await this.#host.access.principal(token);
    if (this.#isClosed) return;
    this.#principal = principal;
    this.#follow();
    log.debug("{listener} session {id} authenticated as {kind}", {
      listener: this.info.listener,
      id: this.id,
      kind: principal.kind,
    });
  }

  /**
   * Replaces this session's principal after its token's grants changed, and
   * drops the subscriptions that are no longer granted.
   *
   * @param principal the new principal
   */
  regrant(principal: Principal): void {
    this.#principal = principal;
    const removed = this.#host.broker.retain(
      this,
      (tags) => isGranted(principal, tags),
    );
    if (removed > 0) {
      log.debug("{listener} session {id} lost {removed} subscription(s)", {
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

  // ---- what commands do ---------------------------------------------------

  /**
   * Adds a subscription for this session.
   *
   * @param tags the subscription's tags
   * @returns whether it is new
   * @throws {MistError} `forbidden` for tags not granted; `too many subscriptions`
   */
  subscribe(tags: readonly string[]): boolean {
    checkGranted(this.#principal, tags);
    return this.#host.broker.subscribe(
      this,
      tags,
      this.#host.limits.maxSubscriptions,
    );
  }

  /**
   * Removes the subscription whose tag set equals these tags.
   *
   * @param tags the subscription's tags
   * @returns whether it existed
   */
  unsubscribe(tags: readonly string[]): boolean {
    return this.#host.broker.unsubscribe(this, tags);
  }

  /**
   * This session's subscriptions.
   *
   * @returns each as a sorted tag array, the list sorted
   */
  subscriptions(): string[][] {
    return this.#host.broker.subscriptions(this);
  }

  /**
   * Publishes a message from this session: every other session with a
   * matching subscription receives it.
   *
   * @param tags the message's tags
   * @param data the payload
   * @throws {MistError} `forbidden` for tags not granted
   */
  publish(tags: readonly string[], data: string): void {
    checkGranted(this.#principal, tags);
    this.info.stats.received++;
    this.#host.route(this, tags, data);
  }

  // ---- output -------------------------------------------------------------

  /**
   * Queues a delivery, or drops it when the queue is full (PROTOCOL.md §7).
   *
   * @param frame the shared frame of a published message
   */
  deliver(frame: Frame): void {
    if (this.#isClosed) return;
    if (this.#queue.offer(frame)) {
      this.info.stats.delivered++;
    } else {
      this.info.stats.dropped++;
    }
    this.#schedule();
  }

  /**
   * Queues a message for the client; never dropped (replies, notices).
   *
   * @param message the message
   */
  send(message: Message): void {
    if (this.#isClosed) return;
    this.#queue.force(encode(message));
    this.#schedule();
  }

  #schedule(): void {
    if (this.#flushing) return;
    this.#flushing = true;
    queueMicrotask(() => this.#flush());
  }

  async #flush(): Promise<void> {
    try {
      while (!this.#isClosed) {
        const dropped = this.#queue.takeDropped();
        if (dropped > 0) {
          this.#queue.force(encode({ command: "dropped", data: `${dropped}` }));
        }
        if (!this.#queue.pending) break;
        const frames = this.#queue.take();
        let bytes = 0;
        for (const frame of frames) bytes += frame.size;
        const written = this.#outlet.write(frames);
        if (written !== undefined) await written;
        this.#queue.release(bytes);
        if (this.#writable !== undefined && !this.#queue.full) {
          this.#writable.resolve();
          this.#writable = undefined;
        }
      }
    } catch (err) {
      log.debug("{listener} session {id}: write failed: {error}", {
        listener: this.info.listener,
        id: this.id,
        error: err instanceof Error ? err.message : String(err),
      });
      this.close();
    } finally {
      this.#flushing = false;
      this.#idle?.resolve();
      this.#idle = undefined;
    }
  }

  /**
   * Waits until everything queued has been written, or the time is up.
   *
   * @param timeoutMs the most time to wait
   * @returns whether the queue was emptied in time
   */
  async drain(timeoutMs: number): Promise<boolean> {
    if (!this.#flushing || this.#isClosed) return !this.#queue.pending;
    this.#idle ??= Promise.withResolvers();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
    });
    try {
      await Promise.race([this.#idle.promise, timeout]);
    } finally {
      clearTimeout(timer);
    }
    return !this.#flushing;
  }

  /**
   * Closes the session: removes its subscriptions and closes the transport.
   * Idempotent; does not wait for queued frames (see {@linkcode Session.drain}).
   */
  close(): void {
    if (this.#isClosed) return;
    this.#isClosed = true;
    this.#host.broker.remove(this);
    if (this.#principal.kind === "token") {
      this.#host.access.untrack(this.#principal.digest, this);
    }
    this.#host.release(this);
    this.info.stats.connections--;
    this.#writable?.resolve();
    this.#idle?.resolve();
    try {
      this.#outlet.close();
    } catch {
      // Already closed by the peer.
    }
    log.debug("{listener} session {id} closed", {
      listener: this.info.listener,
      id: this.id,
    });
    this.#closed.resolve();
  }
}
