// Peers with LAN discovery on, in this process, on loopback (127.0.0.1 as the interface; the
// forgers send from other loopback addresses, which all lead to this host).
import assert from "node:assert/strict";
import dgram from "node:dgram";
import { forgeAnnouncements } from "./_forged_announcements.ts";
import { openSockets, untilOpenSockets } from "./_open_sockets.ts";
import { MAX_HINTS } from "./address_book.ts";
import { encodeAnnouncement, roomKey } from "./announcement.ts";
import { DISCOVERY_GROUP, DISCOVERY_PORT } from "./discovery.ts";
import { HEARD_LIMITS } from "./heard_peers.ts";
import { type Peer, type PeerOptions, startPeer } from "./peer.ts";
import { closeAll, echo, waitFor } from "./testing.ts";
import { HINT_DIAL_BURST, HINT_DIALS_PER_SECOND } from "./upkeep.ts";

const fast = { heartbeatIntervalMs: 50, heartbeatTimeoutMs: 2000 };

/**
 * A peer on loopback with discovery in `room` (or none), announcing every 200 ms: on loopback
 * only, as it listens there.
 */
function lanPeer(room: string | null, options: PeerOptions = {}): Promise<Peer> {
  return startPeer({
    host: "127.0.0.1",
    apps: [echo],
    discovery: room === null ? false : { room, intervalMs: 200 },
    log: () => {},
    ...fast,
    ...options,
  });
}

const linked = (list: Peer[]) => list.every((p) => p.peers().length === list.length - 1);

/** Sends one announcement of the room, as anyone on the LAN can. */
async function announce(room: string, id: string, port: number): Promise<void> {
  const socket = dgram.createSocket({ type: "udp4" });
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
  socket.setMulticastInterface("127.0.0.1");
  const packet = encodeAnnouncement({ id, port, apps: ["echo"] }, roomKey(room));
  await new Promise<void>((resolve) =>
    socket.send(packet, DISCOVERY_PORT, DISCOVERY_GROUP, () => resolve())
  );
  await new Promise<void>((resolve) => socket.close(resolve));
}

Deno.test("peers find each other with no address given, within their room and apps only", async () => {
  const before = await openSockets();
  const room = crypto.randomUUID();
  const together = [await lanPeer(room), await lanPeer(room), await lanPeer(room)];
  const apart = [
    await lanPeer(crypto.randomUUID()), // another room
    await startPeer({
      host: "127.0.0.1",
      apps: [], // no app in common
      discovery: { room, intervalMs: 200 },
      log: () => {},
      ...fast,
    }),
    await lanPeer(null), // discovery off
  ];
  try {
    await waitFor(() => linked(together), "the three to find each other");
    const got: string[] = [];
    for (const peer of together.slice(1)) peer.app(echo).onMessage((body) => got.push(body.text));
    together[0].app(echo).broadcast({ text: "hello" });
    await waitFor(() => got.length === 2, "the line at both others");
    // Time for announcements of everyone to be heard several times over.
    await waitFor(() => together[0].discoveryStats()!.heard >= 10, "more announcements");
    for (const peer of apart) assert.deepEqual(peer.peers(), [], "no one outside");
    for (const peer of together) {
      assert.equal(peer.peers().length, 2);
      assert.equal(peer.addresses().some((a) => a.heard), false, "every hint proven by now");
    }
    assert.equal(apart[2].discoveryStats(), null);
    // Bound to loopback, a peer announces there only: nothing goes out on the LAN.
    assert.deepEqual(together[0].discoveryStats()!.interfaces, ["127.0.0.1"]);
  } finally {
    await closeAll([...together, ...apart]);
  }
  // (Connections' sockets close with their workers, a moment after the peer.)
  await untilOpenSockets(before);
});

Deno.test("a forged announcement cannot send a peer to another: its dial is pinned to the id heard", async () => {
  const room = crypto.randomUUID();
  const a = await lanPeer(room);
  const b = await lanPeer(null); // listens, does not announce
  try {
    const forged = "f".repeat(32);
    await announce(room, forged, b.port);
    await waitFor(
      () => a.addresses().some((x) => x.port === b.port && x.failures > 0),
      "a's dial of b's address, pinned to the forged id, to fail",
    );
    assert.deepEqual(a.peers(), []);
    assert.equal(a.addresses().find((x) => x.port === b.port)?.heard, true, "still a mere hint");
    // The same address, announced with the id its peer proves: a connects.
    await announce(room, b.id, b.port);
    await waitFor(() => a.peers().some((p) => p.id === b.id), "a to reach b", 15_000);
    assert.equal(a.addresses().find((x) => x.port === b.port)?.heard, undefined, "proven");
  } finally {
    await closeAll([a, b]);
  }
});

Deno.test("10,000 forged announcements from 64 addresses: no dial storm, bounded memory, the mesh unharmed", async () => {
  const room = crypto.randomUUID();
  const list = [await lanPeer(room), await lanPeer(room), await lanPeer(room)];
  try {
    await waitFor(() => linked(list), "the three to find each other");
    const dialedBefore = list.map((p) => p.discoveryStats()!.dialed);
    const started = performance.now();
    const from = Array.from({ length: 64 }, (_, i) => `127.0.1.${i + 1}`);
    const flood = await forgeAnnouncements(room, "echo", 10_000, from);
    const got: string[] = [];
    list[1].app(echo).onMessage((body) => got.push(body.text));
    list[0].app(echo).broadcast({ text: "after the flood" });
    await waitFor(() => got.length === 1, "a line across the mesh");
    await new Promise((resolve) => setTimeout(resolve, 500)); // dials the flood still causes
    const seconds = (performance.now() - started) / 1000;
    assert.equal(flood.sent, 10_000);
    assert.ok(linked(list), "every link kept");
    for (const [i, peer] of list.entries()) {
      const stats = peer.discoveryStats()!;
      assert.ok(stats.overRate > 0, "most of the flood is dropped unread");
      assert.ok(stats.known <= HEARD_LIMITS.maxKnown);
      const dialed = stats.dialed - dialedBefore[i];
      const bound = HINT_DIAL_BURST + HINT_DIALS_PER_SECOND * seconds;
      assert.ok(dialed <= bound, `${dialed} dials in ${seconds.toFixed(1)} s: at most ${bound}`);
      const book = peer.addresses();
      assert.ok(book.filter((x) => x.heard).length <= MAX_HINTS, "hints within their quota");
      for (const other of list) {
        if (other === peer) continue;
        const entry = book.find((x) => x.port === other.port);
        assert.equal(entry?.id, other.id, "the peers that matter are still in the book");
        assert.equal(entry?.heard, undefined);
      }
    }
  } finally {
    await closeAll(list);
  }
});
