import assert from "node:assert/strict";
import { fakeRecord } from "./_fake_connection.ts";
import { Handover } from "./handover.ts";
import { generateIdentity } from "./identity.ts";
import type { AppMessage } from "./messages.ts";
import { defineApp, type Peer } from "./peer.ts";
import type { ConnectionRecord } from "./registry.ts";
import { s } from "./schema.ts";
import {
  closeAll,
  echo,
  type Frame,
  peers,
  randomBytes,
  RawPeer,
  record,
  waitFor,
  within,
} from "./testing.ts";

const ID = "ab".repeat(16);
const GRACE = 10_000;

/** A handover whose peer's connection is `chosen`, and the texts it delivered, in order. */
function handoverWith(chosen: ConnectionRecord) {
  const byId = new Map([[ID, chosen]]);
  const delivered: string[] = [];
  const handover = new Handover({
    registry: { byId },
    graceMs: GRACE,
    deliver: (_record, message) => delivered.push(message.body.text as string),
  });
  return { handover, byId, delivered };
}

const say = (text: string): AppMessage => ({ t: "app", app: "echo", body: { text } });
/** Lets promise callbacks run (a fake connection's `endSending` resolves at once). */
const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

Deno.test("a dropped connection says bye after what it queued; what arrives on it comes first", async () => {
  const kept = fakeRecord({ id: ID });
  const dropped = fakeRecord({ id: ID });
  const { handover, delivered } = handoverWith(kept);
  handover.collapse(kept, dropped, false);
  assert.deepEqual(dropped.fake.endedWith, {
    reason: "duplicate connection",
    code: "duplicate",
    withinMs: GRACE,
  });
  assert.equal(kept.fake.paused, false, "nothing was sent on the dropped one: no need to wait");
  handover.receive(kept, say("on the kept one"));
  handover.receive(dropped, say("on the dropped one"));
  assert.deepEqual(delivered, ["on the dropped one"], "the kept one's wait for the dropped one");
  await settle();
  assert.equal(dropped.fake.closedWith, null, "read until the other side's bye");
  handover.heardBye(dropped);
  assert.deepEqual(delivered, ["on the dropped one", "on the kept one"]);
  handover.receive(kept, say("later"));
  assert.deepEqual(delivered.at(-1), "later");
  await settle();
  assert.deepEqual(
    dropped.fake.closedWith,
    { reason: "duplicate connection", code: undefined },
    "both said bye: closed",
  );
});

Deno.test("a side that sent on the dropped connection sends nothing on the kept one until the other side's bye", () => {
  const kept = fakeRecord({ id: ID });
  const dropped = fakeRecord({ id: ID });
  const { handover } = handoverWith(kept);
  handover.collapse(kept, dropped, true);
  assert.equal(kept.fake.paused, true);
  handover.heardBye(dropped);
  assert.equal(kept.fake.paused, false);
});

Deno.test("a connection still ours that the other side drops is used until its twin opens", async () => {
  const first = fakeRecord({ id: ID });
  const { handover, byId, delivered } = handoverWith(first);
  handover.heardBye(first);
  assert.equal(first.replaced, true);
  assert.equal(first.fake.closing, false, "the other side reads on: we may still send");
  assert.equal(first.fake.closesAfter?.ms, GRACE, "for the handshake timeout at most");
  assert.ok(first.twinDeadline! > performance.now());
  const twin = fakeRecord({ id: ID });
  byId.set(ID, twin);
  handover.collapse(twin, first, true);
  assert.equal(twin.fake.paused, false, "the other side has both: nothing to wait for");
  handover.receive(twin, say("on the twin"));
  assert.deepEqual(delivered, ["on the twin"]);
  assert.equal(first.fake.endedWith?.code, "duplicate", "what we queued on it, then our bye");
  await settle();
  assert.equal(first.fake.closedWith?.reason, "duplicate connection");
});

Deno.test("a dropped connection that closes without a bye lets the kept one go on", () => {
  const kept = fakeRecord({ id: ID });
  const dropped = fakeRecord({ id: ID });
  const { handover, delivered } = handoverWith(kept);
  handover.collapse(kept, dropped, true);
  handover.receive(kept, say("held"));
  handover.closed(dropped);
  assert.deepEqual(delivered, ["held"]);
  assert.equal(kept.fake.paused, false);
});

Deno.test("three connections to one peer: each one's messages wait for the one before", () => {
  const [oldest, middle, newest] = [
    fakeRecord({ id: ID }),
    fakeRecord({ id: ID }),
    fakeRecord({ id: ID }),
  ];
  const { handover, byId, delivered } = handoverWith(middle);
  handover.collapse(middle, oldest, true);
  byId.set(ID, newest);
  handover.collapse(newest, middle, true);
  handover.receive(newest, say("3"));
  handover.receive(middle, say("2"));
  handover.receive(oldest, say("1"));
  assert.deepEqual(delivered, ["1"]);
  handover.heardBye(oldest);
  assert.deepEqual(delivered, ["1", "2"], "the middle one may still carry more: the newest waits");
  assert.equal(newest.fake.paused, true);
  handover.heardBye(middle);
  assert.deepEqual(delivered, ["1", "2", "3"]);
  assert.equal(newest.fake.paused, false);
});

/** A raw connection to `peer` as `identity`, announcing the echo app. */
async function rawTo(peer: Peer, identity: Awaited<ReturnType<typeof generateIdentity>>) {
  const raw = await RawPeer.dial(peer.port);
  await raw.handshake(identity, { apps: ["echo"] });
  return raw;
}

/** The texts of the echo messages among `frames`, and where a bye came. */
function textsOf(frames: (Frame | null)[]): string[] {
  return frames.map((f) =>
    f === null ? "end" : f.t === "bye" ? `bye ${f.code}` : String((f.body as Frame).text)
  );
}

/** Reads app messages and byes off `raw` until the socket ends. */
async function readToEnd(raw: RawPeer): Promise<string[]> {
  const frames: (Frame | null)[] = [];
  while (true) {
    const frame = await raw.next();
    if (frame === null || frame.t === "app" || frame.t === "bye") frames.push(frame);
    if (frame === null) return textsOf(frames);
  }
}

Deno.test("on the wire: the side that drops a duplicate still delivers what arrives on it, first", async () => {
  const [peer] = await peers(1);
  const identity = await generateIdentity();
  const got: string[] = [];
  peer.app(echo).onMessage((body) => got.push(body.text));
  const raws = [await rawTo(peer, identity), await rawTo(peer, identity)];
  try {
    // Both were dialed by us: the peer keeps the one whose hello key is lower, and says bye on
    // the other.
    const byes = raws.map((raw, i) => raw.next("bye").then((bye) => ({ i, bye })));
    const { i, bye } = await within(Promise.race(byes), "a bye on one of them");
    assert.equal(bye?.code, "duplicate");
    const [dropped, kept] = [raws[i], raws[1 - i]];
    await dropped.send({ t: "app", app: "echo", body: { text: "late, on the dropped one" } });
    await kept.send({ t: "app", app: "echo", body: { text: "on the kept one" } });
    await dropped.send({ t: "bye", reason: "duplicate connection", code: "duplicate" });
    await waitFor(() => got.length === 2, "both messages");
    assert.deepEqual(got, ["late, on the dropped one", "on the kept one"]);
    assert.equal(await within(dropped.next(), "the dropped one closed"), null);
    await waitFor(() => peer.connections().length === 1, "one connection left");
  } finally {
    await peer.close();
    await Promise.all(raws.map((raw) => raw.close()));
  }
});

Deno.test("on the wire: a side told duplicate on the connection it uses sends on it until the twin opens", async () => {
  const [peer] = await peers(1);
  const identity = await generateIdentity();
  const lost = record(peer, "peer:disconnected");
  const first = await rawTo(peer, identity);
  const twin = await RawPeer.dial(peer.port);
  try {
    await waitFor(() => peer.peers().length === 1, "the peer connected");
    await first.send({ t: "bye", reason: "duplicate connection", code: "duplicate" });
    const id = peer.peers()[0].id;
    await peer.app(echo).send(id, { text: "after their bye" });
    await twin.handshake(identity, { apps: ["echo"] });
    const twinAddress = `127.0.0.1:${twin.conn.localAddr.port}`;
    await waitFor(() => peer.peers()[0]?.remoteAddress === twinAddress, "the twin the peer's");
    await peer.app(echo).send(id, { text: "once the twin is open" });
    assert.deepEqual(await within(readToEnd(first), "the first one ends"), [
      "after their bye",
      "bye duplicate",
      "end",
    ]);
    const onTwin = await within(twin.next("app"), "the message on the twin");
    assert.equal((onTwin?.body as Frame).text, "once the twin is open");
    assert.equal(peer.connections().length, 1);
    assert.deepEqual(lost, [], "the peer never left");
  } finally {
    await peer.close();
    await Promise.all([first.close(), twin.close()]);
  }
});

const blob = defineApp(
  "blob",
  s.map({ file: s.str(64), offset: s.uint(), data: s.bin(1 << 20) }),
  { bulk: { data: "data", key: "file", offset: "offset" } },
);
const PIECE = 64 * 1024;
const PIECES = 4;
const MESSAGES = 40;

/** One side of a round: what it sent, in the order it sent it, and what it received. */
interface Side {
  peer: Peer;
  sent: string[];
  received: string[];
  failures: string[];
}

/**
 * Sends to `to`, starting at once: numbered messages, every other one to `to` alone and the rest
 * broadcast, with a piece of `source` sent from the file after every tenth. `sent` is written as
 * each message is handed to the core, so it is the order the app sent in.
 */
async function stream(side: Side, to: string, tag: string, source: string): Promise<void> {
  const channel = side.peer.app(echo);
  try {
    for (let i = 0; i < MESSAGES; i++) {
      const text = `${tag} ${i}`;
      side.sent.push(text);
      if (i % 2 === 0) await channel.send(to, { text });
      else if (channel.broadcast({ text }) !== 1) throw new Error(`${text} reached no one`);
      if (i % 10 === 9 && tag === "dial") {
        const offset = (i - 9) / 10 * PIECE;
        side.sent.push(`piece ${offset}`);
        await side.peer.app(blob).sendFromFile(to, { file: "f", offset }, {
          path: source,
          offset,
          length: PIECE,
        });
      }
    }
  } catch (error) {
    side.failures.push(`${tag}: ${(error as Error).message}`);
  }
}

/** Starts `side` hearing messages, and writing pieces it is sent into `copy`. */
function listen(side: Side, copy: string): void {
  side.peer.app(echo).onMessage((body) => side.received.push(body.text));
  side.peer.app(blob).receiveIntoFile("f", copy, { size: PIECE * PIECES });
  side.peer.app(blob).onMessage((body, _from, stored) => {
    if (stored?.status !== "written") side.failures.push(`piece ${body.offset} not written`);
    side.received.push(`piece ${body.offset}`);
  });
}

Deno.test("peers dialing each other at once lose nothing: every message once, in the order sent", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const source = `${dir}/source`;
    const bytes = randomBytes(PIECE * PIECES);
    await Deno.writeFile(source, bytes);
    for (let round = 0; round < 30; round++) {
      const [a, b] = await peers(2, { apps: [echo, blob] });
      const sides: Side[] = [a, b].map((peer) => ({ peer, sent: [], received: [], failures: [] }));
      const [sa, sb] = sides;
      const disconnected = [record(a, "peer:disconnected"), record(b, "peer:disconnected")];
      const connected = [record(a, "peer:connected"), record(b, "peer:connected")];
      try {
        const copies = [`${dir}/copy-a-${round}`, `${dir}/copy-b-${round}`];
        sides.forEach((side, i) => listen(side, copies[i]));
        for (const [side, other] of [[sa, sb], [sb, sa]]) {
          side.peer.on("peer:connected", (peer) => {
            if (peer.id === other.peer.id) stream(side, peer.id, "event", source);
          });
        }
        const dials = [[sa, sb], [sb, sa]].map(([side, other]) =>
          side.peer.connect("127.0.0.1", other.peer.port).then((peer) =>
            stream(side, peer.id, "dial", source)
          )
        );
        await Promise.all(dials);
        const all = () => sa.sent.length + sb.sent.length;
        await waitFor(
          () => sa.received.length === sb.sent.length && sb.received.length === sa.sent.length,
          `round ${round}: every message (${sa.received.length + sb.received.length} of ${all()})`,
          20_000,
        ).catch((error) => {
          throw new Error(`${error.message}; ${JSON.stringify(sides.map((s) => s.failures))}`);
        });
        assert.deepEqual(sa.failures.concat(sb.failures), [], `round ${round}`);
        assert.deepEqual(sb.received, sa.sent, `round ${round}: what a sent, as b got it`);
        assert.deepEqual(sa.received, sb.sent, `round ${round}: what b sent, as a got it`);
        for (const copy of copies) assert.deepEqual(await Deno.readFile(copy), bytes);
        await waitFor(
          () => a.connections().length === 1 && b.connections().length === 1,
          `round ${round}: one connection left on each side`,
        );
        assert.equal(a.peers().length, 1);
        assert.equal(b.peers().length, 1);
        assert.notEqual(a.peers()[0].direction, b.peers()[0].direction, "the same socket");
        assert.deepEqual(connected.map((c) => c.length), [1, 1]);
        assert.deepEqual(disconnected.map((d) => d.length), [0, 0]);
      } finally {
        await closeAll([a, b]);
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
