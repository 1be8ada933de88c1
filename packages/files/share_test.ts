import assert from "node:assert/strict";
import { type Peer, type PeerEvents, startPeer } from "@meshtalk/core";
import { randomBytes, waitFor } from "@meshtalk/core/testing";
import {
  createFileShare,
  filesApp,
  type FileShare,
  FileShareError,
  type FileShareEvents,
  type FileShareOptions,
  formatLink,
  type Manifest,
  manifestRoot,
  pieceCount,
  signingBytes,
} from "./mod.ts";

/** The signature fields of an announcement whose manifest `peer` first announced. */
async function signedBy(peer: Peer, root: string) {
  return { origin: peer.id, key: peer.publicKey, sig: await peer.sign(signingBytes(root)) };
}

/** A peer that runs files but no share: it says on the wire whatever a test makes it say. */
function startLiar(): Promise<Peer> {
  return startPeer({ host: "127.0.0.1", apps: [filesApp], targetConnections: 0, log: () => {} });
}

/** `liar` announces to `to`, as its first announcer and holder, a manifest of these fields. */
async function announceAs(
  liar: Peer,
  to: string,
  fields: Omit<Manifest, "root">,
): Promise<void> {
  const root = await manifestRoot(fields);
  await liar.app(filesApp).send(to, {
    t: "announce",
    ...fields,
    root,
    ...await signedBy(liar, root),
    holder: liar.id,
    hops: 1,
  });
}

/** Generous: arrival is waited for, never timed. */
const LONG = 60_000;

interface Node {
  peer: Peer;
  share: FileShare;
  saved: FileShareEvents["saved"][];
  rejected: FileShareEvents["piece-rejected"][];
  errors: string[];
  /** Pieces received, by the id of the peer that sent them. */
  piecesFrom: Map<string, number>;
}

async function startNode(out: string, options: FileShareOptions = {}): Promise<Node> {
  const peer = await startPeer({
    host: "127.0.0.1",
    apps: [filesApp],
    targetConnections: 0,
    log: () => {},
    handshakeTimeoutMs: 30_000,
  });
  const share = createFileShare(peer, { out, ...options });
  const node: Node = { peer, share, saved: [], rejected: [], errors: [], piecesFrom: new Map() };
  share.on("saved", (e) => node.saved.push(e));
  share.on("piece-rejected", (e) => node.rejected.push(e));
  share.on("error", (e) => node.errors.push(e.message));
  peer.app(filesApp).onMessage((body, from) => {
    if (body.t === "piece") node.piecesFrom.set(from.id, (node.piecesFrom.get(from.id) ?? 0) + 1);
  });
  return node;
}

async function stop(...nodes: Node[]): Promise<void> {
  for (const node of nodes) node.share.close();
  await Promise.all(nodes.map((node) => node.peer.close()));
}

/** A seeder and a leecher (saving to `<dir>/out`) in a temp dir, both stopped after `body`. */
async function withPair(
  body: (pair: { dir: string; seeder: Node; leecher: Node }) => Promise<void>,
  seederOptions: FileShareOptions = {},
): Promise<void> {
  const dir = await Deno.makeTempDir();
  const seeder = await startNode(`${dir}/seeder`, seederOptions);
  const leecher = await startNode(`${dir}/out`);
  try {
    await body({ dir, seeder, leecher });
  } finally {
    await stop(seeder, leecher);
    await Deno.remove(dir, { recursive: true });
  }
}

async function writeRandom(path: string, size: number): Promise<Uint8Array> {
  const bytes = randomBytes(size);
  await Deno.writeFile(path, bytes);
  return bytes;
}

Deno.test("a file offered by one peer is fetched, verified and saved by another", async () => {
  const dir = await Deno.makeTempDir();
  const seeder = await startNode(`${dir}/seeder-out`);
  const leecher = await startNode(`${dir}/out`);
  try {
    const source = await writeRandom(`${dir}/part2.txt`, 3 * 2 ** 20 + 123);
    const manifest = await seeder.share.offer(`${dir}/part2.txt`);
    assert.equal(manifest.name, "part2.txt");
    await leecher.peer.connect("127.0.0.1", seeder.peer.port);
    await waitFor(() => leecher.saved.length === 1, "the file saved", LONG);
    const saved = leecher.saved[0];
    assert.equal(saved.path, `${dir}/out/part2.txt`);
    assert.equal(saved.bytes, source.length);
    assert.equal(saved.root, manifest.root);
    assert.deepEqual(await Deno.readFile(saved.path), source);
    await assert.rejects(
      () => Deno.stat(`${dir}/out/.meshtalk`),
      Deno.errors.NotFound,
      "no partial left",
    );
    const status = leecher.share.files().find((f) => f.root === manifest.root)!;
    assert.equal(status.state, "seeding", "a finished download is served to others");
    assert.deepEqual(leecher.errors, []);
  } finally {
    await stop(seeder, leecher);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("64 MiB from 4 seeders: every piece comes from them, the hash matches", async () => {
  const dir = await Deno.makeTempDir();
  const seeders = await Promise.all([1, 2, 3, 4].map((i) => startNode(`${dir}/s${i}`)));
  const leecher = await startNode(`${dir}/out`);
  try {
    const source = await writeRandom(`${dir}/big.bin`, 64 * 2 ** 20);
    const manifests = await Promise.all(seeders.map((s) => s.share.offer(`${dir}/big.bin`)));
    assert.equal(new Set(manifests.map((m) => m.root)).size, 1, "one file, one root");
    for (const seeder of seeders) await leecher.peer.connect("127.0.0.1", seeder.peer.port);
    await waitFor(() => leecher.saved.length === 1, "the file saved", LONG);
    const copy = await Deno.readFile(leecher.saved[0].path);
    assert.equal(await sha256(copy), await sha256(source));
    // How many of them are kept busy is the source limit's choice (all four, to begin with, then
    // as many as make it fastest: see download_test.ts); on one machine that is often one.
    const ids = new Set(seeders.map((seeder) => seeder.peer.id));
    assert.ok([...leecher.piecesFrom.keys()].every((id) => ids.has(id)));
    const pieces = [...leecher.piecesFrom.values()].reduce((sum, n) => sum + n, 0);
    const count = Math.ceil(source.length / manifests[0].pieceSize);
    assert.ok(pieces >= count, `${count} pieces, or more in the endgame: ${pieces}`);
  } finally {
    await stop(...seeders, leecher);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("seeders slower than the downloader are all kept busy: each sends its share", async () => {
  const dir = await Deno.makeTempDir();
  // Each seeder sends at most 6 MiB/s, so the sources are the limit, not this machine's CPU:
  // fewer of them would be slower, and the download keeps all four to the end (the first 8 MiB
  // are asked of all four before anything is measured, so the test asks for much more).
  const seeders = await Promise.all(
    [1, 2, 3, 4].map((i) => startNode(`${dir}/s${i}`, { uploadRate: 6 * 2 ** 20 })),
  );
  const leecher = await startNode(`${dir}/out`);
  try {
    const source = await writeRandom(`${dir}/slow.bin`, 96 * 2 ** 20);
    const manifests = await Promise.all(seeders.map((s) => s.share.offer(`${dir}/slow.bin`)));
    for (const seeder of seeders) await leecher.peer.connect("127.0.0.1", seeder.peer.port);
    await waitFor(() => leecher.saved.length === 1, "the file saved", LONG);
    assert.equal(await sha256(await Deno.readFile(leecher.saved[0].path)), await sha256(source));
    const count = Math.ceil(source.length / manifests[0].pieceSize);
    const sent = seeders.map((seeder) => leecher.piecesFrom.get(seeder.peer.id) ?? 0);
    // A quarter each, give or take the tries of fewer the limit makes now and then (two periods
    // each, with the faster half): no seeder sends less than half what the busiest sent.
    assert.ok(
      sent.every((n) => n >= count / 8 && n >= Math.max(...sent) / 2),
      `pieces of ${count} from each seeder: ${sent}`,
    );
  } finally {
    await stop(...seeders, leecher);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a seeder of corrupt pieces is caught and dropped; the file completes from others", async () => {
  const dir = await Deno.makeTempDir();
  const good = await startNode(`${dir}/good`);
  const bad = await startNode(`${dir}/bad`);
  const leecher = await startNode(`${dir}/out`);
  try {
    const source = await writeRandom(`${dir}/file.bin`, 8 * 2 ** 20);
    await Deno.writeFile(`${dir}/liar.bin`, source);
    await good.share.offer(`${dir}/file.bin`);
    const manifest = await bad.share.offer(`${dir}/liar.bin`, "file.bin");
    // Corrupted after its manifest was built: every piece it sends now fails verification.
    await Deno.writeFile(`${dir}/liar.bin`, randomBytes(source.length));
    // The liar first, so it gets asked before the honest peer is known.
    await leecher.peer.connect("127.0.0.1", bad.peer.port);
    await waitFor(() => leecher.rejected.length > 0, "a rejected piece", LONG);
    await leecher.peer.connect("127.0.0.1", good.peer.port);
    await waitFor(() => leecher.saved.length === 1, "the file saved", LONG);
    assert.deepEqual(await Deno.readFile(leecher.saved[0].path), source);
    assert.ok(leecher.rejected.every((r) => r.from.id === bad.peer.id && r.root === manifest.root));
    assert.match(leecher.rejected[0].reason, /hash does not match/);
    await waitFor(
      () => !leecher.peer.peers().some((p) => p.id === bad.peer.id),
      "the liar dropped",
      LONG,
    );
    assert.ok(leecher.errors.some((e) => /dropped .*3 bad pieces/.test(e)), leecher.errors.join());
  } finally {
    await stop(good, bad, leecher);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a download stopped half way resumes: only what is missing is fetched again", async () => {
  const dir = await Deno.makeTempDir();
  const seeder = await startNode(`${dir}/seeder`);
  let leecher = await startNode(`${dir}/out`);
  try {
    const source = await writeRandom(`${dir}/file.bin`, 32 * 2 ** 20);
    const manifest = await seeder.share.offer(`${dir}/file.bin`);
    await leecher.peer.connect("127.0.0.1", seeder.peer.port);
    const count = pieceCount(manifest);
    await waitFor(
      () => {
        const status = leecher.share.files().find((f) => f.root === manifest.root);
        return (status?.have ?? 0) >= count / 4;
      },
      "a quarter of the pieces",
      LONG,
    );
    await stop(leecher);
    leecher = await startNode(`${dir}/out`);
    await leecher.peer.connect("127.0.0.1", seeder.peer.port);
    await waitFor(() => leecher.saved.length === 1, "the file saved", LONG);
    const saved = leecher.saved[0];
    assert.deepEqual(await Deno.readFile(saved.path), source);
    assert.ok(saved.resumed >= source.length / 4, `resumed ${saved.resumed}`);
    // Pieces in flight at the stop may have been written but not counted, or counted twice.
    const inFlight = 8 * manifest.pieceSize;
    assert.ok(
      saved.fetched <= source.length - saved.resumed + inFlight,
      `fetched ${saved.fetched}, missing ${source.length - saved.resumed}`,
    );
  } finally {
    await stop(seeder, leecher);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an existing different file is never overwritten", async () => {
  await withPair(async ({ dir, seeder, leecher }) => {
    const source = await writeRandom(`${dir}/notes.txt`, 100_000);
    await Deno.mkdir(`${dir}/out`);
    await Deno.writeTextFile(`${dir}/out/notes.txt`, "mine, not yours");
    const manifest = await seeder.share.offer(`${dir}/notes.txt`);
    await leecher.peer.connect("127.0.0.1", seeder.peer.port);
    await waitFor(() => leecher.saved.length === 1, "the file saved", LONG);
    assert.equal(await Deno.readTextFile(`${dir}/out/notes.txt`), "mine, not yours");
    assert.equal(leecher.saved[0].path, `${dir}/out/${manifest.root.slice(0, 8)}-notes.txt`);
    assert.deepEqual(await Deno.readFile(leecher.saved[0].path), source);
    assert.ok(leecher.errors.some((e) => /exists and differs/.test(e)));
  });
});

Deno.test("names that would leave the output folder are refused", async () => {
  const dir = await Deno.makeTempDir();
  const liar = await startPeer({ host: "127.0.0.1", apps: [filesApp], targetConnections: 0 });
  const leecher = await startNode(`${dir}/out`);
  try {
    await leecher.peer.connect("127.0.0.1", liar.port);
    await waitFor(() => liar.peers().length === 1, "the liar connected");
    const pieces = new Uint8Array(32);
    for (const name of ["../evil", "/etc/evil", "..", "a/b", "sub\\x"]) {
      await announceAs(liar, leecher.peer.id, { name, size: 10, pieceSize: 16384, pieces });
    }
    await waitFor(() => leecher.errors.length === 5, "five refusals", LONG);
    for (const error of leecher.errors) assert.match(error, /refused the file name/);
    assert.deepEqual(leecher.share.files(), []);
    await assert.rejects(() => Deno.stat(`${dir}/evil`), Deno.errors.NotFound);
    await assert.rejects(() => Deno.stat(`${dir}/out/.meshtalk`), Deno.errors.NotFound);
  } finally {
    await stop(leecher);
    await liar.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("bytes past the announced size are refused and nothing grows the file", async () => {
  const dir = await Deno.makeTempDir();
  const liar = await startLiar();
  const leecher = await startNode(`${dir}/out`);
  try {
    const content = randomBytes(20_000);
    await Deno.writeFile(`${dir}/real`, content);
    const pieceSize = 16384;
    const pieces = await liar.app(filesApp).hashPieces(`${dir}/real`, pieceSize);
    const manifest = { name: "small.bin", size: content.length, pieceSize, pieces };
    const root = await manifestRoot(manifest);
    const cutOff: PeerEvents["error"][] = [];
    const wants: string[] = [];
    liar.app(filesApp).onMessage((body) => body.t === "want" && wants.push(body.file));
    leecher.peer.on("error", (e) => cutOff.push(e));
    await leecher.peer.connect("127.0.0.1", liar.port);
    await waitFor(() => liar.peers().length === 1, "the liar connected");
    await liar.app(filesApp).send(leecher.peer.id, {
      t: "announce",
      ...manifest,
      root,
      ...await signedBy(liar, root),
      holder: liar.id,
      hops: 1,
    });
    // Its `want` goes out through the same worker after the file's sink is set up.
    await waitFor(() => wants.length > 0, "the leecher's want", LONG);
    // The last piece is 3616 bytes; this sends 16 KiB there, past the end of the file.
    await liar.app(filesApp).send(leecher.peer.id, {
      t: "piece",
      file: root,
      offset: pieceSize,
      data: randomBytes(pieceSize),
    });
    await waitFor(
      () => cutOff.some((e) => /run past the end/.test(e.error.message)),
      "the liar cut off for a protocol error",
      LONG,
    );
    const partial = `${dir}/out/.meshtalk/${root}.partial`;
    assert.equal((await Deno.stat(partial)).size, content.length);
    assert.deepEqual(await Deno.readFile(partial), new Uint8Array(content.length));
  } finally {
    await stop(leecher);
    await liar.close();
    await Deno.remove(dir, { recursive: true });
  }
});

async function sha256(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as BufferSource));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

Deno.test("a file two hops away is found through announcements, and fetched from its holder", async () => {
  const dir = await Deno.makeTempDir();
  const holder = await startNode(`${dir}/a`);
  const relay = await startNode(`${dir}/b`, { wants: () => false });
  const far = await startNode(`${dir}/c`);
  try {
    const source = await writeRandom(`${dir}/far.bin`, 2 * 2 ** 20);
    await holder.share.offer(`${dir}/far.bin`);
    // a - b - c: c is not a neighbour of a, and b fetches nothing, so has nothing to give.
    await relay.peer.connect("127.0.0.1", holder.peer.port);
    await far.peer.connect("127.0.0.1", relay.peer.port);
    await waitFor(() => far.saved.length === 1, "the file saved two hops away", LONG);
    assert.deepEqual(await Deno.readFile(far.saved[0].path), source);
    assert.ok(far.peer.peers().some((p) => p.id === holder.peer.id), "c dialed the holder");
    assert.equal(
      far.piecesFrom.get(holder.peer.id),
      pieceCount({ size: source.length, pieceSize: 32768 }),
    );
    assert.deepEqual(relay.saved, [], "the relay fetched nothing");
  } finally {
    await stop(holder, relay, far);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a finished download is served on: a third peer fetches it after the first seeder left", async () => {
  const dir = await Deno.makeTempDir();
  const first = await startNode(`${dir}/a`);
  const second = await startNode(`${dir}/b`);
  let third: Node | null = null;
  try {
    const source = await writeRandom(`${dir}/f.bin`, 1_000_000);
    await first.share.offer(`${dir}/f.bin`);
    await second.peer.connect("127.0.0.1", first.peer.port);
    await waitFor(() => second.saved.length === 1, "b saved the file", LONG);
    await stop(first);
    third = await startNode(`${dir}/c`);
    await third.peer.connect("127.0.0.1", second.peer.port);
    await waitFor(() => third!.saved.length === 1, "c saved the file", LONG);
    assert.deepEqual(await Deno.readFile(third.saved[0].path), source);
    assert.deepEqual([...third.piecesFrom.keys()], [second.peer.id]);
  } finally {
    await stop(second, ...(third ? [third] : []));
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("manifests are signed by their first announcer; altered or forged ones are refused", async () => {
  const dir = await Deno.makeTempDir();
  const liar = await startPeer({ host: "127.0.0.1", apps: [filesApp], targetConnections: 0 });
  const honest = await startPeer({ host: "127.0.0.1", apps: [filesApp], targetConnections: 0 });
  const leecher = await startNode(`${dir}/out`, { wants: () => false });
  const announced: FileShareEvents["announce"][] = [];
  leecher.share.on("announce", (e) => announced.push(e));
  try {
    await leecher.peer.connect("127.0.0.1", liar.port);
    await waitFor(() => liar.peers().length === 1, "the liar connected");
    const original = { name: "report.pdf", size: 10, pieceSize: 16384, pieces: new Uint8Array(32) };
    const root = await manifestRoot(original);
    const honestSig = await signedBy(honest, root);
    const send = (
      body: Parameters<ReturnType<typeof liar.app<typeof filesApp.schema>>["send"]>[1],
    ) => liar.app(filesApp).send(leecher.peer.id, body);
    // 1. The honest peer's manifest, renamed by the liar (a new root) under the honest signature.
    const renamed = { ...original, name: "report-final.pdf" };
    await send({
      t: "announce",
      ...renamed,
      root: await manifestRoot(renamed),
      ...honestSig,
      holder: liar.id,
      hops: 2,
    });
    // 2. Claimed to come from the honest peer, signed with the liar's key.
    await send({
      t: "announce",
      ...original,
      root,
      ...await signedBy(liar, root),
      origin: honest.id,
      holder: liar.id,
      hops: 2,
    });
    await waitFor(() => leecher.errors.length === 2, "two refusals", LONG);
    // Checked concurrently: the two refusals may come in either order.
    const errors = leecher.errors.join("\n");
    assert.match(errors, /"report-final\.pdf": its signature by [0-9a-f]{32} does not match/);
    assert.match(errors, /"report\.pdf": its signing key is not the key of peer/);
    assert.equal(announced.length, 0, "nothing announced");
    // 3. Passed on by the liar with the honest signature intact: accepted, shown as the honest peer's.
    await send({ t: "announce", ...original, root, ...honestSig, holder: liar.id, hops: 2 });
    await waitFor(() => announced.length === 1, "the genuine announcement", LONG);
    assert.equal(announced[0].origin, honest.id);
    assert.equal(announced[0].from.id, liar.id);
  } finally {
    await stop(leecher);
    await Promise.all([liar.close(), honest.close()]);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a file already saved in the output folder is checked, not fetched again", async () => {
  await withPair(async ({ dir, seeder, leecher }) => {
    const source = await writeRandom(`${dir}/kept.bin`, 300_000);
    await Deno.mkdir(`${dir}/out`);
    await Deno.writeFile(`${dir}/out/kept.bin`, source);
    await seeder.share.offer(`${dir}/kept.bin`);
    await leecher.peer.connect("127.0.0.1", seeder.peer.port);
    await waitFor(() => leecher.saved.length === 1, "the file found saved", LONG);
    assert.equal(leecher.saved[0].path, `${dir}/out/kept.bin`);
    assert.equal(leecher.saved[0].fetched, 0);
    assert.equal(leecher.saved[0].resumed, source.length);
    assert.equal(leecher.piecesFrom.size, 0, "no piece was fetched");
    await assert.rejects(() => Deno.stat(`${dir}/out/.meshtalk`), Deno.errors.NotFound);
  });
});

Deno.test("many files from one seeder: busy refusals are retried, every file completes", async () => {
  // Six files of 64 pieces each: more requests than a seeder queues for one peer (256), so some
  // are refused as busy. Regression: a busy refusal was taken for a missing piece, and two of the
  // six downloads stalled for ever.
  await withPair(async ({ dir, seeder, leecher }) => {
    const refusals: string[] = [];
    leecher.peer.app(filesApp).onMessage((body) =>
      body.t === "refuse" && refusals.push(body.reason)
    );
    const sources = [];
    for (let i = 0; i < 6; i++) {
      sources.push(await writeRandom(`${dir}/f${i}.bin`, 4 * 2 ** 20));
      await seeder.share.offer(`${dir}/f${i}.bin`);
    }
    await leecher.peer.connect("127.0.0.1", seeder.peer.port);
    await waitFor(() => leecher.saved.length === 6, "all six files saved", LONG);
    for (let i = 0; i < 6; i++) {
      assert.deepEqual(await Deno.readFile(`${dir}/out/f${i}.bin`), sources[i], `f${i}.bin`);
    }
    assert.ok(refusals.every((r) => r === "busy"), refusals.join());
  });
});

Deno.test("two different files of one name, finishing together, are both kept", async () => {
  // Regression: both downloads saw the name free and renamed onto it; one file was lost.
  await withPair(async ({ dir, seeder, leecher }) => {
    const a = await writeRandom(`${dir}/a.txt`, 100);
    const b = await writeRandom(`${dir}/b.txt`, 100);
    const ma = await seeder.share.offer(`${dir}/a.txt`, "same.txt");
    const mb = await seeder.share.offer(`${dir}/b.txt`, "same.txt");
    await leecher.peer.connect("127.0.0.1", seeder.peer.port);
    await waitFor(() => leecher.saved.length === 2, "both saved", LONG);
    const byRoot = new Map(leecher.saved.map((e) => [e.root, e.path]));
    assert.notEqual(byRoot.get(ma.root), byRoot.get(mb.root));
    assert.deepEqual(await Deno.readFile(byRoot.get(ma.root)!), a);
    assert.deepEqual(await Deno.readFile(byRoot.get(mb.root)!), b);
  });
});

Deno.test("a partial file that cannot be written stops its download once, with a clear error", async () => {
  // Regression: every failed write was reported, and the piece asked for again, for ever.
  await withPair(async ({ dir, seeder, leecher }) => {
    await writeRandom(`${dir}/slow.bin`, 8 * 2 ** 20);
    const manifest = await seeder.share.offer(`${dir}/slow.bin`);
    await leecher.peer.connect("127.0.0.1", seeder.peer.port);
    const status = () => leecher.share.files().find((f) => f.root === manifest.root);
    await waitFor(() => (status()?.have ?? 0) > 0, "a first piece", LONG);
    await Deno.remove(`${dir}/out/.meshtalk/${manifest.root}.partial`);
    await waitFor(() => leecher.errors.length > 0, "the error", LONG);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.equal(leecher.errors.length, 1, leecher.errors.join("\n"));
    assert.match(leecher.errors[0], /^stopped fetching slow\.bin: cannot write /);
    assert.equal(status()?.state, "known");
  }, { uploadRate: 2 * 2 ** 20 });
});

Deno.test("a handler that throws is reported as an error; the share goes on", async () => {
  await withPair(async ({ dir, seeder, leecher }) => {
    leecher.share.on("announce", () => {
      throw new Error("a bug in the app");
    });
    const source = await writeRandom(`${dir}/f.bin`, 100_000);
    await seeder.share.offer(`${dir}/f.bin`);
    await leecher.peer.connect("127.0.0.1", seeder.peer.port);
    await waitFor(() => leecher.saved.length === 1, "the file saved", LONG);
    assert.deepEqual(await Deno.readFile(leecher.saved[0].path), source);
    assert.deepEqual(leecher.errors, ['a "announce" handler threw: a bug in the app']);
  });
});

// Folders, links, and offers as an invitation.

/** Every regular file under `dir` by its path below it, with the SHA-256 of its bytes. */
async function treeHashes(dir: string, below = ""): Promise<Map<string, string>> {
  const hashes = new Map<string, string>();
  for await (const entry of Deno.readDir(below ? `${dir}/${below}` : dir)) {
    const path = below ? `${below}/${entry.name}` : entry.name;
    if (entry.isDirectory) {
      for (const [p, h] of await treeHashes(dir, path)) hashes.set(p, h);
    } else if (entry.isFile) {
      hashes.set(path, await sha256(await Deno.readFile(`${dir}/${path}`)));
    } else {
      hashes.set(path, "not a regular file");
    }
  }
  return hashes;
}

/** Writes a folder: random files of the given sizes, at paths below `dir`. */
async function writeTree(dir: string, sizes: Record<string, number>): Promise<void> {
  for (const [path, size] of Object.entries(sizes)) {
    await Deno.mkdir(`${dir}/${path}`.replace(/\/[^/]*$/, ""), { recursive: true });
    await writeRandom(`${dir}/${path}`, size);
  }
}

const TREE = {
  "big.bin": 12 * 2 ** 20 + 17,
  "nested/deeper/still/data.bin": 9 * 2 ** 20,
  "nested/empty file.txt": 0,
  "zero": 0,
  "ünïcödé/日本語 \u{1F600}.txt": 100_000,
  "ünïcödé/Café.md": 3,
};

Deno.test("a folder arrives identical, file by file, and resumes after the downloader stops half way", async () => {
  const dir = await Deno.makeTempDir();
  // Held to a rate at which the stop comes well before the end, on a slow machine too.
  const seeder = await startNode(`${dir}/seeder`, { uploadRate: 16 * 2 ** 20 });
  let leecher = await startNode(`${dir}/out`);
  try {
    await writeTree(`${dir}/photos`, TREE);
    await Deno.symlink("/etc", `${dir}/photos/nested/to-etc`);
    const skipped: FileShareEvents["skipped"][] = [];
    seeder.share.on("skipped", (e) => skipped.push(e));
    const manifest = await seeder.share.offer(`${dir}/photos`);
    assert.equal(manifest.name, "photos");
    assert.deepEqual(skipped, [
      { name: "photos", path: "nested/to-etc", reason: "a symbolic link (links are not followed)" },
    ]);
    await leecher.peer.connect("127.0.0.1", seeder.peer.port);
    const count = pieceCount(manifest);
    const status = () => leecher.share.files().find((f) => f.root === manifest.root);
    await waitFor(() => (status()?.have ?? 0) >= count / 4, "a quarter of the pieces", LONG);
    assert.equal(status()?.kind, "folder");
    assert.equal(status()?.files, Object.keys(TREE).length);
    await stop(leecher);
    assert.equal(
      await Deno.stat(`${dir}/out/photos`).then(() => true, () => false),
      false,
      "nothing in place before it is whole",
    );

    leecher = await startNode(`${dir}/out`);
    const progress: FileShareEvents["progress"][] = [];
    leecher.share.on("progress", (e) => progress.push(e));
    await leecher.peer.connect("127.0.0.1", seeder.peer.port);
    await waitFor(() => leecher.saved.length === 1, "the folder saved", LONG);
    assert.ok(progress.length > 0, "progress was reported");
    assert.ok(progress.every((p) => p.root === manifest.root), "one progress, the folder's");
    assert.equal(progress.at(-1)?.bytes, manifest.size);
    const saved = leecher.saved[0];
    assert.equal(saved.path, `${dir}/out/photos`);
    assert.equal(saved.bytes, manifest.size);
    assert.ok(saved.resumed >= manifest.size / 8, `resumed ${saved.resumed}`);
    assert.ok(saved.fetched < manifest.size, `fetched ${saved.fetched} of ${manifest.size}`);
    const expected = await treeHashes(`${dir}/photos`);
    expected.delete("nested/to-etc");
    assert.deepEqual(await treeHashes(saved.path), expected);
    await assert.rejects(() => Deno.stat(`${dir}/out/.meshtalk`), Deno.errors.NotFound);
    assert.equal(status()?.state, "seeding");
    assert.deepEqual(leecher.errors, []);
  } finally {
    await stop(seeder, leecher);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an empty folder, and a folder of zero-byte files, arrive", async () => {
  await withPair(async ({ dir, seeder, leecher }) => {
    await Deno.mkdir(`${dir}/nothing`);
    await writeTree(`${dir}/zeros`, { "a": 0, "b/c": 0 });
    await seeder.share.offer(`${dir}/nothing`);
    await seeder.share.offer(`${dir}/zeros/`);
    await leecher.peer.connect("127.0.0.1", seeder.peer.port);
    await waitFor(() => leecher.saved.length === 2, "both saved", LONG);
    assert.deepEqual(await treeHashes(`${dir}/out/nothing`), new Map());
    assert.deepEqual(await treeHashes(`${dir}/out/zeros`), await treeHashes(`${dir}/zeros`));
    assert.deepEqual(leecher.errors, []);
  });
});

Deno.test("a folder manifest with ../ or an absolute path is refused, and nothing is written", async () => {
  const dir = await Deno.makeTempDir();
  const liar = await startLiar();
  const leecher = await startNode(`${dir}/out`);
  try {
    await leecher.peer.connect("127.0.0.1", liar.port);
    await waitFor(() => liar.peers().length === 1, "the liar connected");
    const pieces = new Uint8Array(32);
    const paths = ["../evil", "/tmp/evil", "ok/../../evil", "a//evil", "C:/evil", "a\\evil"];
    for (const path of paths) {
      const files = [{ path, size: 10 }];
      await announceAs(liar, leecher.peer.id, {
        name: "innocent",
        size: 10,
        pieceSize: 16384,
        pieces,
        files,
      });
    }
    await waitFor(() => leecher.errors.length === paths.length, "every one refused", LONG);
    for (const [i, error] of leecher.errors.entries()) {
      assert.match(error, /^refused the manifest of "innocent": the path /, paths[i]);
      assert.match(error, /\(announced by /);
    }
    assert.deepEqual(leecher.share.files(), []);
    await assert.rejects(() => Deno.stat(`${dir}/out`), Deno.errors.NotFound);
    await assert.rejects(() => Deno.stat(`${dir}/evil`), Deno.errors.NotFound);
  } finally {
    await stop(leecher);
    await liar.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("with wants false offers are only shown; fetch starts exactly one, cancel keeps what it got", async () => {
  await withPair(async ({ dir, seeder, leecher: idle }) => {
    await stop(idle);
    const leecher = await startNode(`${dir}/out`, { wants: () => false });
    try {
      const source = await writeRandom(`${dir}/report.pdf`, 4 * 2 ** 20);
      await writeRandom(`${dir}/other.bin`, 100_000);
      const report = await seeder.share.offer(`${dir}/report.pdf`);
      await seeder.share.offer(`${dir}/other.bin`);
      await leecher.peer.connect("127.0.0.1", seeder.peer.port);
      await waitFor(() => leecher.share.files().length === 2, "both announced", LONG);
      for (const status of leecher.share.files()) {
        assert.equal(status.state, "known");
        assert.equal(status.kind, "file");
        assert.equal(status.holders, 1);
        assert.deepEqual(status.origin, { id: seeder.peer.id, nick: seeder.peer.nick });
      }
      assert.equal(leecher.piecesFrom.size, 0, "nothing fetched");
      await assert.rejects(() => Deno.stat(`${dir}/out`), Deno.errors.NotFound, "nothing written");

      await leecher.share.fetch(report.root);
      const status = () => leecher.share.files().find((f) => f.root === report.root)!;
      await waitFor(() => status().have > 0, "a first piece of report.pdf", LONG);
      assert.equal(leecher.share.cancel(report.root), true);
      assert.equal(leecher.share.cancel(report.root), false, "cancelled already");
      assert.equal(status().state, "known");
      const partial = `${dir}/out/.meshtalk/${report.root}.partial`;
      assert.equal((await Deno.stat(partial)).size, source.length, "what it got is kept");

      await leecher.share.fetch(report.root);
      await waitFor(() => leecher.saved.length === 1, "report.pdf saved", LONG);
      assert.equal(leecher.saved[0].root, report.root);
      assert.ok(leecher.saved[0].resumed > 0, "resumed from what the cancel kept");
      assert.deepEqual(await Deno.readFile(`${dir}/out/report.pdf`), source);
      assert.equal(
        leecher.share.files().filter((f) => f.state === "seeding").length,
        1,
        "only the file asked for",
      );
    } finally {
      await stop(leecher);
    }
  }, { uploadRate: 4 * 2 ** 20 });
});

Deno.test("a link fetches exactly what it names from the peer it names; an altered one is refused", async () => {
  await withPair(async ({ dir, seeder, leecher: idle }) => {
    await stop(idle);
    const leecher = await startNode(`${dir}/out`, { wants: () => false });
    try {
      await writeTree(`${dir}/album`, { "a.jpg": 300_000, "b/c.jpg": 5 });
      await writeRandom(`${dir}/decoy.bin`, 1000);
      const album = await seeder.share.offer(`${dir}/album`);
      await seeder.share.offer(`${dir}/decoy.bin`);
      const link = {
        root: album.root,
        host: "127.0.0.1",
        port: seeder.peer.port,
        id: seeder.peer.id,
        name: album.name,
      };
      const refused = async (text: string, code: string) => {
        const error = await leecher.share.fetchLink(text, { timeoutMs: 500 }).then(
          () => null,
          (e) => e,
        );
        assert.ok(error instanceof FileShareError, text);
        assert.equal(error.code, code, error.message);
        return error.message;
      };
      // Another id: the peer there cannot prove it, and is refused.
      const otherId = `${seeder.peer.id.slice(0, 31)}${seeder.peer.id.endsWith("0") ? "1" : "0"}`;
      assert.match(
        await refused(formatLink({ ...link, id: otherId }), "wrong-peer"),
        /the link was altered/,
      );
      assert.equal(leecher.peer.peers().length, 0, "no connection kept to the wrong peer");
      // A malformed one, before anything is dialed.
      await refused(formatLink(link).replace(album.root, album.root.slice(2)), "bad-link");
      // Another root: the peer offers nothing under it.
      const otherRoot = `${album.root.slice(0, 63)}${album.root.endsWith("0") ? "1" : "0"}`;
      assert.match(
        await refused(formatLink({ ...link, root: otherRoot }), "not-offered"),
        /the link's hash was altered/,
      );
      await assert.rejects(() => Deno.stat(`${dir}/out`), Deno.errors.NotFound, "nothing written");

      const manifest = await leecher.share.fetchLink(formatLink(link));
      assert.equal(manifest.root, album.root);
      await waitFor(() => leecher.saved.length === 1, "the album saved", LONG);
      assert.deepEqual(await treeHashes(`${dir}/out/album`), await treeHashes(`${dir}/album`));
      assert.deepEqual(leecher.saved.map((s) => s.name), ["album"], "nothing but what it names");
    } finally {
      await stop(leecher);
    }
  });
});

Deno.test("the seeder says what it sends: an upload starts, and stops with bytes and time", async () => {
  await withPair(async ({ dir, seeder, leecher }) => {
    const uploads: FileShareEvents["upload"][] = [];
    seeder.share.on("upload", (e) => uploads.push(e));
    const source = await writeRandom(`${dir}/part2.txt`, 3 * 2 ** 20);
    await seeder.share.offer(`${dir}/part2.txt`);
    await leecher.peer.connect("127.0.0.1", seeder.peer.port);
    await waitFor(() => uploads.some((u) => u.type === "stop"), "the upload stopped", LONG);
    const [start, end] = uploads;
    assert.deepEqual(
      { ...start, seconds: 0 },
      {
        type: "start",
        peer: { id: leecher.peer.id, nick: leecher.peer.nick },
        name: "part2.txt",
        root: start.root,
        bytes: 0,
        seconds: 0,
      },
    );
    assert.equal(end.type, "stop");
    assert.equal(end.reason, "idle");
    assert.equal(end.name, "part2.txt");
    assert.deepEqual(end.peer, start.peer);
    assert.equal(end.bytes, source.length, "every piece once: the seeder was the only source");
    assert.ok(end.seconds > 0);
    assert.equal(uploads.length, 2);
  });
});
