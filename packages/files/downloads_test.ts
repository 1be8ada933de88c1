// Downloads driven by hand: real files in a temp folder, stand-ins for the channel and the
// announcer, pieces written as the verifying sinks would write them. Every step is taken in an
// order the test chooses, so races between the threads can be replayed exactly.
import assert from "node:assert/strict";
import { Emitter, type PeerInfo, type StoredData } from "@meshtalk/core";
import { randomBytes } from "@meshtalk/core/testing";
import { hashPiecesHere as hashPieces } from "./_testing.ts";
import type { Announcer } from "./announcer.ts";
import { createManifest } from "./create_manifest.ts";
import { Downloads } from "./downloads.ts";
import { layoutOf } from "./layout.ts";
import { LocalFiles } from "./local_files.ts";
import type { Manifest } from "./manifest.ts";
import { Strikes } from "./strikes.ts";
import type { FileShareEvents } from "./types.ts";
import { pieceKey } from "./wire.ts";

const peerInfo = (id: string) => ({ id, nick: id }) as PeerInfo;
const ada = peerInfo("ada");
const bob = peerInfo("bob");

interface Harness {
  dir: string;
  out: string;
  downloads: Downloads;
  local: LocalFiles;
  /** Sinks in force: key to path. */
  sinks: Map<string, string>;
  /** Messages sent, as `type>peer`. */
  sent: string[];
  errors: string[];
  saved: FileShareEvents["saved"][];
  /** Writes piece `piece` of `manifest` (taken from `source`) as its sink would, and reports it. */
  deliver(
    manifest: Manifest,
    source: string,
    from: PeerInfo,
    piece: number,
    status?: StoredData["status"],
  ): Promise<void>;
}

async function withDownloads(body: (t: Harness) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  const sinks = new Map<string, string>();
  const sent: string[] = [];
  const errors: string[] = [];
  const saved: FileShareEvents["saved"][] = [];
  const local = new LocalFiles();
  const events = new Emitter<FileShareEvents>((_event, error) => errors.push(String(error)));
  events.on("saved", (e) => saved.push(e));
  const downloads = new Downloads({
    channel: {
      peers: () => [ada, bob],
      receiveIntoFile: (key: string, path: string) => sinks.set(key, path),
      stopReceiving: (key: string) => sinks.delete(key),
      hashPieces,
    } as unknown as ConstructorParameters<typeof Downloads>[0]["channel"],
    local,
    announcer: {
      catalog: { get: () => undefined },
      announceHeld: () => {},
    } as unknown as Announcer,
    strikes: new Strikes(3),
    events,
    out: `${dir}/out`,
    send: (peer, body) => sent.push(`${body.t}>${peer}`),
    error: (error) => errors.push(error.message),
    status: () => ({}) as never,
    closed: () => false,
    connect: () => Promise.resolve(),
    drop: () => {},
  });
  const deliver = async (
    manifest: Manifest,
    source: string,
    from: PeerInfo,
    piece: number,
    status: StoredData["status"] = "written",
  ) => {
    const { entry, offset, length } = layoutOf(manifest).place(piece);
    const key = pieceKey(manifest.root, manifest.files ? entry : null);
    const path = sinks.get(key) ?? `${dir}/out/.meshtalk/${manifest.root}.partial`;
    if (status === "written") {
      const from = manifest.files ? `${source}/${manifest.files[entry].path}` : source;
      const bytes = (await Deno.readFile(from)).subarray(offset, offset + length);
      const file = await Deno.open(path, { write: true });
      await file.seek(offset, Deno.SeekMode.Start);
      await file.write(bytes);
      file.close();
    }
    const reason = status === "written" ? undefined : `cannot write ${path}: No such file`;
    downloads.onPiece(key, from, { path, offset, length, status, reason });
  };
  try {
    await body({ dir, out: `${dir}/out`, downloads, local, sinks, sent, errors, saved, deliver });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("a copy of the last piece that cannot be written once the file is saving is no error", async () => {
  // Issue 14, item 10, replayed in the order it happened: the last piece arrives from ada and the
  // file starts being saved; bob's copy of the same piece, verified meanwhile by a hash worker,
  // finds no partial file to write into. Only "saved" may be said.
  await withDownloads(async ({ dir, out, downloads, errors, saved, deliver }) => {
    await Deno.writeFile(`${dir}/part3.txt`, randomBytes(2 * 16384));
    const manifest = await createManifest(`${dir}/part3.txt`, "part3.txt", hashPieces);
    await downloads.start(manifest);
    const downloader = downloads.get(manifest.root)!;
    downloader.sourceHas(ada, new Uint8Array([0xc0]));
    downloader.sourceHas(bob, new Uint8Array([0xc0]));
    await deliver(manifest, `${dir}/part3.txt`, ada, 0);
    await deliver(manifest, `${dir}/part3.txt`, ada, 1); // complete: saving begins
    assert.equal(downloader.finishing, true);
    await deliver(manifest, `${dir}/part3.txt`, bob, 1, "failed");
    while (saved.length === 0) await new Promise((resolve) => setTimeout(resolve, 1));
    assert.deepEqual(errors, []);
    assert.equal(saved.length, 1);
    assert.deepEqual(
      await Deno.readFile(`${out}/part3.txt`),
      await Deno.readFile(`${dir}/part3.txt`),
    );
  });
});

Deno.test("a folder is fetched into one sink per file that has pieces, and saved whole", async () => {
  await withDownloads(async ({ dir, out, downloads, sinks, saved, errors, deliver }) => {
    const tree = `${dir}/tree`;
    await Deno.mkdir(`${tree}/sub`, { recursive: true });
    await Deno.writeFile(`${tree}/a.bin`, randomBytes(16384 + 1));
    await Deno.writeFile(`${tree}/empty`, new Uint8Array(0));
    await Deno.writeFile(`${tree}/sub/c.txt`, randomBytes(10));
    const manifest = await createManifest(tree, "tree", hashPieces);
    await downloads.start(manifest);
    const partial = `${out}/.meshtalk/${manifest.root}.partial`;
    assert.deepEqual(
      [...sinks],
      [[`${manifest.root}/0`, `${partial}/a.bin`], [`${manifest.root}/2`, `${partial}/sub/c.txt`]],
    );
    const downloader = downloads.get(manifest.root)!;
    downloader.sourceHas(ada, new Uint8Array([0xe0]));
    for (const piece of [2, 0, 1]) await deliver(manifest, tree, ada, piece);
    while (saved.length === 0) await new Promise((resolve) => setTimeout(resolve, 1));
    assert.deepEqual(errors, []);
    assert.equal(saved[0].path, `${out}/tree`);
    assert.equal(sinks.size, 0, "every sink stopped");
    for (const path of ["a.bin", "empty", "sub/c.txt"]) {
      assert.deepEqual(
        await Deno.readFile(`${out}/tree/${path}`),
        await Deno.readFile(`${tree}/${path}`),
      );
    }
  });
});

Deno.test("a stopped download keeps what was verified; started again, it fetches only the rest", async () => {
  await withDownloads(async ({ dir, downloads, local, sent, sinks, deliver }) => {
    await Deno.writeFile(`${dir}/f.bin`, randomBytes(3 * 16384));
    const manifest = await createManifest(`${dir}/f.bin`, "f.bin", hashPieces);
    await downloads.start(manifest);
    downloads.get(manifest.root)!.sourceHas(ada, new Uint8Array([0xe0]));
    await deliver(manifest, `${dir}/f.bin`, ada, 1);
    sent.splice(0);
    assert.equal(downloads.stop(manifest.root, true), true);
    assert.deepEqual(sent.sort(), ["cancel>ada", "cancel>ada"], "the two pieces still asked");
    assert.equal(local.get(manifest.root), undefined);
    assert.equal(sinks.size, 0);
    assert.equal(downloads.stop(manifest.root), false, "nothing left to stop");
    await downloads.start(manifest);
    assert.deepEqual([...downloads.get(manifest.root)!.have.pieces()], [1]);
  });
});
