/**
 * One thread of `mist bench`'s clients, started by `bench.ts` in a Worker.
 * It opens its connections with raw sockets (WebSocket too: `bench_ws.ts`)
 * and speaks the wire protocol from pre-encoded messages: subscribers count lines (or frames) and parse
 * only the timestamp the publisher put in the payload; the publisher paces
 * itself on ping round trips. `protocol: "resp"` speaks Redis's
 * SUBSCRIBE/PUBLISH instead, for `bench:compare`.
 *
 * Messages: `{ type: "start", job }` in, then `ready`, `progress`, `done`
 * out; `go` starts publishing, `stop` ends a subscriber (each connection
 * pings, so everything sent before has arrived when it reports).
 *
 * @module
 */

import {
  batchOf,
  Counts,
  encoder,
  type Job,
  openWire,
  pingFrame,
  type Report,
  resp,
  STAMP,
  stampText,
  type Wire,
} from "./bench_wire.ts";

export type { Job, Report };

/** Messages between two pings of the publisher, and pings it keeps in flight. */
const BATCH = 128;
const WINDOW = 8;
/** The most publishes the publisher runs ahead of the slowest subscriber. */
const AHEAD = 4096;
/** A subscriber this long without progress is given up on (its lag is loss). */
const STALL_MS = 250;

/**
 * Waits until every subscriber worker is at most AHEAD publishes behind;
 * one that makes no progress for STALL_MS is forgiven what it lacks.
 */
async function keepPace(job: Job, sent: number, forgiven: number[]) {
  const view = new BigInt64Array(job.progress);
  let last = -1;
  let since = performance.now();
  for (;;) {
    let worst = 0;
    let total = 0;
    for (let w = 0; w < job.shares.length; w++) {
      const received = Number(Atomics.load(view, w));
      total += received;
      const behind = sent - received / job.shares[w]! - forgiven[w]!;
      if (behind > worst) worst = behind;
    }
    if (worst <= AHEAD) return;
    if (total !== last) {
      last = total;
      since = performance.now();
    } else if (performance.now() - since > STALL_MS) {
      for (let w = 0; w < job.shares.length; w++) {
        const received = Number(Atomics.load(view, w));
        forgiven[w] = Math.max(forgiven[w]!, sent - received / job.shares[w]!);
      }
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}
/**
 * The message of each publish tag, as bytes, with the stamp's offset. The
 * payload is `@STAMP@xxx…`.
 */
function templates(job: Job): { bytes: Uint8Array; at: number }[] {
  const filler = "x".repeat(Math.max(0, job.payloadBytes - STAMP - 2));
  const data = `@${"0".repeat(STAMP)}@${filler}`;
  return job.publishTags.map((tag) => {
    const text = job.protocol === "resp"
      ? resp(["PUBLISH", tag, data])
      : JSON.stringify({ command: "publish", tags: [tag], data }) + "\n";
    return { bytes: encoder.encode(text), at: text.indexOf("@") + 1 };
  });
}

async function publish(job: Job, wire: Wire, counts: Counts): Promise<void> {
  const forms = templates(job);
  const pingBytes = encoder.encode(pingFrame(job.protocol));
  const start = performance.now();
  const end = start + job.durationMs;
  let pings = 0;
  const forgiven = job.shares.map(() => 0);
  let unpinged = 0;
  let next = 0;
  for (let last = false; !last;) {
    last = performance.now() >= end;
    let count = last ? 0 : BATCH;
    if (job.rate > 0 && !last) {
      const due = Math.floor((performance.now() - start) * job.rate / 1000) -
        counts.sent;
      if (due <= 0) {
        await new Promise((resolve) => setTimeout(resolve, 1));
        continue;
      }
      count = Math.min(BATCH, due);
    }
    // A ping only every BATCH messages (and after the last): it paces the
    // publisher without sitting between a publish and its delivery.
    unpinged += count;
    const withPing = unpinged >= BATCH || (last && unpinged > 0) ||
      (last && pings === 0);
    if (withPing) {
      unpinged = 0;
      pings++;
    }
    const stamp = stampText();
    const picked: number[] = [];
    let size = withPing ? pingBytes.length : 0;
    for (let i = 0; i < count; i++) {
      picked.push(next);
      size += forms[next]!.bytes.length;
      next = (next + 1) % forms.length;
    }
    const batch = new Uint8Array(size);
    const ends: number[] = [];
    let pos = 0;
    for (const k of picked) {
      const { bytes, at } = forms[k]!;
      batch.set(bytes, pos);
      encoder.encodeInto(stamp, batch.subarray(pos + at));
      ends.push(pos += bytes.length);
    }
    if (withPing) {
      batch.set(pingBytes, pos);
      ends.push(size);
    }
    if (size > 0) await wire.write(batch, ends);
    counts.sent += count;
    await keepPace(job, counts.sent, forgiven);
    // At most WINDOW pings in flight: the server has taken the rest.
    await counts.until(() => counts.pongs >= pings - WINDOW, 30_000, "pongs");
  }
  await counts.until(() => counts.pongs >= pings, 30_000, "the last pong");
}

async function subscribe(
  job: Job,
  counts: Counts,
): Promise<Wire[]> {
  const wires: Wire[] = [];
  const ping = pingFrame(job.protocol);
  // Open in slices, so a large idle run does not flood the accept queue.
  for (let i = 0; i < job.subscriptions.length; i += 50) {
    const slice = job.subscriptions.slice(i, i + 50);
    const opened = await Promise.all(slice.map(() => openWire(job, counts)));
    opened.forEach((wire, k) => {
      const tags = slice[k]!;
      const frames = tags.map((tag) =>
        job.protocol === "resp"
          ? resp(["SUBSCRIBE", tag])
          : JSON.stringify({ command: "subscribe", tags: [tag] }) + "\n"
      );
      frames.push(ping);
      wire.write(...batchOf(frames)).catch(() => {});
    });
    wires.push(...opened);
  }
  await counts.until(
    () => counts.pongs >= wires.length,
    60_000,
    "every subscriber's pong",
  );
  return wires;
}

let job: Job | undefined;
let wires: Wire[] = [];
let counts = new Counts(1);
let progress: ReturnType<typeof setInterval> | undefined;
// Every run stops by itself, told or not.
let deadline: ReturnType<typeof setTimeout> | undefined;

/** The worker's global scope (the project's types are the main thread's). */
const scope = self as unknown as {
  postMessage(report: Report): void;
  onmessage: ((event: MessageEvent) => void) | null;
  close(): void;
};

function post(report: Report): void {
  scope.postMessage(report);
}

function finish(answered: number): void {
  clearInterval(progress);
  clearTimeout(deadline);
  for (const wire of wires) wire.close();
  post({
    type: "done",
    sent: counts.sent,
    received: counts.received,
    dropped: counts.dropped,
    answered,
    histogram: counts.histogram.entries(),
    max: counts.histogram.max,
  });
  scope.close();
}

async function stop(): Promise<void> {
  const before = counts.pongs;
  const [ping, ends] = batchOf([pingFrame(job!.protocol)]);
  for (const wire of wires) wire.write(ping, ends).catch(() => {});
  try {
    await counts.until(
      () => counts.pongs >= before + wires.length,
      10_000,
      "final pongs",
    );
  } catch {
    // Report how many answered.
  }
  finish(counts.pongs - before);
}

scope.onmessage = async (event: MessageEvent) => {
  const message = event.data as { type: string; job?: Job };
  try {
    if (message.type === "start") {
      job = message.job!;
      counts = new Counts(job.sampleEvery);
      if (job.role === "subscribe") {
        counts.shared = {
          view: new BigInt64Array(job.progress),
          slot: job.slot,
        };
      }
      deadline = setTimeout(() => finish(0), job.durationMs + 120_000);
      if (job.role === "subscribe") {
        wires = await subscribe(job, counts);
      } else {
        wires = [await openWire(job, counts)];
      }
      post({ type: "ready", wsLines: wires[0]?.lines ?? false });
      progress = setInterval(() =>
        post({
          type: "progress",
          sent: counts.sent,
          received: counts.received,
          dropped: counts.dropped,
        }), 250);
    } else if (message.type === "go" && job?.role === "publish") {
      await publish(job, wires[0]!, counts);
      finish(1);
    } else if (message.type === "stop") {
      await stop();
    }
  } catch (err) {
    post({
      type: "error",
      message: err instanceof Error ? err.message : String(err),
    });
    clearInterval(progress);
    clearTimeout(deadline);
    for (const wire of wires) wire.close();
    scope.close();
  }
};
