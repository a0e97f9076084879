import assert from "node:assert/strict";
import { sleep } from "../_util/deadline.ts";
import { PEER_TIMEOUT_INTERVALS, PeerTable } from "./_peers.ts";

Deno.test("`PeerTable` keeps a peer while it beats and forgets it after its timeout", async () => {
  const peers = new PeerTable();
  peers.heard({ kind: "heartbeat", node: "slow", interval: 60_000 });
  peers.heard({ kind: "heartbeat", node: "fast", interval: 5 });
  peers.heard({ kind: "heartbeat", node: "fast", interval: 5 });
  assert.deepEqual(peers.ids(), ["fast", "slow"]);
  await sleep(PEER_TIMEOUT_INTERVALS * 5 + 20);
  assert.deepEqual(peers.ids(), ["slow"]);
  assert.equal(peers.size, 1);
});
