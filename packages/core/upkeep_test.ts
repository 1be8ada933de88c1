import assert from "node:assert/strict";
import { formatAddress } from "./address.ts";
import { AddressBook, type KnownAddress } from "./address_book.ts";
import { closeAll, peers, waitFor } from "./testing.ts";
import {
  EXPLORE_EVERY_MS,
  HINT_DIAL_BURST,
  HINT_DIALS_PER_SECOND,
  MAX_DIALS,
  MAX_UPKEEP_DIALS,
  type Neighbour,
  pickRedundant,
  planDials,
  REBALANCE_MIN_AGE_MS,
  REBALANCE_SLACK,
  type UpkeepPeer,
  upkeepRound,
  type UpkeepState,
} from "./upkeep.ts";

const fast = { heartbeatIntervalMs: 50, heartbeatTimeoutMs: 400 };

/** A book of `count` addresses at ports 7000 and up, none failed. */
function bookOf(count: number): AddressBook {
  const book = new AddressBook();
  for (let i = 0; i < count; i++) {
    book.add({ host: "10.0.0.7", port: 7000 + i }, undefined, 1000 - i);
  }
  return book;
}

function state(book: AddressBook, changes: Partial<UpkeepState> = {}): UpkeepState {
  return {
    targetConnections: 8,
    maxConnections: 64,
    connections: 0,
    dialsInFlight: 0,
    candidates: book.dialable(),
    connectedIds: new Set(),
    busyAddresses: new Set(),
    ...changes,
  };
}

const ports = (plan: KnownAddress[]) => plan.map((a) => a.port);

Deno.test("upkeep dials the addresses with the fewest failures first", () => {
  const book = bookOf(4);
  const now = Date.now();
  book.failed({ host: "10.0.0.7", port: 7000 }, now - 10 * 60_000);
  book.failed({ host: "10.0.0.7", port: 7001 }, now - 10 * 60_000);
  book.failed({ host: "10.0.0.7", port: 7001 }, now - 10 * 60_000);
  assert.deepEqual(ports(planDials(state(book))), [7002, 7003]);
  const untried = new Set(["10.0.0.7:7002", "10.0.0.7:7003"]);
  assert.deepEqual(
    ports(planDials(state(book, { busyAddresses: untried }))),
    [7000, 7001],
    "then one failure before two",
  );
});

Deno.test("upkeep never has more than two dials in flight", () => {
  const book = bookOf(10);
  assert.equal(MAX_UPKEEP_DIALS, 2);
  assert.equal(planDials(state(book)).length, 2);
  assert.equal(planDials(state(book, { dialsInFlight: 1 })).length, 1);
  assert.equal(planDials(state(book, { dialsInFlight: 2 })).length, 0);
  assert.equal(planDials(state(book, { dialsInFlight: 5 })).length, 0);
});

Deno.test("upkeep never dials past its target nor past the connection limit", () => {
  const book = bookOf(10);
  assert.equal(planDials(state(book, { targetConnections: 3, connections: 2 })).length, 1);
  assert.equal(planDials(state(book, { targetConnections: 3, connections: 3 })).length, 0);
  assert.equal(planDials(state(book, { targetConnections: 0 })).length, 0);
  assert.equal(
    planDials(state(book, { targetConnections: 8, maxConnections: 4, connections: 3 })).length,
    1,
  );
  assert.equal(planDials(state(book, { maxConnections: 4, connections: 4 })).length, 0);
});

Deno.test("upkeep never dials a connected, dialing or blocked address", () => {
  const book = bookOf(6);
  const connected = "77".repeat(16);
  book.add({ host: "10.0.0.7", port: 7000 }, connected);
  book.setBlocked({ host: "10.0.0.7", port: 7001 }, true);
  book.add({ host: "10.0.0.7", port: 7002 }).self = true;
  const plan = planDials(state(book, {
    connectedIds: new Set([connected]),
    busyAddresses: new Set([formatAddress({ host: "10.0.0.7", port: 7003 })]),
  }));
  assert.deepEqual(ports(plan), [7004, 7005]);
});

Deno.test("upkeep dials nothing when the book has nothing dialable", () => {
  assert.deepEqual(planDials(state(new AddressBook())), []);
});

Deno.test("disconnect closes the connection and keeps upkeep from redialing it", async () => {
  const list = await peers(2, { targetConnections: 4, ...fast });
  const [a, b] = list;
  try {
    await a.connect("127.0.0.1", b.port);
    await waitFor(() => b.peers().length === 1, "b to see a");
    const gone = await a.disconnect(String(b.port));
    assert.equal(gone?.id, b.id);
    await new Promise((r) => setTimeout(r, 300)); // several upkeep rounds
    assert.equal(a.peers().length, 0, "neither side redialed");
    assert.equal(b.peers().length, 0);
    await a.connect("127.0.0.1", b.port);
    assert.equal(a.peers().length, 1, "an explicit connect lifts the block");
  } finally {
    await closeAll(list);
  }
});

Deno.test("upkeep dials an address added to the book until it reaches the peer there", async () => {
  const list = await peers(2, { targetConnections: 4, ...fast });
  const [a, b] = list;
  try {
    a.addAddress("127.0.0.1", b.port);
    await waitFor(() => a.peers().length === 1 && b.peers().length === 1, "upkeep to dial b");
    assert.equal(a.peers()[0].id, b.id);
    assert.equal(a.peers()[0].direction, "outbound");
    assert.equal(a.addresses().find((x) => x.port === b.port)?.id, b.id, "the book learns its id");
  } finally {
    await closeAll(list);
  }
});

Deno.test("at its target a peer explores: one random candidate, and only when told to", () => {
  const book = bookOf(6);
  const full = { targetConnections: 4, connections: 4 };
  assert.deepEqual(planDials(state(book, full)), [], "no exploring unless it is time");
  assert.deepEqual(ports(planDials(state(book, { ...full, explore: 0 }))), [7000]);
  assert.deepEqual(ports(planDials(state(book, { ...full, explore: 0.99 }))), [7005]);
  const busy = new Set([0, 1, 2, 3, 4].map((i) => `10.0.0.7:${7000 + i}`));
  assert.deepEqual(
    ports(planDials(state(book, { ...full, explore: 0, busyAddresses: busy }))),
    [7005],
    "never a connected or dialing address",
  );
  assert.deepEqual(planDials(state(book, { ...full, explore: 0, maxConnections: 4 })), []);
  assert.deepEqual(planDials(state(book, { ...full, explore: 0, dialsInFlight: 2 })), []);
  assert.deepEqual(planDials(state(book, { ...full, explore: 0, targetConnections: 0 })), []);
});

Deno.test("hints are dialed within their own budget, which never holds back other addresses", () => {
  const book = bookOf(4); // ports 7000-7003
  for (let i = 0; i < 4; i++) book.hint({ host: "10.0.1.1", port: 8000 + i }, "77".repeat(16), i);
  // Heard after the others were seen: the hints come first among candidates.
  for (const entry of book.list()) if (entry.heard) entry.lastSeenAt += 10_000;
  assert.deepEqual(ports(planDials(state(book))), [8003, 8002], "hints heard last, first");
  assert.deepEqual(ports(planDials(state(book, { hintDials: 1 }))), [8003, 7000]);
  assert.deepEqual(ports(planDials(state(book, { hintDials: 0 }))), [7000, 7001]);
  const full = { targetConnections: 4, connections: 4, hintDials: 0 };
  for (const explore of [0, 0.5, 0.99]) {
    const plan = planDials(state(book, { ...full, explore }));
    assert.ok(plan.every((entry) => !entry.heard), "no hint explored past the budget either");
  }
  assert.equal(HINT_DIALS_PER_SECOND, 2);
  assert.equal(HINT_DIAL_BURST, 4);
});

Deno.test("slow dials do not hold upkeep back, but dials in all are capped", () => {
  const book = bookOf(20);
  assert.equal(planDials(state(book, { dialsInFlight: 0, allDials: 6 })).length, 2);
  assert.equal(planDials(state(book, { dialsInFlight: 0, allDials: MAX_DIALS - 1 })).length, 1);
  assert.equal(planDials(state(book, { dialsInFlight: 0, allDials: MAX_DIALS })).length, 0);
});

Deno.test("past its target and slack, a peer drops a redundant neighbour, never a needed one", () => {
  const old = REBALANCE_MIN_AGE_MS;
  const n = (id: string, neighbours: string[], extra: Partial<Neighbour> = {}): Neighbour => ({
    id,
    age: old,
    pinned: false,
    neighbours: new Set(neighbours),
    ...extra,
  });
  const within = [n("a", ["b"]), n("b", ["a"]), n("c", [])];
  assert.equal(pickRedundant(within, 1), null, `${within.length} is within target + slack`);
  // b is also reached through a and c; d is reached only directly.
  const many = [n("a", ["b"]), n("b", ["a", "c"]), n("c", ["b"]), n("d", ["x"]), n("e", [])];
  assert.equal(pickRedundant(many, 2), "b");
  assert.equal(pickRedundant(many.map((x) => x.id === "b" ? { ...x, pinned: true } : x), 2), "a");
  assert.equal(pickRedundant(many.map((x) => ({ ...x, age: old - 1 })), 2), null, "young");
  const lonely = [n("a", []), n("b", []), n("c", []), n("d", []), n("e", [])];
  assert.equal(pickRedundant(lonely, 2), null, "nobody is redundant: keep them all");
  assert.equal(REBALANCE_SLACK, 2);
});

/** A peer as a round of upkeep sees it, holding `connections`, with what the round did to it. */
function fakePeer(book: AddressBook, connections: number, neighbours: Neighbour[] = []) {
  const done = { dialed: [] as number[], dropped: [] as string[], gossips: 0 };
  const peer: UpkeepPeer = {
    targetConnections: 4,
    maxConnections: 64,
    connections: () => connections + done.dialed.length,
    recentDials: () => done.dialed.length,
    allDials: () => done.dialed.length,
    neighbours: () => neighbours,
    drop: (id) => done.dropped.push(id),
    connectedIds: () => new Set(),
    busyAddresses: () => new Set(),
    candidates: () => book.dialable(),
    dial: (entry) => done.dialed.push(entry.port),
    gossip: () => done.gossips++,
  };
  return { peer, done };
}

Deno.test("a round of upkeep fills up to the target, and at the target explores only when due", () => {
  const book = bookOf(10);
  const below = fakePeer(book, 3);
  upkeepRound(below.peer, 0, Infinity, () => 0);
  assert.deepEqual(below.done.dialed, [7000], "one short of the target: one dial");
  assert.equal(below.done.gossips, 1, "and the neighbours are retold (if due)");
  const full = fakePeer(book, 4);
  assert.equal(upkeepRound(full.peer, 5000, 6000, () => 0), 6000, "not yet due");
  assert.deepEqual(full.done.dialed, []);
  const next = upkeepRound(full.peer, 6000, 6000, () => 0.5);
  assert.deepEqual(full.done.dialed, [7005], "due: the candidate halfway down the list");
  assert.equal(next, 6000 + EXPLORE_EVERY_MS, "and next due about 10 s later");
});

Deno.test("a round of upkeep drops a redundant neighbour only past the target and its slack", () => {
  const book = bookOf(0);
  const n = (id: string): Neighbour => ({
    id,
    age: REBALANCE_MIN_AGE_MS,
    pinned: false,
    neighbours: new Set(["a", "b", "c", "d", "e", "f", "g"].filter((x) => x !== id)),
  });
  const seven = ["a", "b", "c", "d", "e", "f", "g"].map(n);
  const within = fakePeer(book, 6, seven.slice(0, 6));
  upkeepRound(within.peer, 0, Infinity, Math.random);
  assert.deepEqual(within.done.dropped, []);
  const past = fakePeer(book, 7, seven);
  upkeepRound(past.peer, 0, Infinity, Math.random);
  assert.equal(past.done.dropped.length, 1);
});
