import assert from "node:assert/strict";
import { fakeRecord } from "./_fake_connection.ts";
import { AddressBook } from "./address_book.ts";
import { MAX_PEERS_PER_MESSAGE } from "./messages.ts";
import { exchangeList, learnPeers, PeerExchange } from "./peer_exchange.ts";
import { Registry } from "./registry.ts";
import { closeAll, peers, RawPeer, waitFor } from "./testing.ts";

const fast = { heartbeatIntervalMs: 50, heartbeatTimeoutMs: 400 };
const me = "11".repeat(16);
const idOf = (i: number) => i.toString(16).padStart(32, "0");

function exchangeOf() {
  const registry = new Registry(me);
  const book = new AddressBook();
  return { registry, book, exchange: new PeerExchange(me, registry, book) };
}

Deno.test("the exchange list holds at most one message's worth of addresses", () => {
  const { exchange } = exchangeOf();
  exchange.learn(
    Array.from({ length: 200 }, (_, i) => ({ id: idOf(i + 1), host: "10.0.0.7", port: 1000 + i })),
  );
  assert.equal(exchange.list().length, MAX_PEERS_PER_MESSAGE);
});

Deno.test("the exchange list never names this peer, nor an address that turned out to be it", () => {
  const { book, exchange } = exchangeOf();
  exchange.learn([
    { id: me, host: "10.0.0.1", port: 7000 },
    { id: idOf(2), host: "10.0.0.2", port: 7000 },
  ]);
  book.add({ host: "10.0.0.3", port: 7000 }, idOf(3)).self = true;
  assert.deepEqual(exchange.list(), [{ id: idOf(2), host: "10.0.0.2", port: 7000 }]);
});

Deno.test("the exchange list leaves out addresses only heard on the LAN: anyone there can forge one", () => {
  const { book, exchange } = exchangeOf();
  book.hint({ host: "10.0.0.2", port: 7000 }, idOf(2));
  assert.deepEqual(exchange.list(), []);
  book.succeeded({ host: "10.0.0.2", port: 7000 }, idOf(2)); // proven by a handshake
  assert.deepEqual(exchange.list(), [{ id: idOf(2), host: "10.0.0.2", port: 7000 }]);
});

Deno.test("the exchange list leaves out addresses that failed since they last answered", () => {
  const { book, exchange } = exchangeOf();
  exchange.learn([
    { id: idOf(2), host: "10.0.0.2", port: 7000 },
    { id: idOf(3), host: "10.0.0.3", port: 7000 },
  ]);
  book.failed({ host: "10.0.0.2", port: 7000 });
  assert.deepEqual(exchange.list().map((a) => a.host), ["10.0.0.3"]);
  book.succeeded({ host: "10.0.0.2", port: 7000 }, idOf(2));
  assert.deepEqual(exchange.list().map((a) => a.host).sort(), ["10.0.0.2", "10.0.0.3"]);
});

Deno.test("the exchange list names connected peers first and not the one it is for", () => {
  const { registry, exchange } = exchangeOf();
  exchange.learn([{ id: idOf(9), host: "10.0.0.9", port: 7000 }]);
  const told = fakeRecord({ id: idOf(2), listenPort: 7002 });
  const other = fakeRecord({ id: idOf(3), listenPort: 7003 });
  for (const record of [told, other]) {
    registry.add(record);
    registry.open(record, 60_000);
  }
  assert.deepEqual(exchange.list(idOf(2)), [
    { id: idOf(3), host: "127.0.0.1", port: 7003, linked: true },
    { id: idOf(9), host: "10.0.0.9", port: 7000 },
  ]);
  exchange.send(told);
  assert.deepEqual(told.fake.sent.map((s) => s.message), [{
    t: "peers",
    peers: [{ id: idOf(3), host: "127.0.0.1", port: 7003, linked: true }, {
      id: idOf(9),
      host: "10.0.0.9",
      port: 7000,
    }],
  }]);
});

Deno.test("what a neighbour names as its own neighbours is remembered on its record", () => {
  const { exchange } = exchangeOf();
  const from = fakeRecord({ id: idOf(2), listenPort: 7002 });
  exchange.learn([
    { id: idOf(3), host: "10.0.0.3", port: 7000, linked: true },
    { id: idOf(4), host: "10.0.0.4", port: 7000 },
  ], from);
  assert.deepEqual([...from.theirNeighbours], [idOf(3)]);
  exchange.learn([{ id: idOf(5), host: "10.0.0.5", port: 7000, linked: true }], from);
  assert.deepEqual([...from.theirNeighbours], [idOf(5)], "the latest list replaces the last");
});

Deno.test("hollow addresses are not learned", () => {
  const { book, exchange } = exchangeOf();
  exchange.learn([{ host: "", port: 7000 }, { host: "10.0.0.7", port: 0 }]);
  assert.equal(book.list().length, 0);
});

Deno.test("every neighbour is told again, at most every 15 s", () => {
  const { registry, exchange } = exchangeOf();
  exchange.learn([{ id: idOf(9), host: "10.0.0.9", port: 7000 }]);
  const record = fakeRecord({ id: idOf(2), listenPort: 7002 });
  registry.add(record);
  registry.open(record, 60_000);
  exchange.gossip(20_000);
  exchange.gossip(30_000);
  assert.equal(record.fake.sent.length, 1);
  exchange.gossip(35_001);
  assert.equal(record.fake.sent.length, 2);
});

Deno.test("peers find each other through peer exchange", async () => {
  const list = await peers(3, { targetConnections: 4, ...fast });
  const [a, b, c] = list;
  try {
    await b.connect("127.0.0.1", a.port);
    await c.connect("127.0.0.1", b.port);
    await waitFor(() => list.every((p) => p.peers().length === 2), "a full mesh of three");
    assert.ok(c.peers().some((p) => p.id === a.id), "c dialed a, which it learned of from b");
  } finally {
    await closeAll(list);
  }
});

Deno.test("a stranger's peers list before any handshake is ignored", async () => {
  const [a] = await peers(1);
  const raw = await RawPeer.dial(a.port);
  try {
    const bogus = Array.from({ length: 64 }, (_, i) => ({ host: "10.9.9.9", port: 1000 + i }));
    await raw.send({ t: "peers", peers: bogus });
    await raw.send({ t: "bye", reason: "full", code: "full" });
    await waitFor(() => raw.ended, "the connection to close");
    assert.equal(a.addresses().filter((x) => x.host === "10.9.9.9").length, 0);
  } finally {
    await raw.close();
    await a.close();
  }
});

Deno.test("a dialer refused as the peer is full learns where else to go", async () => {
  const list = await peers(3, { maxConnections: 1 });
  const [hub, x, z] = list;
  try {
    await x.connect("127.0.0.1", hub.port);
    await waitFor(() => hub.peers().length === 1, "the hub to hold x");
    await assert.rejects(() => z.connect("127.0.0.1", hub.port), /too many connections/);
    const hint = z.addresses().find((entry) => entry.port === x.port);
    assert.equal(hint?.id, x.id, "z knows where x listens");
  } finally {
    await closeAll(list);
  }
});

Deno.test("the exchange list, built from plain data, is what a peer's exchange would send", () => {
  const book = new AddressBook();
  book.add({ host: "10.0.0.9", port: 7000 }, idOf(9), 2);
  book.add({ host: "10.0.0.8", port: 7000 }, idOf(8), 1);
  book.add({ host: "10.0.0.3", port: 7000 }, idOf(3), 3);
  const connected = [
    { id: idOf(2), address: { host: "10.0.0.2", port: 7000 } },
    { id: idOf(3), address: { host: "10.0.0.3", port: 7000 } },
  ];
  assert.deepEqual(exchangeList(connected, book.list(), idOf(2)), [
    { id: idOf(3), host: "10.0.0.3", port: 7000, linked: true },
    { id: idOf(9), host: "10.0.0.9", port: 7000 },
    { id: idOf(8), host: "10.0.0.8", port: 7000 },
  ], "the one told left out, a linked peer named once, the book most recent first");
  const theirs = new Set([idOf(7)]);
  learnPeers(me, [{ id: idOf(5), host: "10.0.0.5", port: 7000, linked: true }], book, theirs, 50);
  assert.deepEqual([...theirs], [idOf(5)]);
  assert.equal(
    book.get({ host: "10.0.0.5", port: 7000 })?.lastSeenAt,
    50,
    "seen at the time given",
  );
});

Deno.test("a peer every neighbour names is not thereby dialed first: only contact makes it recent", () => {
  const book = new AddressBook();
  const hub = { id: idOf(1), host: "10.0.0.1", port: 7000 };
  const quiet = { id: idOf(2), host: "10.0.0.2", port: 7000 };
  learnPeers(me, [hub], book, undefined, 100);
  learnPeers(me, [quiet], book, undefined, 200);
  // Named again and again by neighbours, with the id it now has there.
  for (let at = 300; at < 1000; at += 100) {
    learnPeers(me, [{ ...hub, id: idOf(3) }], book, undefined, at);
  }
  assert.deepEqual(book.dialable(1000).map((e) => e.host), ["10.0.0.2", "10.0.0.1"]);
  assert.equal(book.get(hub)!.lastSeenAt, 100);
  assert.equal(book.get(hub)!.id, idOf(3), "the id named last is taken");
  book.succeeded(hub, idOf(3), 1000); // contact
  assert.deepEqual(book.dialable(1000).map((e) => e.host), ["10.0.0.1", "10.0.0.2"]);
});

Deno.test("addresses learned together are dialed in a random order, not the teller's", () => {
  const list = Array.from({ length: 10 }, (_, i) => ({
    id: idOf(i + 2),
    host: `10.0.0.${i + 2}`,
    port: 7000,
    linked: i < 3,
  }));
  const firsts = new Set<string>();
  for (let i = 0; i < 50; i++) {
    const book = new AddressBook();
    const theirs = new Set<string>();
    learnPeers(me, list, book, theirs, 100);
    assert.equal(book.list().length, 10);
    assert.equal(theirs.size, 3);
    firsts.add(book.dialable(100)[0].host);
  }
  // Each of ten first with chance 1/10: fewer than five of them first in 50 tries is next to
  // impossible (below 1e-17), while in the teller's order one would always be.
  assert.ok(firsts.size >= 5, `first: ${[...firsts].join(" ")}`);
});
