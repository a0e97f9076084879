/**
 * What a connection owes its client: the bounded outbound queue and its flush
 * to the transport, one write per event-loop turn (docs/protocol.md §7).
 *
 * @module
 */

import { getLogger } from "npm:@logtape/logtape@^2.4.2";
import { settlesWithin } from "../_util/deadline.ts";
import { limitedLog } from "../_util/rate_limit.ts";
import { Slabs } from "../_util/slabs.ts";
import { checkCapacity, OutboundQueue } from "../core/outbound_queue.ts";
import { SLAB_BYTES } from "../protocol/canonical.ts";
import { encode, type Frame } from "../protocol/codec.ts";
import type { ListenerStats, Outlet } from "./transport.ts";

const log = getLogger(["mist", "connection"]);

/** One flush in this many, per connection, is timed for `mist_flush_seconds`. */
export const TIMED_FLUSH_EVERY = 16;
const TIMED_FLUSH_MASK = TIMED_FLUSH_EVERY - 1;
/** After this many flushes a connection keeps its queue between flushes. */
const QUEUE_KEPT_AFTER = 16;
/**
 * A queue may keep alive this much of the slabs its lines were cut from
 * beyond four times its own bytes. Past that it holds few lines of many
 * slabs (a subscriber of a sparse tag that reads slowly, or not at all), and
 * the lines it holds are copied to its own backlog: a subscriber that keeps
 * up, or of most of what is published, copies nothing.
 */
export const SLAB_SLACK_BYTES = 1024 * 1024;
/** The backlog is made of chunks of this size; a larger line gets its own. */
const BACKLOG_CHUNK_BYTES = 32 * 1024;

/** Who hears of a failed write: the connection, in the server. */
export interface WriteFailure {
  /** Called once, with the write's error. */
  writeFailed(error: unknown): void;
}

/** How an {@linkcode Outbox} is set up. */
export interface OutboxOptions {
  /** The connection's id: its drops are logged apart from the others'. */
  id?: number;
  /** The queue's capacity in bytes. */
  capacity: number;
  /**
   * Told once when a write fails (the outbox is then useless): an object
   * rather than a callback, so that a connection need not hold a closure.
   */
  failed: WriteFailure;
  /** The listener's counters: bytes sent and flush times go there. */
  stats: ListenerStats;
}

/**
 * A connection's outbound queue, flushed to its outlet.
 *
 * Deliveries are offered (dropped when the queue is full, with one `dropped`
 * notice once it has drained below half); replies and notices are forced.
 * Frames stay counted until the outlet has written them.
 */
export class Outbox {
  readonly #outlet: Outlet;
  readonly #id: number | undefined;
  readonly #capacity: number;
  /**
   * Made with the first frame and, for the first few flushes, let go once
   * it is written: an idle subscriber (the most common connection of all)
   * holds none.
   */
  #queue: OutboundQueue<Frame> | undefined;
  /** The peak of the queues let go. */
  #peak = 0;
  /** Flushes written, to time one in {@linkcode TIMED_FLUSH_EVERY}. */
  #flushes = 0;
  readonly #failed: WriteFailure;
  readonly #stats: ListenerStats;
  #flushing = false;
  /** The frames being written. */
  #batch: readonly Frame[] | undefined;
  /**
   * How many slabs the frames being written, and those waiting, were cut
   * from (about), and the slab of the last one queued.
   */
  #batchSlabs = 0;
  #waitingSlabs = 0;
  #lastSlab = 0;
  /** Whether what it holds has been moved to the backlog, and what it queues is. */
  #thinned = false;
  /** Where lines are copied once thinned. */
  #backlog: Slabs | undefined;
  #closed = false;
  #writable: PromiseWithResolvers<void> | undefined;
  #idle: PromiseWithResolvers<void> | undefined;

  /**
   * @param outlet where frames are written
   * @param options its capacity, what a failed write calls, its counters
   */
  constructor(outlet: Outlet, options: OutboxOptions) {
    this.#outlet = outlet;
    this.#id = options.id;
    this.#capacity = checkCapacity(options.capacity);
    this.#failed = options.failed;
    this.#stats = options.stats;
  }

  /** Bytes queued or being written now. */
  get bytes(): number {
    return this.#queue?.bytes ?? 0;
  }

  /** The most bytes the queue ever held. */
  get peak(): number {
    return Math.max(this.#peak, this.#queue?.peak ?? 0);
  }

  /**
   * Queues a delivery if it fits.
   *
   * @param frame the shared frame of a published message
   * @returns whether it was queued (else it was dropped and counted)
   */
  offer(frame: Frame): boolean {
    const queued = this.#queued().offer(frame);
    if (queued) {
      if (this.#thinned) {
        this.#keep(frame);
      } else if (frame.slab !== this.#lastSlab && frame.slab !== 0) {
        this.#fromSlab(frame.slab);
      }
    }
    this.#schedule();
    return queued;
  }

  /**
   * Counts a frame cut from another slab than the frame queued before it:
   * frames come in the order of their slabs, so the changes count the slabs.
   */
  #fromSlab(slab: number): void {
    this.#lastSlab = slab;
    this.#waitingSlabs++;
    const slabs = this.#batchSlabs + this.#waitingSlabs;
    if (slabs * SLAB_BYTES > 4 * this.#queue!.bytes + SLAB_SLACK_BYTES) {
      this.#thin();
    }
  }

  /**
   * Moves every line it holds out of the slabs shared with other messages:
   * a stalled subscriber of one message in 25 kept all 260 MB of 2 million
   * publishes alive for a queue of 8 MB.
   */
  #thin(): void {
    this.#thinned = true;
    for (const frame of this.#batch ?? []) this.#keep(frame);
    for (const frame of this.#queue!.waiting) this.#keep(frame);
  }

  /**
   * Moves a frame's line to the backlog (a connection's own slabs), if it
   * is a view of a larger buffer.
   */
  #keep(frame: Frame): void {
    if (!frame.sharesBuffer) return;
    this.#backlog ??= new Slabs(BACKLOG_CHUNK_BYTES, BACKLOG_CHUNK_BYTES / 4);
    frame.moveTo(this.#backlog.take(frame.size));
  }

  /**
   * Queues a frame even past the capacity (replies, notices).
   *
   * @param frame the frame
   */
  force(frame: Frame): void {
    this.#queued().force(frame);
    this.#schedule();
  }

  /**
   * A promise while the queue is full, resolved once it has room again (or
   * the outbox closed); nothing when it has room now.
   *
   * @returns the promise, or nothing
   */
  writable(): void | Promise<void> {
    if (this.#queue === undefined || !this.#queue.full || this.#closed) {
      return;
    }
    this.#writable ??= Promise.withResolvers();
    return this.#writable.promise;
  }

  #queued(): OutboundQueue<Frame> {
    return this.#queue ??= new OutboundQueue(this.#capacity);
  }

  /**
   * Outboxes with frames to flush in this turn: one microtask flushes them
   * all, rather than a microtask and a closure per outbox (a read of 500
   * publishes to 500 subscribers made 500 of each).
   */
  static #due: Outbox[] = [];

  static #flushDue(): void {
    const due = Outbox.#due;
    // A flush may make another outbox due (a notice): it joins this round.
    for (let i = 0; i < due.length; i++) due[i]!.#flush();
    due.length = 0;
  }

  #schedule(): void {
    if (this.#flushing || this.#closed) return;
    this.#flushing = true;
    if (Outbox.#due.push(this) === 1) queueMicrotask(Outbox.#flushDue);
  }

  async #flush(): Promise<void> {
    const queue = this.#queued();
    try {
      while (!this.#closed) {
        const dropped = queue.takeDropped();
        if (dropped > 0) {
          queue.force(encode({ command: "dropped", data: `${dropped}` }));
          limitedLog(
            log,
            "info",
            "dropped",
            "A slow consumer missed {dropped} deliveries: its queue was full",
            { dropped },
            this.#id,
          );
        }
        if (!queue.pending) break;
        // Reading the clock for every write would cost a fan-out of 100 a
        // sixth of its time: one write in 16 is timed.
        const started = (this.#flushes++ & TIMED_FLUSH_MASK) === 0
          ? performance.now()
          : -1;
        const frames = queue.take();
        this.#batch = frames;
        this.#batchSlabs = this.#waitingSlabs;
        this.#waitingSlabs = 0;
        let bytes = 0;
        for (const frame of frames) bytes += frame.size;
        const written = this.#outlet.write(frames);
        if (written !== undefined) await written;
        this.#batch = undefined;
        this.#batchSlabs = 0;
        queue.release(bytes);
        this.#stats.bytesSent += bytes;
        if (started >= 0) {
          this.#stats.flushSeconds.observe(
            (performance.now() - started) / 1000,
          );
        }
        if (this.#writable !== undefined && !queue.full) {
          this.#writable.resolve();
          this.#writable = undefined;
        }
      }
    } catch (err) {
      this.#failed.writeFailed(err);
    } finally {
      this.#batch = undefined;
      this.#batchSlabs = this.#waitingSlabs = this.#lastSlab = 0;
      this.#thinned = false;
      this.#backlog = undefined;
      // A connection that has flushed only a few times (an idle subscriber,
      // its pong) holds no queue; a busy one keeps its own rather than make
      // one per flush.
      if (
        this.#flushes < QUEUE_KEPT_AFTER && queue.bytes === 0 && !queue.pending
      ) {
        if (queue.peak > this.#peak) this.#peak = queue.peak;
        this.#queue = undefined;
      }
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
    if (!this.#flushing || this.#closed) return !this.#queue?.pending;
    this.#idle ??= Promise.withResolvers();
    await settlesWithin(this.#idle.promise, timeoutMs);
    return !this.#flushing;
  }

  /** Stops writing and closes the outlet. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#writable?.resolve();
    this.#idle?.resolve();
    try {
      this.#outlet.close();
    } catch {
      // Already closed by the peer.
    }
  }
}
