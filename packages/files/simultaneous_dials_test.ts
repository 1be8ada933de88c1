import assert from "node:assert/strict";
import { type Peer, startPeer } from "@meshtalk/core";
import { randomBytes, waitFor } from "@meshtalk/core/testing";
import { createFileShare, filesApp, type FileShare, type FileShareEvents } from "./mod.ts";

/** A share that never asks again for what it asked: a lost request or piece stalls it for good. */
const NEVER_ASKS_AGAIN = 3_600_000;
const ROUNDS = 20;

interface Node {
  peer: Peer;
  share: FileShare;
  saved: FileShareEvents["saved"][];
}

async function startNode(out: string): Promise<Node> {
  const peer = await startPeer({
    host: "127.0.0.1",
    apps: [filesApp],
    targetConnections: 0,
    log: () => {},
    handshakeTimeoutMs: 30_000,
  });
  const share = createFileShare(peer, { out, requestTimeoutMs: NEVER_ASKS_AGAIN });
  const node: Node = { peer, share, saved: [] };
  share.on("saved", (e) => node.saved.push(e));
  return node;
}

Deno.test("two sharing peers that dial each other at once fetch each other's files whole", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (let round = 0; round < ROUNDS; round++) {
      await Deno.mkdir(`${dir}/${round}`);
      const nodes = [await startNode(`${dir}/${round}/a`), await startNode(`${dir}/${round}/b`)];
      try {
        const sources = await Promise.all(nodes.map(async (node, i) => {
          const bytes = randomBytes(2 * 2 ** 20 + 1000 * i);
          const path = `${dir}/${round}/offer-${i}.bin`;
          await Deno.writeFile(path, bytes);
          await node.share.offer(path);
          return bytes;
        }));
        const [a, b] = nodes;
        await Promise.all([
          a.peer.connect("127.0.0.1", b.peer.port),
          b.peer.connect("127.0.0.1", a.peer.port),
        ]);
        await waitFor(
          () => a.saved.length === 1 && b.saved.length === 1,
          `round ${round}: both files saved (${a.saved.length}, ${b.saved.length})`,
          60_000,
        );
        assert.deepEqual(await Deno.readFile(a.saved[0].path), sources[1]);
        assert.deepEqual(await Deno.readFile(b.saved[0].path), sources[0]);
        await waitFor(
          () => a.peer.connections().length === 1 && b.peer.connections().length === 1,
          `round ${round}: one connection left on each side`,
        );
      } finally {
        for (const node of nodes) node.share.close();
        await Promise.all(nodes.map((node) => node.peer.close()));
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
