/**
 * Scenarios run against a cluster of servers, whatever carries it (the
 * in-process bus, Redis).
 *
 * @module
 */

import assert from "node:assert/strict";
import type { Message } from "../src/protocol/codec.ts";
import type { MistServer, ServeOptions } from "../src/server/server.ts";
import { LineClient, tcpServer } from "./_helpers.ts";
import { eventually } from "../src/testing/eventually.ts";

/** Nodes of a cluster, closed together. */
export interface Nodes extends AsyncDisposable {
  /** The servers, in the order they started. */
  servers: MistServer[];
}

/**
 * Starts `count` TCP nodes and waits until they are linked; closes the ones
 * started when one fails to.
 *
 * @param count how many nodes
 * @param options what node `i` is started with (its cluster or backplane)
 * @returns the nodes, to close with `await using`
 */
export async function startNodes(
  count: number,
  options: (i: number) => ServeOptions | Promise<ServeOptions>,
): Promise<Nodes> {
  const servers: MistServer[] = [];
  const close = async () => {
    for (const server of servers) await server.close();
  };
  try {
    for (let i = 0; i < count; i++) {
      servers.push(await tcpServer(await options(i)));
    }
    await linked(servers);
  } catch (err) {
    await close();
    throw err;
  }
  return { servers, [Symbol.asyncDispose]: close };
}

/** Waits until every node of a cluster is linked and sees every other node. */
export async function linked(servers: MistServer[]): Promise<void> {
  await eventually(
    () =>
      servers.every((server) => {
        const cluster = server.stats().cluster;
        return cluster?.state === "up" && cluster.peers === servers.length - 1;
      }),
    "every node is linked and sees the others",
  );
}

/**
 * Reads exactly `count` messages, then checks that nothing else was queued.
 *
 * @param client the client
 * @param count how many messages it must receive
 * @returns them, in arrival order
 */
export async function receive(
  client: LineClient,
  count: number,
): Promise<Message[]> {
  const got: Message[] = [];
  while (got.length < count) got.push(await client.next());
  assert.deepEqual(await client.sync(), [], "no more than expected");
  return got;
}

/**
 * On each node: a publisher that also subscribes (it must never get its own
 * messages back), and a subscriber whose two subscriptions both match (it must
 * get each message once). Every publisher publishes `perPublisher` messages;
 * every subscription must receive every message of every other connection
 * exactly once, in each publisher's order.
 *
 * @param servers the nodes, already linked
 * @param perPublisher how many messages each publisher sends
 */
export async function exactlyOnceEverywhere(
  servers: MistServer[],
  perPublisher = 50,
): Promise<void> {
  const publishers: LineClient[] = [];
  const subscribers: LineClient[] = [];
  try {
    for (const server of servers) {
      const url = server.addresses[0]!;
      const publisher = await LineClient.connect(url);
      const subscriber = await LineClient.connect(url);
      publishers.push(publisher);
      subscribers.push(subscriber);
      await publisher.send({ command: "subscribe", tags: ["room"] });
      await subscriber.send({ command: "subscribe", tags: ["room"] });
      await subscriber.send({ command: "subscribe", tags: ["x", "room"] });
      await publisher.sync();
      await subscriber.sync();
    }
    // Interleave the publishers: one message each, round after round.
    for (let i = 0; i < perPublisher; i++) {
      for (const [p, publisher] of publishers.entries()) {
        await publisher.send({
          command: "publish",
          tags: ["room", "x"],
          data: `${p}:${i}`,
        });
      }
    }
    const expectFrom = (p: number) =>
      Array.from({ length: perPublisher }, (_, i) => `${p}:${i}`);
    const check = (got: Message[], from: number[]) => {
      for (const message of got) {
        assert.equal(message.command, "publish");
        assert.deepEqual(message.tags, ["room", "x"]);
      }
      for (const p of from) {
        const mine = got.map((m) => m.data!).filter((d) =>
          d.startsWith(`${p}:`)
        );
        assert.deepEqual(mine, expectFrom(p), `publisher ${p}, in order`);
      }
    };
    const everyone = servers.map((_, p) => p);
    for (const subscriber of subscribers) {
      const got = await receive(subscriber, servers.length * perPublisher);
      check(got, everyone);
    }
    for (const [p, publisher] of publishers.entries()) {
      const got = await receive(publisher, (servers.length - 1) * perPublisher);
      const others = everyone.filter((q) => q !== p);
      check(got, others);
      assert.ok(
        got.every((m) => !m.data!.startsWith(`${p}:`)),
        "never its own messages",
      );
    }
  } finally {
    for (const client of [...publishers, ...subscribers]) await client.close();
  }
}
