import assert from "node:assert/strict";
import type { Peer, PeerInfo } from "@meshtalk/core";
import { closeAll, peers, waitFor } from "@meshtalk/core/testing";
import { type Announced, Announcer } from "./announcer.ts";
import { FileShareError } from "./errors.ts";
import { type Manifest, manifestRoot } from "./manifest.ts";
import { type Announcement, announcement, filesApp } from "./wire.ts";

async function manifestOf(name: string): Promise<Manifest> {
  const fields = { name, size: 10, pieceSize: 16384, pieces: new Uint8Array(32) };
  return { ...fields, root: await manifestRoot(fields) };
}

/** A peer's announcer, taking in every announcement it is sent; what came of each is kept. */
function announcerOf(peer: Peer) {
  const announcer = new Announcer(peer, peer.app(filesApp));
  const taken: (Announced | null)[] = [];
  const refused: FileShareError[] = [];
  const heard: Announcement[] = [];
  peer.app(filesApp).onMessage((body, from) => {
    if (body.t !== "announce") return;
    heard.push(body);
    announcer.receive(body, from).then((r) => taken.push(r), (e) => refused.push(e));
  });
  return { announcer, taken, refused, heard };
}

function neighbour(peer: Peer, address: string | null = null): PeerInfo {
  return {
    id: peer.id,
    nick: peer.nick,
    address,
    remoteAddress: "127.0.0.1:1",
    direction: "inbound",
    state: "open",
    rttMs: null,
    apps: ["files"],
    connectedAt: 0,
  };
}

Deno.test("a held file travels hop by hop, each peer recording the holder and where it listens", async () => {
  const [a, b, c] = await peers(3, { apps: [filesApp] });
  try {
    const [, atB, atC] = [a, b, c].map(announcerOf);
    const atA = new Announcer(a, a.app(filesApp));
    await b.connect("127.0.0.1", a.port);
    await c.connect("127.0.0.1", b.port);
    await waitFor(() => a.peers().length === 1 && b.peers().length === 2, "the chain a - b - c");
    const manifest = await manifestOf("report.pdf");
    atA.announceHeld(manifest, await atA.signatureFor(manifest));
    await waitFor(() => atC.taken.length === 1, "the announcement two hops away");
    assert.equal(atB.taken[0]?.isNew, true);
    assert.equal(atC.taken[0]?.isNew, true);
    assert.equal(atC.heard[0].hops, 15, "one hop spent at the relay");
    assert.equal(atC.heard[0].origin, a.id, "signed by the first announcer");
    const holders = atC.announcer.catalog.get(manifest.root)!.holders;
    assert.deepEqual([...holders.keys()], [a.id]);
    assert.equal(holders.get(a.id), `127.0.0.1:${a.port}`, "a's address, as b saw it");
    // Announced again: every peer has handled it already.
    atA.announceHeld(manifest, atA.catalog.get(manifest.root)!.signature);
    await waitFor(() => atB.taken.length === 2, "the repeat at b");
    assert.equal(atB.taken[1], null);
    assert.deepEqual(atB.refused, []);
  } finally {
    await closeAll([a, b, c]);
  }
});

Deno.test("a new neighbour hears of every known file, naming this peer where it holds one", async () => {
  const [a, b] = await peers(2, { apps: [filesApp] });
  try {
    const atA = new Announcer(a, a.app(filesApp));
    const atB = announcerOf(b);
    const own = await manifestOf("own.txt");
    atA.announceHeld(own, await atA.signatureFor(own));
    const heard = await manifestOf("heard.txt");
    const far = "ab".repeat(16);
    atA.catalog.add(heard, await atA.signatureFor(heard), far, "10.0.0.9:9");
    const theirs = await manifestOf("theirs.txt");
    atA.catalog.add(theirs, await atA.signatureFor(theirs), b.id, null);
    await b.connect("127.0.0.1", a.port);
    await waitFor(() => a.peers().length === 1, "b connected");
    await atA.introduce(b.id);
    await waitFor(() => atB.heard.length === 2, "two announcements");
    const byName = new Map(atB.heard.map((body) => [body.name, body]));
    assert.equal(byName.get("own.txt")?.holder, a.id);
    assert.equal(byName.get("heard.txt")?.holder, far);
    assert.equal(byName.get("heard.txt")?.address, "10.0.0.9:9");
    assert.equal(byName.has("theirs.txt"), false, "not told of what it holds itself");
  } finally {
    await closeAll([a, b]);
  }
});

Deno.test("a forged or altered announcement is refused, naming who sent it; a full catalog is said once", async () => {
  const [a, liar] = await peers(2, { apps: [filesApp] });
  try {
    const announcer = new Announcer(a, a.app(filesApp), { maxFiles: 1 });
    const from = neighbour(liar);
    const manifest = await manifestOf("a.txt");
    const liars = new Announcer(liar, liar.app(filesApp));
    const signed = await liars.signatureFor(manifest);
    const forged = { ...signed, origin: "cd".repeat(16) };
    const refusal = (body: Announcement) =>
      announcer.receive(body, from).then(() => null, (e) => e);
    const bad = await refusal(announcement(manifest, forged, liar.id, null, 1));
    assert.ok(bad instanceof FileShareError);
    assert.equal(bad.code, "bad-manifest");
    assert.match(
      bad.message,
      new RegExp(`signing key is not the key .*announced by p1 ${liar.id.slice(0, 8)}`),
    );
    const altered = await refusal(
      announcement({ ...manifest, size: 11 }, signed, liar.id, null, 1),
    );
    assert.match(altered.message, /root hash does not match/);
    assert.equal(announcer.catalog.size, 0);

    const taken = await announcer.receive(announcement(manifest, signed, liar.id, null, 1), from);
    assert.equal(taken?.isNew, true);
    const more = [await manifestOf("b.txt"), await manifestOf("c.txt")];
    const signedMore = await Promise.all(more.map((m) => liars.signatureFor(m)));
    const full = await refusal(announcement(more[0], signedMore[0], liar.id, null, 1));
    assert.equal(full?.code, "catalog-full");
    assert.match(full.message, /ignoring new announcements \(b\.txt from p1 /);
    const last = announcement(more[1], signedMore[1], liar.id, null, 1);
    const quiet = await announcer.receive(last, from);
    assert.equal(quiet, null, "said once a minute at most");
  } finally {
    await closeAll([a, liar]);
  }
});
