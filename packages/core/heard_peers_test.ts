import assert from "node:assert/strict";
import fc from "fast-check";
import { encodeAnnouncement, roomKey } from "./announcement.ts";
import { HEARD_LIMITS, HeardPeers } from "./heard_peers.ts";

const key = roomKey("friends");
const me = "00".repeat(16);

/** Peer id number `n`, 32 hex characters. */
const idOf = (n: number) => n.toString(16).padStart(32, "0");
const announcement = (n: number, port = 9000) =>
  encodeAnnouncement({ id: idOf(n), port, apps: ["chat"] }, key);
/** Sending address number `n`. */
const sender = (n: number) => `10.0.${n >> 8}.${n & 255}`;

Deno.test("a peer of the room is heard with the address it came from, again each time", () => {
  const table = new HeardPeers(me, key);
  assert.deepEqual(table.read(announcement(1), "10.0.0.7", 0), {
    id: idOf(1),
    port: 9000,
    apps: ["chat"],
    host: "10.0.0.7",
  });
  assert.equal(table.read(announcement(1), "10.0.0.7", 10)?.id, idOf(1), "heard again");
  assert.deepEqual(table.stats(), {
    heard: 2,
    added: 1,
    overRate: 0,
    invalid: 0,
    overQuota: 0,
    known: 1,
  });
});

Deno.test("another room's announcements, garbage and oversized packets are dropped; our own is ignored", () => {
  const table = new HeardPeers(me, key);
  const otherRoom = encodeAnnouncement({ id: idOf(1), port: 9000, apps: ["chat"] }, roomKey("x"));
  assert.equal(table.read(otherRoom, "10.0.0.7", 0), null);
  assert.equal(table.read(new TextEncoder().encode("{}"), "10.0.0.7", 0), null);
  assert.equal(table.read(new Uint8Array(513), "10.0.0.7", 0), null);
  const mine = encodeAnnouncement({ id: me, port: 9000, apps: ["chat"] }, key);
  assert.equal(table.read(mine, "10.0.0.1", 0), null);
  assert.deepEqual(table.stats(), {
    heard: 0,
    added: 0,
    overRate: 0,
    invalid: 3,
    overQuota: 0,
    known: 0,
  });
});

Deno.test("one sending address holds at most 8 ids; the ids it holds are still heard", () => {
  const table = new HeardPeers(me, key);
  for (let n = 1; n <= 10; n++) table.read(announcement(n), "10.0.0.7", n * 1000);
  assert.equal(HEARD_LIMITS.idsPerSender, 8);
  assert.deepEqual(table.known().map((peer) => peer.id), [1, 2, 3, 4, 5, 6, 7, 8].map(idOf));
  assert.equal(table.stats().overQuota, 2);
  assert.ok(table.read(announcement(3), "10.0.0.7", 20_000), "a peer it holds, heard again");
  assert.ok(table.read(announcement(9), "10.0.0.8", 20_000), "another address has its own quota");
});

Deno.test("an id heard from another address moves there, and its quota with it", () => {
  const table = new HeardPeers(me, key);
  for (let n = 1; n <= 8; n++) table.read(announcement(n), "10.0.0.7", n * 1000);
  assert.equal(table.read(announcement(1), "10.0.0.8", 9000)?.host, "10.0.0.8");
  assert.ok(table.read(announcement(9), "10.0.0.7", 10_000), "10.0.0.7 has room for one more");
  assert.equal(table.known().length, 9);
});

Deno.test("the table holds at most 256 peers: the one heard longest ago goes", () => {
  const table = new HeardPeers(me, key);
  // One id per sender, 100 a second: no quota or rate is reached.
  for (let n = 1; n <= 300; n++) table.read(announcement(n), sender(n), n * 10);
  assert.equal(HEARD_LIMITS.maxKnown, 256);
  assert.equal(table.stats().known, 256);
  assert.equal(table.known()[0].id, idOf(45), "1 to 44 went, oldest first");
  // A peer heard again is the newest: it is not the next to go.
  table.read(announcement(45), sender(45), 3010);
  table.read(announcement(301), sender(301), 3020);
  assert.ok(table.known().some((peer) => peer.id === idOf(45)));
  assert.ok(!table.known().some((peer) => peer.id === idOf(46)));
});

Deno.test("a peer not heard for 30 s is forgotten, and frees its sender's quota", () => {
  const table = new HeardPeers(me, key);
  for (let n = 1; n <= 8; n++) table.read(announcement(n), "10.0.0.7", 0);
  table.read(announcement(100), "10.0.0.9", 29_000);
  assert.equal(table.read(announcement(9), "10.0.0.7", 29_000), null, "the quota is full");
  assert.ok(table.read(announcement(9), "10.0.0.7", 30_000), "8 forgotten: room again");
  assert.deepEqual(table.known().map((peer) => peer.id), [idOf(100), idOf(9)]);
});

Deno.test("at most 200 packets a second are read in all, and 20 from one sender", () => {
  const table = new HeardPeers(me, key);
  // 250 senders, one packet each, in one second: 200 read.
  for (let n = 1; n <= 250; n++) table.read(announcement(n), sender(n), 5000 + n);
  assert.deepEqual([table.stats().heard, table.stats().overRate], [200, 50]);
  // The next second reads again; but 25 from one sender: 20 read, garbage or not.
  for (let i = 0; i < 25; i++) table.read(new Uint8Array(10), "10.9.9.9", 6000 + i);
  assert.deepEqual([table.stats().invalid, table.stats().overRate], [20, 55]);
  assert.ok(table.read(announcement(251), sender(251), 6100), "others are still read");
});

Deno.test("whatever is sent, from whoever, the table and every sender's share stay bounded", () => {
  const limits = { idsPerSender: 3, maxKnown: 16, readsPerSecond: 50, readsPerSenderPerSecond: 10 };
  fc.assert(fc.property(
    fc.array(
      fc.record({
        id: fc.integer({ min: 1, max: 60 }),
        from: fc.integer({ min: 1, max: 12 }),
        valid: fc.boolean(),
        dt: fc.integer({ min: 0, max: 3000 }),
      }),
      { maxLength: 300 },
    ),
    (packets) => {
      const table = new HeardPeers(me, key, limits);
      let now = 0;
      for (const { id, from, valid, dt } of packets) {
        now += dt;
        table.read(valid ? announcement(id) : new Uint8Array(40), sender(from), now);
        const known = table.known();
        assert.ok(known.length <= limits.maxKnown);
        const bySender = Map.groupBy(known, (peer) => peer.host);
        for (const peers of bySender.values()) assert.ok(peers.length <= limits.idsPerSender);
      }
    },
  ));
});
