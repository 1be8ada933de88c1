import assert from "node:assert/strict";
import { AddressBook } from "../../packages/core/address_book.ts";
import { CONNECT_TIMEOUT_MS } from "../../packages/core/dialer.ts";
import { HEARTBEAT_TIMEOUT_MS, Network } from "./network.ts";
import { SeededRandom } from "./random.ts";
import { addressOf, type SimItem, SimPeer } from "./sim_peer.ts";

/** A network of `count` peers, started, none connected; `shown` lists what each showed. */
function network(count: number) {
  const net = new Network(new SeededRandom(5));
  const shown: string[] = [];
  const make = (index: number, generation = 0, book = new AddressBook()) =>
    new SimPeer({
      net,
      index,
      generation,
      book,
      deliver: (peer: SimPeer, item: SimItem) => shown.push(`${item.index}@${peer.id}`),
    });
  for (let i = 0; i < count; i++) net.attach(make(i));
  return { net, shown, make, peer: (i: number) => net.peers[i] };
}

Deno.test("a dial to a live peer gives both ends the connection after two round trips", () => {
  const { net, peer } = network(2);
  peer(1).connect(addressOf(0));
  net.runUntil(1.9); // two round trips: 2 to 12 ms (a latency of 0.5 to 3 ms)
  assert.equal(peer(1).dials.size, 1, "in flight");
  assert.equal(peer(0).links.size, 0);
  net.runUntil(12.1);
  assert.equal(peer(1).dials.size, 0, "done");
  assert.ok(peer(0).links.has("p1") && peer(1).links.has("p0"));
  assert.equal(net.counts.connected, 1);
  assert.equal(peer(0).book.get(addressOf(1))?.id, "p1", "the dialed end learns where p1 listens");
  assert.equal(net.counts.frames.summary, 2, "each end sent the other a summary");
});

Deno.test("a dial to a dead peer is refused after a round trip, and backs off", () => {
  const { net, peer } = network(2);
  net.kill(0);
  peer(1).connect(addressOf(0));
  net.runUntil(6.1);
  assert.equal(net.counts.refused, 1);
  assert.equal(peer(1).dials.size, 0);
  const entry = peer(1).book.get(addressOf(0))!;
  assert.equal(entry.failures, 1);
  assert.ok(entry.nextDialAt > net.now, "not dialed again at once");
});

Deno.test("across a partition a dial times out, and connections close after the heartbeat timeout", () => {
  const { net, peer } = network(3);
  peer(1).connect(addressOf(0));
  net.runUntil(100);
  net.partition((index) => index === 0 ? 0 : 1);
  peer(2).connect(addressOf(0));
  net.runUntil(100 + CONNECT_TIMEOUT_MS - 1);
  assert.equal(peer(2).dials.size, 1, "still waiting for an answer");
  net.runUntil(100 + CONNECT_TIMEOUT_MS);
  assert.equal(net.counts.timedOut, 1);
  assert.ok(peer(0).links.has("p1"), "a cut connection lasts until the heartbeat times out");
  peer(0).publish(0);
  net.runUntil(100 + HEARTBEAT_TIMEOUT_MS + 1000);
  assert.ok(!peer(0).links.has("p1") && !peer(1).links.has("p0"), "then both ends close it");
  assert.ok(net.counts.lost >= 1, "what was sent across the cut is lost");
  assert.equal(net.components(), 3);
  net.heal();
  peer(1).connect(addressOf(0));
  net.runUntil(net.now + 20);
  assert.ok(peer(0).links.has("p1"), "healed: it connects again");
});

Deno.test("a killed peer's connections are reset at the other ends, and it restarts with its book", () => {
  const { net, peer, make } = network(3);
  peer(1).connect(addressOf(0));
  peer(2).connect(addressOf(0));
  net.runUntil(100);
  const book = new AddressBook();
  book.restore(peer(0).book.stored());
  net.kill(0);
  net.runUntil(104);
  assert.equal(peer(1).links.size + peer(2).links.size, 0);
  assert.equal(net.openLinks.size, 0);
  assert.equal(net.components(), 2, "dead peers are not counted");
  net.attach(make(0, 1, book));
  net.runUntil(1200); // its first upkeep round dials what its book held
  assert.equal(peer(0).links.size, 2);
  assert.notEqual(peer(0).stream, "p0.0", "a new stream for the new run");
});

Deno.test("a full peer refuses a dialer after the handshake and names where else to go", () => {
  const { net, peer } = network(70);
  for (let i = 1; i <= 64; i++) peer(i).connect(addressOf(0));
  net.runUntil(100);
  assert.equal(peer(0).links.size, 64);
  peer(65).connect(addressOf(0));
  net.runUntil(200);
  assert.equal(net.counts.full, 1);
  assert.ok(!peer(65).links.has("p0"));
  assert.ok(peer(65).book.list().length > 1, "it learned of p0's neighbours");
  assert.equal(peer(65).book.get(addressOf(0))?.failures, 1);
});

Deno.test("a line said reaches every connected peer once, over a line of peers", () => {
  const { net, shown, peer } = network(5);
  for (let i = 1; i < 5; i++) peer(i).connect(addressOf(i - 1));
  net.runUntil(500);
  peer(0).publish(7);
  net.runUntil(1000);
  assert.deepEqual(shown.sort(), ["7@p1", "7@p2", "7@p3", "7@p4"]);
});

Deno.test("a connection dropped as redundant and made again counts as redialed", () => {
  const { net, peer } = network(3);
  peer(1).connect(addressOf(0));
  peer(2).connect(addressOf(0));
  net.runUntil(100);
  assert.equal(net.peakDegree, 2, "p0 held two connections");
  peer(0).drop("p1");
  peer(0).drop("p2");
  net.runUntil(200);
  assert.deepEqual([net.counts.rebalanced, net.counts.redialed], [2, 0]);
  peer(1).connect(addressOf(0)); // its user asks for it again
  net.runUntil(300);
  assert.deepEqual([net.counts.rebalanced, net.counts.redialed], [2, 1]);
});
