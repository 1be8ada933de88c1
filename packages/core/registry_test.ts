import assert from "node:assert/strict";
import { fakeRecord } from "./_fake_connection.ts";
import { preferredConnection, Registry } from "./registry.ts";
import type { Peer } from "./peer.ts";
import { closeAll, echo, peers, record, within } from "./testing.ts";

const low = "11".repeat(16);
const high = "ee".repeat(16);

/** A connection as `preferredConnection` sees it. */
interface Side {
  direction: "inbound" | "outbound";
  remote: { id: string };
  ephemeralKeys: { mine: string; theirs: string };
}

Deno.test("both sides keep the same one of two connections, whoever looks and in whatever order", () => {
  // Two connections between `low` and `high`, each described as each side sees it.
  const cases = [
    { dialer: [low, high], keys: ["aa", "bb"] },
    { dialer: [high, low], keys: ["aa", "bb"] },
    { dialer: [low, low], keys: ["aa", "bb"] },
    { dialer: [high, high], keys: ["bb", "aa"] },
  ];
  for (const { dialer, keys } of cases) {
    const seenBy = (me: string, other: string) =>
      dialer.map((who, i) => ({
        direction: who === me ? "outbound" as const : "inbound" as const,
        remote: { id: other },
        // The dialer's key is "mine" on its side, "theirs" on the other.
        ephemeralKeys: who === me
          ? { mine: keys[i], theirs: "00" }
          : { mine: "00", theirs: keys[i] },
      }));
    const atLow = seenBy(low, high);
    const atHigh = seenBy(high, low);
    for (const [first, second] of [[0, 1], [1, 0]]) {
      const keptAtLow = atLow.indexOf(preferredConnection(atLow[first], atLow[second], low));
      const keptAtHigh = atHigh.indexOf(preferredConnection(atHigh[first], atHigh[second], high));
      assert.equal(keptAtLow, keptAtHigh, JSON.stringify({ dialer, keys, first }));
    }
  }
});

Deno.test("a connection dialed by the lower id wins; between two of one dialer, the lower key", () => {
  const byLow: Side = {
    direction: "outbound" as const,
    remote: { id: high },
    ephemeralKeys: { mine: "ff", theirs: "00" },
  };
  const byHigh: Side = {
    direction: "inbound" as const,
    remote: { id: high },
    ephemeralKeys: { mine: "00", theirs: "01" },
  };
  assert.equal(preferredConnection(byHigh, byLow, low), byLow);
  assert.equal(preferredConnection(byLow, byHigh, low), byLow);
  const again: Side = { ...byLow, ephemeralKeys: { mine: "01", theirs: "00" } };
  assert.equal(preferredConnection(byLow, again, low), again);
});

Deno.test("a second connection to a peer is collapsed: the kept one stays, the other is handed back to end", () => {
  const registry = new Registry(low);
  const first = fakeRecord({
    id: high,
    direction: "inbound",
    ephemeralKeys: { mine: "00", theirs: "01" },
  });
  const second = fakeRecord({
    id: high,
    direction: "outbound",
    dialed: { host: "127.0.0.1", port: 7000 },
    ephemeralKeys: { mine: "ff", theirs: "00" },
  });
  registry.add(first);
  assert.deepEqual(registry.open(first, 60_000), { kind: "first", returning: false });
  registry.add(second);
  const opened = registry.open(second, 60_000);
  assert.deepEqual(
    opened,
    { kind: "duplicate", kept: second, dropped: first },
    "the one the lower id dialed",
  );
  assert.equal(registry.byId.get(high), second);
  // Ended gracefully by the caller (see handover.ts): the other side may still be sending on it.
  assert.equal(first.fake.closedWith, null);
  assert.equal(second.fake.closedWith, null);
  assert.equal(registry.peers().length, 1);
});

Deno.test("a new connection replaces one that is closing or silent (the peer restarted), or that the other side drops", () => {
  for (const state of ["closing", "silent", "replaced"]) {
    const registry = new Registry(low);
    const old = fakeRecord({
      id: high,
      direction: "outbound",
      ephemeralKeys: { mine: "00", theirs: "00" },
    });
    registry.add(old);
    registry.open(old, 1000);
    if (state === "closing") old.fake.closedWith = { reason: "going" };
    else old.fake.lastReceivedAt = performance.now() - 5000;
    // Silent too, as nothing follows a bye; but not a dead socket: the caller ends it gracefully.
    if (state === "replaced") old.replaced = true;
    const fresh = fakeRecord({ id: high, direction: "inbound" }); // preferred would keep `old`
    registry.add(fresh);
    assert.deepEqual(
      registry.open(fresh, 1000),
      { kind: "duplicate", kept: fresh, dropped: state === "replaced" ? old : null },
      state,
    );
    assert.equal(
      old.fake.closedWith?.reason,
      { closing: "going", silent: "duplicate connection", replaced: undefined }[state],
    );
  }
});

Deno.test("a peer whose connection the other side dropped as a duplicate departs only if no twin comes", () => {
  const registry = new Registry(low);
  const replaced = fakeRecord({ id: high });
  registry.add(replaced);
  registry.open(replaced, 60_000);
  replaced.replaced = true;
  registry.remove(replaced);
  assert.equal(registry.release(replaced, "peer said bye: duplicate connection", 1000), null);
  assert.deepEqual(registry.expireDeparting(999), []);
  const gone = registry.expireDeparting(1000);
  assert.equal(gone.length, 1);
  assert.equal(gone[0].peer.id, high);
  assert.equal(gone[0].reason, "peer said bye: duplicate connection");

  // With a twin in time: the peer never left.
  const again = fakeRecord({ id: high });
  registry.add(again);
  registry.open(again, 60_000);
  again.replaced = true;
  registry.remove(again);
  registry.release(again, "peer said bye: duplicate connection", 1000);
  const twin = fakeRecord({ id: high });
  registry.add(twin);
  assert.deepEqual(registry.open(twin, 60_000), { kind: "first", returning: true });
  assert.deepEqual(registry.expireDeparting(), []);
});

Deno.test("a closed connection leaves its peer, unless another connection is the peer's", () => {
  const registry = new Registry(low);
  const kept = fakeRecord({ id: high });
  const loser = fakeRecord({ id: high });
  registry.add(kept);
  registry.add(loser);
  registry.open(kept, 60_000);
  registry.remove(loser);
  assert.equal(registry.release(loser, "duplicate connection", null), null);
  assert.equal(registry.peers().length, 1);
  registry.remove(kept);
  assert.equal(registry.release(kept, "peer said bye", null)?.id, high);
  assert.equal(registry.peers().length, 0);
  assert.equal(registry.connections().length, 0);
});

Deno.test("a connection is found by peer id, an id prefix of six or more, its address or its port", () => {
  const registry = new Registry(low);
  const inbound = fakeRecord({ id: high, listenPort: 7100, remotePort: 50_000 });
  const outbound = fakeRecord({
    id: "ab".repeat(16),
    direction: "outbound",
    dialed: { host: "127.0.0.1", port: 7200 },
  });
  for (const r of [inbound, outbound]) {
    registry.add(r);
    registry.open(r, 60_000);
  }
  assert.equal(registry.find(high), inbound);
  assert.equal(registry.find(high.slice(0, 6)), inbound);
  assert.equal(registry.find(high.slice(0, 5)), undefined, "too short a prefix");
  assert.equal(registry.find("127.0.0.1:7100"), inbound, "where it listens");
  assert.equal(registry.find("7100"), inbound);
  assert.equal(registry.find("127.0.0.1:50000"), inbound, "the other end of the socket");
  assert.equal(registry.find("7200"), outbound);
  assert.equal(registry.find("7300"), undefined);
});

Deno.test("what users see of a connection follows its life", () => {
  const registry = new Registry(low);
  const record = fakeRecord({ direction: "outbound", dialed: { host: "::1", port: 7000 } });
  registry.add(record);
  assert.equal(registry.info(record).state, "handshaking");
  assert.equal(registry.info(record).id, "");
  assert.equal(registry.info(record).address, "[::1]:7000");
  record.remote = { id: high, key: new Uint8Array(32), nick: "ada", apps: ["echo"] };
  record.ephemeralKeys = { mine: "00", theirs: "00" };
  registry.open(record, 60_000);
  const info = registry.info(record);
  assert.deepEqual(
    [info.id, info.nick, info.state, info.apps, info.direction],
    [high, "ada", "open", ["echo"], "outbound"],
  );
  record.fake.closedWith = { reason: "bye" };
  assert.equal(registry.info(record).state, "closing");
  const inbound = fakeRecord({ id: "ab".repeat(16) });
  assert.equal(registry.info(inbound).address, null, "it announced no port");
});

/** `from` broadcasts `text`, and `to` receives it. */
async function assertBroadcastReaches(from: Peer, to: Peer, text: string): Promise<void> {
  const got = Promise.withResolvers<string>();
  to.app(echo).onMessage((body) => got.resolve(body.text));
  from.app(echo).broadcast({ text });
  assert.equal(await within(got.promise, "the message"), text);
}

Deno.test("peers dialing each other at once keep exactly one connection", async () => {
  for (let round = 0; round < 5; round++) {
    const [a, b] = await peers(2);
    const connectedA = record(a, "peer:connected");
    const connectedB = record(b, "peer:connected");
    const lostA = record(a, "peer:disconnected");
    const lostB = record(b, "peer:disconnected");
    try {
      const [fromA, fromB] = await Promise.all([
        a.connect("127.0.0.1", b.port),
        b.connect("127.0.0.1", a.port),
      ]);
      assert.equal(fromA.id, b.id);
      assert.equal(fromB.id, a.id);
      await new Promise((r) => setTimeout(r, 100)); // let the losing connection finish closing
      assert.equal(a.peers().length, 1);
      assert.equal(b.peers().length, 1);
      // Both sides kept the same socket: what one dialed, the other accepted.
      assert.notEqual(a.peers()[0].direction, b.peers()[0].direction);
      assert.equal(connectedA.length, 1);
      assert.equal(connectedB.length, 1);
      assert.equal(
        lostA.length + lostB.length,
        0,
        "no disconnect is reported for the dropped duplicate",
      );
      await assertBroadcastReaches(a, b, "still here");
    } finally {
      await closeAll([a, b]);
    }
  }
});

/** A TCP proxy to `target` that delays each direction by its own amount: a route of its own. */
function delayingProxy(target: number, delayOut: number, delayBack: number) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const open = new Set<Deno.Conn>();
  const pipes: Promise<void>[] = [];
  const pipe = async (from: Deno.Conn, to: Deno.Conn, delay: number) => {
    const buffer = new Uint8Array(65536);
    try {
      while (true) {
        const count = await from.read(buffer);
        if (count === null) break;
        const chunk = buffer.slice(0, count);
        await new Promise((r) => setTimeout(r, delay));
        await to.write(chunk);
      }
    } catch { /* closed */ }
    for (const conn of [from, to]) {
      try {
        conn.close();
      } catch { /* closed already */ }
    }
  };
  const accepting = (async () => {
    for await (const client of listener) {
      const upstream = await Deno.connect({ hostname: "127.0.0.1", port: target });
      open.add(client).add(upstream);
      pipes.push(pipe(client, upstream, delayOut), pipe(upstream, client, delayBack));
    }
  })();
  return {
    port: listener.addr.port,
    async close() {
      listener.close();
      await accepting;
      await Promise.all(pipes);
    },
  };
}

Deno.test("two connections dialed by one peer over different routes collapse to the same one on both sides", async () => {
  const [a, b] = await peers(2, { handshakeTimeoutMs: 3000 });
  const events: string[] = [];
  for (const [name, peer] of [["A", a], ["B", b]] as const) {
    peer.on("peer:connected", () => events.push(`${name} connected`));
    peer.on("peer:disconnected", () => events.push(`${name} disconnected`));
  }
  // Route 1 is slow towards A, route 2 slow towards B: each side sees the two handshakes
  // finish in the opposite order, so "the newer one" would differ between them.
  const route1 = delayingProxy(b.port, 0, 150);
  const route2 = delayingProxy(b.port, 150, 0);
  try {
    await Promise.all([a.connect("127.0.0.1", route1.port), a.connect("127.0.0.1", route2.port)]);
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(a.peers().length, 1);
    assert.equal(b.peers().length, 1);
    assert.deepEqual(events.sort(), ["A connected", "B connected"]);
    await assertBroadcastReaches(a, b, "over the kept route");
  } finally {
    await closeAll([a, b]);
    await Promise.all([route1.close(), route2.close()]);
  }
});
