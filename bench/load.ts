/**
 * End-to-end load over TCP: publishers on one node, subscribers on another
 * (or the same) node, for a fixed time; prints the messages per second the
 * subscribers received.
 *
 * ```sh
 * deno run -A bench/load.ts --pub tcp://127.0.0.1:1445 --sub tcp://127.0.0.1:1446 \
 *   --duration 10 --size 100
 * ```
 *
 * Publishers keep at most `--window` messages ahead of the slowest
 * subscriber, so the load measures what the path sustains instead of how
 * fast buffers fill; when nothing arrives for a while they go on anyway
 * (messages lost on the way do not stall the run).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { writeAll, writeAllSync } from "../src/_util/io.ts";

const encoder = new TextEncoder();

function print(text: string): void {
  writeAllSync(Deno.stdout, text + "\n");
}

const { values } = parseArgs({
  args: Deno.args,
  options: {
    pub: { type: "string", default: "tcp://127.0.0.1:1445" },
    sub: { type: "string" },
    duration: { type: "string", default: "10" },
    warmup: { type: "string", default: "2" },
    size: { type: "string", default: "100" },
    publishers: { type: "string", default: "1" },
    subscribers: { type: "string", default: "1" },
    window: { type: "string", default: "20000" },
    help: { type: "boolean", short: "h" },
  },
});

if (values.help) {
  print(`Usage: deno run -A bench/load.ts [flags]
  --pub URL          node the publishers connect to (default tcp://127.0.0.1:1445)
  --sub URL          node the subscribers connect to (default: --pub)
  --duration S       seconds measured (default 10)
  --warmup S         seconds run before measuring (default 2)
  --size BYTES       payload size (default 100)
  --publishers N     publisher connections (default 1)
  --subscribers N    subscriber connections (default 1)
  --window N         most messages ahead of the slowest subscriber (default 20000)`);
  Deno.exit(0);
}

function positive(name: string, text: string | undefined): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) {
    print(`load: --${name} must be a positive number, got ${text}`);
    Deno.exit(2);
  }
  return n;
}

const pubUrl = new URL(values.pub);
const subUrl = new URL(values.sub ?? values.pub);
const durationS = positive("duration", values.duration);
const warmupS = Number(values.warmup) || 0;
const size = Math.floor(positive("size", values.size));
const publisherCount = Math.floor(positive("publishers", values.publishers));
const subscriberCount = Math.floor(positive("subscribers", values.subscribers));
const window = Math.floor(positive("window", values.window));

async function connect(url: URL): Promise<Deno.TcpConn> {
  const conn = await Deno.connect({
    hostname: url.hostname.replace(/^\[(.*)\]$/, "$1"),
    port: Number(url.port),
  });
  conn.setNoDelay(true);
  return conn;
}

/** A subscriber counts lines: one line is one message. */
class Subscriber {
  received = 0;
  readonly conn: Deno.TcpConn;
  readonly done: Promise<void>;
  #ready = Promise.withResolvers<void>();

  constructor(conn: Deno.TcpConn) {
    this.conn = conn;
    this.done = this.#read();
  }

  async start(): Promise<void> {
    await writeAll(
      this.conn,
      encoder.encode(
        '{"command":"subscribe","tags":["bench"]}\n{"command":"ping","id":"ready"}\n',
      ),
    );
    await this.#ready.promise;
  }

  async #read(): Promise<void> {
    const buffer = new Uint8Array(256 * 1024);
    let ready = false;
    try {
      while (true) {
        const n = await this.conn.read(buffer);
        if (n === null) return;
        let lines = 0;
        for (let i = 0; i < n; i++) if (buffer[i] === 10) lines++;
        if (!ready) {
          // The first line is the answer to the ping.
          ready = true;
          lines--;
          this.#ready.resolve();
        }
        this.received += lines;
      }
    } catch {
      // Closed at the end of the run.
    }
  }
}

const line = encoder.encode(
  JSON.stringify({
    command: "publish",
    tags: ["bench"],
    data: "x".repeat(size),
  }) +
    "\n",
);
const perWrite = Math.max(
  1,
  Math.min(256, Math.floor(64 * 1024 / line.length)),
);
const chunk = new Uint8Array(line.length * perWrite);
for (let i = 0; i < perWrite; i++) chunk.set(line, i * line.length);

const subscribers: Subscriber[] = [];
for (let i = 0; i < subscriberCount; i++) {
  const subscriber = new Subscriber(await connect(subUrl));
  await subscriber.start();
  subscribers.push(subscriber);
}
const publishers = await Promise.all(
  Array.from({ length: publisherCount }, () => connect(pubUrl)),
);

let published = 0;
let running = true;
const slowest = () => Math.min(...subscribers.map((s) => s.received));

async function publishLoop(conn: Deno.TcpConn): Promise<void> {
  // Drain whatever the server might send a publisher (nothing, normally).
  const sink = (async () => {
    const buffer = new Uint8Array(16 * 1024);
    try {
      while ((await conn.read(buffer)) !== null);
    } catch {
      // Closed.
    }
  })();
  while (running) {
    let waited = 0;
    while (running && published - slowest() > window && waited < 200) {
      await new Promise((resolve) => setTimeout(resolve, 1));
      waited++;
    }
    await writeAll(conn, chunk);
    published += perWrite;
  }
  conn.close();
  await sink;
}

const loops = publishers.map((conn) => publishLoop(conn));
await new Promise((resolve) => setTimeout(resolve, warmupS * 1000));
const startPublished = published;
const startReceived = subscribers.map((s) => s.received);
const started = performance.now();
await new Promise((resolve) => setTimeout(resolve, durationS * 1000));
const elapsed = (performance.now() - started) / 1000;
const endPublished = published;
const endReceived = subscribers.map((s) => s.received);
running = false;
await Promise.all(loops);
// Let what is in flight arrive, then count what never did.
const settle = Date.now() + 3000;
while (Date.now() < settle && slowest() < published) {
  await new Promise((resolve) => setTimeout(resolve, 20));
}
const lost = subscribers.reduce((sum, s) => sum + (published - s.received), 0);
for (const subscriber of subscribers) subscriber.conn.close();
await Promise.all(subscribers.map((s) => s.done));

const rate = (n: number) => Math.round(n / elapsed).toLocaleString("en-US");
const delivered = endReceived.reduce(
  (sum, n, i) => sum + n - startReceived[i]!,
  0,
);
print(
  `publish on ${pubUrl.host} -> subscribe on ${subUrl.host}: ${size}-byte payloads, ` +
    `${publisherCount} publisher(s), ${subscriberCount} subscriber(s), ${
      elapsed.toFixed(1)
    } s measured`,
);
print(`published  ${rate(endPublished - startPublished)} msg/s`);
print(
  `delivered  ${rate(delivered)} msg/s to subscribers` +
    (subscriberCount > 1
      ? ` (${rate(delivered / subscriberCount)} per subscriber)`
      : ""),
);
print(
  `lost       ${lost.toLocaleString("en-US")} of ${
    (published * subscriberCount).toLocaleString("en-US")
  } over the whole run`,
);
