/**
 * Grants that converge: a node cut off from Redis misses the grant changes
 * other nodes publish; when it relinks it reads the grants of every token in
 * use again, so its live connections lose what was revoked meanwhile.
 */

import assert from "node:assert/strict";
import { openAuthenticator } from "../../src/auth/builtin.ts";
import { linked } from "../_cluster.ts";
import { eventually, LineClient, tcpServer } from "../_helpers.ts";
import { postgresTest, startPostgres } from "../_postgres.ts";
import { REDIS_SERVER, RedisServer, redisTest } from "../_redis.ts";
import { closeQuietly, pump } from "../_tcp_proxy.ts";

const redisAndPostgresTest = REDIS_SERVER === undefined
  ? redisTest
  : postgresTest;

/** A TCP forwarder that can be cut: its connections end, new ones are refused. */
class Gate implements AsyncDisposable {
  readonly #listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  readonly #conns = new Set<Deno.Conn>();
  readonly #accepting: Promise<void>;
  #open = true;

  constructor(readonly target: number) {
    this.#accepting = this.#accept();
  }

  get url(): string {
    return `redis://127.0.0.1:${this.#listener.addr.port}`;
  }

  async #accept(): Promise<void> {
    for await (const client of this.#listener) {
      if (!this.#open) {
        closeQuietly(client);
        continue;
      }
      const server = await Deno.connect({
        hostname: "127.0.0.1",
        port: this.target,
      });
      this.#conns.add(client).add(server);
      const end = () => {
        closeQuietly(client, server);
        this.#conns.delete(client);
        this.#conns.delete(server);
      };
      pump(client, server).finally(end);
      pump(server, client).finally(end);
    }
  }

  /** Ends every connection and refuses new ones until {@linkcode Gate.reopen}. */
  cut(): void {
    this.#open = false;
    closeQuietly(...this.#conns);
    this.#conns.clear();
  }

  reopen(): void {
    this.#open = true;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.cut();
    this.#listener.close();
    await this.#accepting.catch(() => {});
  }
}

redisAndPostgresTest(
  "cluster over Redis: a node cut off while a grant is revoked applies the revocation once it relinks",
  async () => {
    await using pg = await startPostgres();
    await using redis = await RedisServer.start();
    await using gate = new Gate(redis.port);
    const node = async (cluster: string) =>
      await tcpServer({
        cluster,
        heartbeatMs: 100,
        authenticator: await openAuthenticator(pg.url),
        token: "cluster-admin",
      });
    await using a = await node(redis.url);
    await using b = await node(gate.url);
    await linked([a, b]);

    await using admin = await LineClient.connect(a.addresses[0]!);
    await admin.send({ command: "auth", data: "cluster-admin" });
    await admin.send({
      command: "register",
      tags: ["news", "sport"],
      data: "reader",
    });
    assert.deepEqual(await admin.sync(), []);
    await using reader = await LineClient.connect(b.addresses[0]!);
    await reader.send({ command: "auth", data: "reader" });
    await reader.send({ command: "subscribe", tags: ["news"] });
    await reader.send({ command: "subscribe", tags: ["sport"] });
    assert.deepEqual(await reader.sync(), []);

    gate.cut();
    await eventually(
      () => b.stats().cluster!.state === "down",
      "node b to see its link down",
    );
    await admin.send({ command: "unset", tags: ["sport"], data: "reader" });
    assert.deepEqual(await admin.sync(), []);
    // The envelope went out while b could not hear it: b still trusts the
    // old grants.
    assert.equal(b.stats().subscriptions, 2);
    await reader.send({ command: "publish", tags: ["sport"], data: "x" });
    assert.deepEqual(await reader.sync(), [], "still allowed while cut off");

    gate.reopen();
    assert.deepEqual(await reader.next(20_000), {
      command: "revoked",
      tags: ["sport"],
    });
    assert.equal(b.stats().cluster!.state, "up");
    assert.equal(
      (await reader.request({ command: "list" })).data,
      '[["news"]]',
    );
    const refused = await reader.request({
      command: "publish",
      tags: ["sport"],
      data: "not any more",
    });
    assert.match(refused.error ?? "", /^forbidden/);
    assert.equal(b.stats().subscriptions, 1);
  },
);
