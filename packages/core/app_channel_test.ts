import assert from "node:assert/strict";
import { fakeRecord } from "./_fake_connection.ts";
import { appChannel, type AppPeerEvent, defineApp } from "./app_channel.ts";
import { BulkFiles } from "./bulk_files.ts";
import { ConnectError, ProtocolError } from "./errors.ts";
import { peerEmitter } from "./peer_events.ts";
import { Registry } from "./registry.ts";
import { s } from "./schema.ts";
import { closeAll, echo, peers, randomBytes, waitFor } from "./testing.ts";

const notes = defineApp("notes", s.map({ text: s.str(20) }));
const idOf = (i: number) => i.toString(16).padStart(32, "0");

/** A channel of `notes` over fake neighbours: 1 to 3 run it, 4 does not. */
function channelOf() {
  const registry = new Registry("ff".repeat(16));
  const neighbours = [1, 2, 3, 4].map((i) =>
    fakeRecord({ id: idOf(i), apps: i === 4 ? ["chat"] : ["chat", "notes"] })
  );
  for (const record of neighbours) {
    registry.add(record);
    registry.open(record, 60_000);
  }
  const channel = appChannel(notes, {
    registry,
    events: peerEmitter(() => {}),
    files: new BulkFiles(() => [], () => false),
    maxQueuedBytes: 2 ** 24,
    maxFrameSize: 2 ** 21,
  });
  return { channel, neighbours };
}

/** `body`, counting how often its fields are read. */
function counted<T extends Record<string, unknown>>(body: T) {
  const reads = { count: 0 };
  const proxy = new Proxy(body, {
    get(target, key, receiver) {
      if (typeof key === "string" && key in target) reads.count++;
      return Reflect.get(target, key, receiver);
    },
  });
  return { proxy, reads };
}

Deno.test("a broadcast reaches every neighbour that runs the app but the one excepted", () => {
  const { channel, neighbours } = channelOf();
  assert.equal(channel.broadcast({ text: "hi" }), 3);
  assert.equal(channel.broadcast({ text: "again" }, idOf(2)), 2);
  const got = neighbours.map((r) =>
    r.fake.sent.map((sent) => (sent.message as { body: unknown }).body)
  );
  assert.deepEqual(got, [
    [{ text: "hi" }, { text: "again" }],
    [{ text: "hi" }],
    [{ text: "hi" }, { text: "again" }],
    [],
  ]);
});

Deno.test("a broadcast body is checked and sized once, however many neighbours it goes to", () => {
  const { channel, neighbours } = channelOf();
  const once = counted({ text: "hi" });
  assert.equal(channel.broadcast(once.proxy, idOf(2)), 2);
  const thrice = counted({ text: "hi" });
  assert.equal(channel.broadcast(thrice.proxy), 3);
  assert.equal(thrice.reads.count, once.reads.count, "as many reads for three as for two");
  const sent = neighbours.slice(0, 3).map((r) => r.fake.sent.at(-1)!);
  assert.ok(sent.every((s) => s.message === sent[0].message), "one message for all");
  assert.ok(sent.every((s) => s.credit === sent[0].credit && s.credit > 0));
});

Deno.test("a body that breaks the app's schema throws once and goes to nobody", () => {
  const { channel, neighbours } = channelOf();
  const bad = { text: "far more than twenty characters" };
  assert.throws(() => channel.broadcast(bad), /notes message\.text/);
  assert.throws(
    () => channel.broadcast({ text: 7 } as unknown as { text: string }),
    (e: unknown) => e instanceof ProtocolError && /expected a string, got number 7/.test(e.message),
  );
  assert.ok(neighbours.every((r) => r.fake.sent.length === 0));
});

Deno.test("send goes to one neighbour, checked; an unknown peer is a ConnectError", async () => {
  const { channel, neighbours } = channelOf();
  await channel.send(idOf(2), { text: "to two" });
  assert.deepEqual(neighbours.map((r) => r.fake.sent.length), [0, 1, 0, 0]);
  await assert.rejects(() => channel.send(idOf(2), { text: "x".repeat(21) }), /notes message/);
  await assert.rejects(() => channel.send(idOf(9), { text: "hi" }), (e: unknown) => {
    assert.ok(e instanceof ConnectError);
    assert.equal(e.reason, "closed");
    assert.match(e.message, /not connected to peer 0+9/);
    return true;
  });
  neighbours[1].fake.closedWith = { reason: "going" };
  await assert.rejects(() => channel.send(idOf(2), { text: "hi" }), /is closing/);
});

Deno.test("the channel lists only the neighbours that run its app", () => {
  const { channel } = channelOf();
  assert.deepEqual(channel.peers().map((p) => p.id), [idOf(1), idOf(2), idOf(3)]);
});

Deno.test("an app without bulk fields cannot move bytes from or into files", async () => {
  const { channel } = channelOf();
  assert.throws(
    () => channel.receiveIntoFile("k", "/tmp/x"),
    /app "notes" declares no bulk fields/,
  );
  await assert.rejects(
    () => channel.sendFromFile(idOf(1), {}, { path: "/tmp/x", offset: 0, length: 1 }),
    /app "notes" declares no bulk fields/,
  );
});

Deno.test("onPeer reports only the neighbours that run the app, coming and going", async () => {
  const [a, b] = await peers(2);
  const [c] = await peers(1, { apps: [notes], nick: "c" });
  const events: AppPeerEvent[] = [];
  const off = a.app(echo).onPeer((event) => events.push(event));
  try {
    await b.connect("127.0.0.1", a.port);
    await c.connect("127.0.0.1", a.port);
    await waitFor(() => a.peers().length === 2, "a to see b and c");
    assert.deepEqual(a.app(echo).peers().map((p) => p.id), [b.id]);
    await c.close();
    await b.close();
    await waitFor(() => a.peers().length === 0, "a to see both leave");
    assert.deepEqual(
      events.map((e) => [e.type, e.peer.id]),
      [["joined", b.id], ["left", b.id]],
    );
    assert.equal((events[1] as { reason: string }).reason, "peer said bye: peer shutting down");
    off();
    const [d] = await peers(1);
    await d.connect("127.0.0.1", a.port);
    await waitFor(() => a.peers().length === 1, "a to see d");
    assert.equal(events.length, 2, "unsubscribed");
    await d.close();
  } finally {
    await closeAll([a, b, c]);
  }
});

Deno.test("binary payloads arrive intact in both directions, also a frame eight times the ring", async () => {
  // Peers whose apps move no bulk bytes have 128 KiB rings: a 1 MiB frame is assembled by copy.
  const [a, b] = await peers(2);
  try {
    const data = randomBytes(1 << 20);
    const atA = Promise.withResolvers<Uint8Array>();
    const atB = Promise.withResolvers<Uint8Array>();
    a.app(echo).onMessage((body) => atA.resolve(body.data!));
    b.app(echo).onMessage((body) => atB.resolve(body.data!));
    await a.connect("127.0.0.1", b.port);
    await waitFor(() => b.peers().length === 1, "b to see a");
    await a.app(echo).send(b.id, { text: "x", data });
    await b.app(echo).send(a.id, { text: "y", data: data.subarray(7, 1000) });
    assert.deepEqual(await atB.promise, data);
    assert.deepEqual(await atA.promise, data.subarray(7, 1000));
  } finally {
    await closeAll([a, b]);
  }
});

Deno.test("ten peers in a star: every leaf's message reaches the hub, the hub's reaches all", async () => {
  const list = await peers(10);
  const [hub, ...leaves] = list;
  try {
    const atHub: string[] = [];
    hub.app(echo).onMessage((body) => atHub.push(body.text));
    const atLeaves = leaves.map(() => [] as string[]);
    leaves.forEach((leaf, i) => leaf.app(echo).onMessage((body) => atLeaves[i].push(body.text)));
    await Promise.all(leaves.map((leaf) => leaf.connect("127.0.0.1", hub.port)));
    await waitFor(() => hub.peers().length === 9, "hub to see 9 leaves");
    leaves.forEach((leaf, i) => leaf.app(echo).broadcast({ text: `leaf ${i}` }));
    assert.equal(hub.app(echo).broadcast({ text: "from hub" }), 9);
    await waitFor(
      () => atHub.length === 9 && atLeaves.every((l) => l.length === 1),
      "all messages",
    );
    assert.deepEqual(atHub.sort(), leaves.map((_, i) => `leaf ${i}`).sort());
    for (const seen of atLeaves) assert.deepEqual(seen, ["from hub"]);
  } finally {
    await closeAll(list);
  }
});
