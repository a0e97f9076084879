/**
 * `GET /metrics` over real sockets (PROTOCOL.md §8): the text is valid
 * Prometheus exposition format 0.0.4, read by a real parser and held to the
 * format's line grammar; each series moves when it should; who may read it.
 */

import assert from "node:assert/strict";
import parsePrometheusTextFormat from "npm:parse-prometheus-text-format@1.1.1";
import { MemoryAuthenticator } from "../../src/auth/memory.ts";
import { MemoryBus } from "../../src/cluster/backplane_memory.ts";
import { type MistServer, serve } from "../../src/server/server.ts";
import {
  addressOf,
  allServer,
  eventually,
  fetchText,
  LineClient,
  post,
  WsClient,
} from "../_helpers.ts";

/** One metric family as the parser reads it. */
interface ParsedFamily {
  name: string;
  help: string;
  type: string;
  metrics: {
    labels?: Record<string, string>;
    value?: string;
    buckets?: Record<string, string>;
    count?: string;
    sum?: string;
  }[];
}

const METRIC_NAME = "[a-zA-Z_:][a-zA-Z0-9_:]*";
const LABEL = '[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\[\\\\"n])*"';
const SAMPLE = new RegExp(
  `^(${METRIC_NAME})(?:\\{(?:${LABEL})(?:,${LABEL})*\\})? ` +
    "(?:[-+]?(?:[0-9]+(?:\\.[0-9]*)?(?:e[-+]?[0-9]+)?|\\.[0-9]+)|[-+]?Inf|NaN)$",
);

/** Metrics as the parser reads them, and every sample line by line. */
interface Scraped {
  families: Map<string, ParsedFamily>;
  samples: { name: string; labels: Record<string, string>; value: number }[];
}

/**
 * Reads metrics text with a real parser, after checking every line against
 * the 0.0.4 grammar: each family has one HELP and one TYPE before its
 * samples, and each sample belongs to the family declared last. The parser
 * folds the histograms of different labels into one, so their samples are
 * read here line by line (the grammar checked).
 */
function parseMetrics(text: string): Scraped {
  const samples: Scraped["samples"] = [];
  assert.ok(text.endsWith("\n"), "the text ends with a line feed");
  const typed = new Map<string, string>();
  let family = "";
  for (const line of text.slice(0, -1).split("\n")) {
    const declaration = line.match(
      new RegExp(`^# (HELP|TYPE) (${METRIC_NAME}) (.+)$`),
    );
    if (declaration !== null) {
      const [, kind, name, rest] = declaration as unknown as string[];
      if (kind === "TYPE") {
        assert.ok(!typed.has(name!), `one TYPE for ${name}`);
        assert.match(rest!, /^(counter|gauge|histogram|summary|untyped)$/);
        typed.set(name!, rest!);
      }
      family = name!;
      continue;
    }
    const sample = line.match(SAMPLE);
    assert.ok(sample !== null, `a valid sample line: ${JSON.stringify(line)}`);
    const name = sample[1]!;
    const labels: Record<string, string> = {};
    for (
      const [, key, raw] of line.matchAll(/([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g)
    ) {
      labels[key!] = raw!.replace(/\\(.)/g, (_, c) => c === "n" ? "\n" : c);
    }
    samples.push({
      name,
      labels,
      value: Number(line.slice(line.lastIndexOf(" ") + 1)),
    });
    const suffixes = typed.get(family) === "histogram"
      ? ["_bucket", "_sum", "_count"]
      : [""];
    assert.ok(
      suffixes.some((suffix) => name === family + suffix),
      `${name} belongs to ${family}`,
    );
    if (typed.get(family) === "counter") {
      assert.ok(family.endsWith("_total"), `counter ${family} ends in _total`);
    }
  }
  const families = new Map<string, ParsedFamily>();
  for (const parsed of parsePrometheusTextFormat(text) as ParsedFamily[]) {
    families.set(parsed.name, parsed);
  }
  assert.deepEqual([...families.keys()].sort(), [...typed.keys()].sort());
  return { families, samples };
}

/** The value of one sample by name and labels; for a histogram, its count. */
function value(
  scraped: Scraped,
  name: string,
  labels: Record<string, string> = {},
): number {
  const family = scraped.families.get(name);
  assert.ok(family, `no family ${name}`);
  const sampleName = family.type === "HISTOGRAM" ? `${name}_count` : name;
  const sample = scraped.samples.find((s) =>
    s.name === sampleName &&
    Object.entries(labels).every(([k, v]) => s.labels[k] === v)
  );
  assert.ok(sample, `no ${sampleName}${JSON.stringify(labels)}`);
  return sample.value;
}

async function scrape(
  server: MistServer,
  init: RequestInit = {},
): Promise<Scraped> {
  const { status, body } = await fetchText(
    `${addressOf(server, "http")}/metrics`,
    init,
  );
  assert.equal(status, 200, body);
  return parseMetrics(body);
}

Deno.test("GET /metrics is valid Prometheus text format with every series", async () => {
  await using server = await allServer({ nodeName: "node-a" });
  const scraped = await scrape(server);
  const families = scraped.families;
  const expected: [string, string][] = [
    ["mist_connections", "GAUGE"],
    ["mist_connections_accepted_total", "COUNTER"],
    ["mist_messages_received_total", "COUNTER"],
    ["mist_messages_delivered_total", "COUNTER"],
    ["mist_messages_dropped_total", "COUNTER"],
    ["mist_bytes_received_total", "COUNTER"],
    ["mist_bytes_sent_total", "COUNTER"],
    ["mist_flush_seconds", "HISTOGRAM"],
    ["mist_subscriptions", "GAUGE"],
    ["mist_queue_bytes", "GAUGE"],
    ["mist_auth_failures_total", "COUNTER"],
    ["mist_errors_total", "COUNTER"],
    ["mist_build_info", "GAUGE"],
    ["mist_event_loop_lag_seconds", "GAUGE"],
    ["process_resident_memory_bytes", "GAUGE"],
    ["mist_heap_used_bytes", "GAUGE"],
  ];
  for (const [name, type] of expected) {
    assert.equal(families.get(name)?.type, type, name);
  }
  const version = JSON.parse(
    await Deno.readTextFile(new URL("../../deno.json", import.meta.url)),
  ).version;
  assert.deepEqual(families.get("mist_build_info")!.metrics, [
    { labels: { version, node: "node-a" }, value: "1" },
  ]);
  assert.ok(value(scraped, "process_resident_memory_bytes") > 0);
  assert.ok(value(scraped, "mist_heap_used_bytes") > 0);
  assert.ok(value(scraped, "mist_event_loop_lag_seconds") >= 0);
  // Every listener has its histogram, with cumulative buckets up to +Inf
  // that equals its count.
  for (const listener of server.addresses) {
    const buckets = scraped.samples.filter((s) =>
      s.name === "mist_flush_seconds_bucket" && s.labels.listener === listener
    );
    const counts = buckets.map((s) => s.value);
    assert.ok(counts.length > 1, `buckets for ${listener}`);
    assert.deepEqual(counts, [...counts].sort((a, b) => a - b));
    assert.equal(buckets.at(-1)?.labels.le, "+Inf");
    assert.equal(
      buckets.at(-1)?.value,
      value(scraped, "mist_flush_seconds", { listener }),
    );
  }
  // Errors are listed by code before any happened, so that rate() sees them.
  assert.equal(
    value(scraped, "mist_errors_total", { code: "invalid_json" }),
    0,
  );
});

Deno.test("GET /metrics: bytes, the flush histogram, errors by code and auth failures move when they should", async () => {
  await using server = await allServer({
    authenticator: new MemoryAuthenticator(),
    token: "admin",
  });
  const tcp = addressOf(server, "tcp");
  const ws = addressOf(server, "ws");
  const auth = { headers: { authorization: "Bearer admin" } };
  const before = await scrape(server, auth);
  const tcpLabel = { listener: tcp };
  const wsLabel = { listener: ws };

  await using subscriber = await WsClient.connect(ws, {
    "x-auth-token": "admin",
  });
  await subscriber.send({ command: "subscribe", tags: ["t"] });
  await subscriber.sync();
  await using publisher = await LineClient.connect(tcp);
  await publisher.send({ command: "auth", data: "admin" });
  await publisher.send({
    command: "publish",
    tags: ["t"],
    data: "x".repeat(50),
  });
  await subscriber.next();
  await publisher.send("this is not JSON\n");
  await publisher.send("{}\n");
  assert.deepEqual((await publisher.sync()).map((m) => m.error), [
    "invalid JSON",
    "invalid message: missing string command",
  ]);
  // A refused token: on TCP, in a header, and in a query parameter.
  await using stranger = await LineClient.connect(tcp);
  await stranger.send({ command: "auth", data: "wrong" });
  assert.equal((await stranger.next()).error, "invalid token");
  const http = addressOf(server, "http");
  assert.equal(
    (await fetchText(`${http}/publish`, {
      ...post('{"tags":["t"],"data":""}'),
      headers: { "x-auth-token": "wrong" },
    })).status,
    401,
  );
  assert.equal(
    (await fetchText(`${http}/metrics?x-auth-token=wrong`)).status,
    401,
  );

  await eventually(async () => {
    const after = await scrape(server, auth);
    return value(after, "mist_bytes_sent_total", wsLabel) >
      value(before, "mist_bytes_sent_total", wsLabel);
  }, "the delivery's bytes to be counted");
  const after = await scrape(server, auth);
  const grew = (name: string, labels: Record<string, string> = {}) =>
    value(after, name, labels) - value(before, name, labels);
  // The publish line and the rest came in over TCP; the delivery went out
  // over WebSocket; the replies went back over TCP.
  assert.ok(grew("mist_bytes_received_total", tcpLabel) > 50);
  assert.ok(grew("mist_bytes_received_total", wsLabel) > 0);
  assert.ok(grew("mist_bytes_sent_total", wsLabel) > 50);
  assert.ok(grew("mist_bytes_sent_total", tcpLabel) > 0);
  // One write in 16 is timed, each connection's first included.
  assert.ok(grew("mist_flush_seconds", wsLabel) >= 1, "flushes were timed");
  assert.ok(grew("mist_flush_seconds", tcpLabel) >= 1);
  assert.equal(grew("mist_errors_total", { code: "invalid_json" }), 1);
  assert.equal(grew("mist_errors_total", { code: "invalid_message" }), 1);
  assert.equal(grew("mist_errors_total", { code: "invalid_token" }), 1);
  assert.equal(grew("mist_auth_failures_total"), 3);
  assert.equal(grew("mist_messages_received_total", tcpLabel), 1);
  // Nothing is queued once everything has been written.
  assert.equal(value(after, "mist_queue_bytes"), 0);
});

Deno.test("GET /metrics with authentication on: the admin or the metrics token, as a bearer, a header or a query parameter; the metrics token grants nothing else", async (t) => {
  const authenticator = new MemoryAuthenticator();
  await authenticator.addToken("user", ["t"]);
  await using server = await allServer({
    authenticator,
    token: "admin",
    metricsToken: "scrape",
  });
  const http = addressOf(server, "http");
  const status = async (url: string, init: RequestInit = {}) =>
    (await fetchText(url, init)).status;

  await t.step("who may read /metrics", async () => {
    const cases: [string, RequestInit, number][] = [
      ["", {}, 401],
      ["", { headers: { authorization: "Bearer wrong" } }, 401],
      ["?x-auth-token=wrong", {}, 401],
      ["", { headers: { authorization: "Bearer user" } }, 403],
      ["", { headers: { "x-auth-token": "user" } }, 403],
      ["", { headers: { authorization: "Bearer admin" } }, 200],
      ["", { headers: { authorization: "bearer  admin" } }, 200],
      ["", { headers: { authorization: "Bearer scrape" } }, 200],
      ["", { headers: { "x-auth-token": "scrape" } }, 200],
      ["?X-Auth-Token=scrape", {}, 200],
      [
        "",
        { method: "HEAD", headers: { authorization: "Bearer scrape" } },
        200,
      ],
      ["", { method: "HEAD" }, 401],
    ];
    for (const [query, init, expected] of cases) {
      assert.equal(
        await status(`${http}/metrics${query}`, init),
        expected,
        `${query} ${JSON.stringify(init)}`,
      );
    }
  });

  await t.step(
    "the metrics token may publish, subscribe and administer nothing",
    async () => {
      const headers = { "x-auth-token": "scrape" };
      assert.equal(
        await status(`${http}/publish`, {
          ...post('{"tags":["t"],"data":""}'),
          headers,
        }),
        403,
      );
      assert.equal(await status(`${http}/subscribe?tags=t`, { headers }), 403);
      await using tcp = await LineClient.connect(addressOf(server, "tcp"));
      await tcp.send({ command: "auth", data: "scrape" });
      await tcp.send({ command: "subscribe", tags: ["t"] });
      await tcp.send({ command: "publish", tags: ["t"], data: "" });
      await tcp.send({ command: "tags", data: "user" });
      await tcp.send({ command: "listall" });
      assert.deepEqual((await tcp.sync()).map((m) => m.error), [
        'forbidden: not granted ["t"]',
        'forbidden: not granted ["t"]',
        "forbidden: admin only",
        "forbidden: admin only",
      ]);
    },
  );
});

Deno.test("GET /metrics: the node label stays the same across a restart with the same nodeName", async () => {
  const labels = async () => {
    const bus = new MemoryBus();
    await using server = await serve({
      listeners: ["http://127.0.0.1:0"],
      backplane: bus.attach(),
      heartbeatMs: 50,
      nodeName: "mist-eu-1",
    });
    await eventually(() => server.cluster?.state === "up", "the link");
    const families = await scrape(server);
    return {
      build: families.families.get("mist_build_info")!.metrics[0]!.labels!.node,
      cluster:
        families.families.get("mist_cluster_up")!.metrics[0]!.labels!.node,
      id: server.cluster!.node,
    };
  };
  const first = await labels();
  assert.deepEqual(first, {
    build: "mist-eu-1",
    cluster: "mist-eu-1",
    id: "mist-eu-1",
  });
  assert.deepEqual(await labels(), first);
});
