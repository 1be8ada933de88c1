// One download driven by hand: real files in a temp folder, and a stand-in for the channel that
// records what the downloader asks of it. The test writes each piece as the verifying sink would.
import assert from "node:assert/strict";
import type { StoredData } from "@meshtalk/core";
import { randomBytes } from "@meshtalk/core/testing";
import { hashPiecesHere as hashPieces } from "./_testing.ts";
import { Downloader } from "./downloader.ts";
import { FileShareError } from "./errors.ts";
import { createManifest } from "./create_manifest.ts";
import { pieceLength } from "./layout.ts";
import type { Manifest } from "./manifest.ts";
import type { FilesMessage } from "./wire.ts";

interface Harness {
  out: string;
  bytes: Uint8Array;
  manifest: Manifest;
  downloader: Downloader;
  /** Messages sent, as `type piece>peer` (or `type>peer`). */
  sent: string[];
  /** Calls on the channel: `sink` and `stop`. */
  channel: string[];
  /** Writes `piece` into the partial file as the sink would, and says so to the downloader. */
  deliver(
    from: string,
    piece: number,
    status?: StoredData["status"],
  ): ReturnType<Downloader["arrived"]>;
}

async function withDownload(
  size: number,
  body: (t: Harness) => Promise<void>,
  options: { interested?: string[]; requestTimeoutMs?: number } = {},
): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    const bytes = randomBytes(size);
    await Deno.writeFile(`${dir}/source.bin`, bytes);
    const manifest = await createManifest(`${dir}/source.bin`, "file.bin", hashPieces);
    const out = `${dir}/out`;
    const sent: string[] = [];
    const channel: string[] = [];
    const downloader = new Downloader(manifest, {
      channel: {
        receiveIntoFile: (key) => channel.push(`sink ${key === manifest.root}`),
        stopReceiving: (key) => channel.push(`stop ${key === manifest.root}`),
        hashPieces,
      },
      out,
      send: (peer: string, body: FilesMessage) =>
        sent.push("piece" in body ? `${body.t} ${body.piece}>${peer}` : `${body.t}>${peer}`),
      interested: () => options.interested ?? [],
      requestTimeoutMs: options.requestTimeoutMs,
    });
    const deliver = (from: string, piece: number, status: StoredData["status"] = "written") => {
      const offset = piece * manifest.pieceSize;
      const length = pieceLength(manifest, piece);
      if (status === "written") {
        const file = Deno.openSync(downloader.path, { write: true });
        file.seekSync(offset, Deno.SeekMode.Start);
        file.writeSync(bytes.subarray(offset, offset + length));
        file.close();
      }
      return downloader.arrived(from, { path: downloader.path, offset, length, status });
    };
    await body({ out, bytes, manifest, downloader, sent, channel, deliver });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const ada = { id: "ada", nick: "Ada" };
const bob = { id: "bob", nick: "Bob" };

Deno.test("a download from start to saved: wants, requests, gots to the interested, the file in place", async () => {
  await withDownload(
    40_000,
    async ({ out, bytes, manifest, downloader, sent, channel, deliver }) => {
      assert.equal(await downloader.prepare(), null);
      downloader.sourceHas(ada, new Uint8Array([0xe0]));
      assert.deepEqual(sent, [], "nothing is asked for before the sink is in place");
      downloader.receive(["ada", "bob"]);
      assert.deepEqual(channel, ["sink true"]);
      assert.deepEqual(sent.splice(0), ["want>ada", "want>bob"]);
      assert.equal(downloader.receiving, true);
      downloader.schedule();
      assert.deepEqual(sent.splice(0).sort(), ["request 0>ada", "request 1>ada", "request 2>ada"]);
      for (const piece of [2, 0, 1]) {
        assert.deepEqual(deliver("ada", piece), { status: "written", piece });
      }
      assert.deepEqual(sent.splice(0), ["got 2>carol", "got 0>carol", "got 1>carol"]);
      assert.ok(downloader.have.complete);
      assert.equal(downloader.fetched, 40_000);
      assert.equal(downloader.verifiedBytes, 40_000);
      const saved = await downloader.finish();
      assert.deepEqual(saved, { path: `${out}/file.bin`, beside: null });
      assert.equal(await downloader.finish(), null, "saved once");
      assert.deepEqual(channel, ["sink true", "stop true"]);
      assert.deepEqual(await Deno.readFile(saved!.path), bytes);
      assert.equal(manifest.size, bytes.length);
    },
    { interested: ["carol"] },
  );
});

Deno.test("a piece from one peer is cancelled with the others asked; bad and failed arrivals are told apart", async () => {
  await withDownload(16384, async ({ downloader, sent, deliver }) => {
    await downloader.prepare();
    downloader.receive([]);
    downloader.sourceHas(ada, new Uint8Array([0x80]));
    downloader.sourceHas(bob, new Uint8Array([0x80]));
    // One piece, asked of both (the endgame).
    assert.deepEqual(sent.splice(0), ["request 0>ada", "request 0>bob"]);
    assert.deepEqual(deliver("bob", 0, "corrupt"), {
      status: "corrupt",
      piece: 0,
      reason: "corrupt",
    });
    assert.deepEqual(downloader.download.askedFor(0), ["ada"]);
    assert.deepEqual(deliver("ada", 0), { status: "written", piece: 0 });
    assert.deepEqual(sent.splice(0), [], "nobody else was still asked");
  });
  await withDownload(2 * 16384, async ({ downloader, sent, deliver }) => {
    await downloader.prepare();
    downloader.receive([]);
    downloader.sourceHas(ada, new Uint8Array([0xc0]));
    downloader.sourceHas(bob, new Uint8Array([0xc0]));
    sent.splice(0);
    assert.deepEqual(downloader.download.askedFor(0).sort(), ["ada", "bob"]);
    deliver("ada", 0);
    assert.deepEqual(sent.splice(0), ["cancel 0>bob"]);
    const failed = deliver("ada", 1, "failed");
    assert.equal(failed.status, "failed");
    assert.match((failed as { reason: string }).reason, /cannot write/);
    // Stopping with cancels tells whoever is still asked.
    downloader.stop(true);
    assert.deepEqual(sent.splice(0), ["cancel 1>bob"]);
  });
});

Deno.test("late requests are cancelled at a tick; a source that leaves hands its requests on", async () => {
  await withDownload(3 * 16384, async ({ downloader, sent }) => {
    await downloader.prepare();
    downloader.receive([]);
    downloader.sourceHas(ada, new Uint8Array([0xe0]));
    sent.splice(0);
    downloader.tick(performance.now() + 60_000);
    const cancels = sent.splice(0);
    assert.deepEqual(cancels.filter((m) => m.startsWith("cancel")).length, 3);
    assert.equal(downloader.download.requests().length, 3, "asked again at once");
    downloader.sourceHas(bob, new Uint8Array([0xe0]));
    assert.equal(downloader.removeSource("ada"), true);
    const requests = downloader.download.requests();
    assert.deepEqual(requests.map((r) => r.peer), ["bob", "bob", "bob"]);
    assert.deepEqual(requests.map((r) => r.piece).sort(), [0, 1, 2]);
    assert.equal(downloader.removeSource("ada"), false);
  }, { requestTimeoutMs: 30_000 });
});

Deno.test("a bitfield that does not fit the file is a bad-bitfield error naming its sender", async () => {
  await withDownload(3 * 16384, async ({ downloader }) => {
    await downloader.prepare();
    const error = (() => {
      try {
        downloader.sourceHas(ada, new Uint8Array(2));
      } catch (e) {
        return e;
      }
    })();
    assert.ok(error instanceof FileShareError);
    assert.equal(error.code, "bad-bitfield");
    assert.match(error.message, /^Ada sent a bad bitfield: /);
    assert.equal(downloader.download.sourceCount, 0);
  });
});

Deno.test("a resumed download counts what the earlier run verified, and fetches only the rest", async () => {
  await withDownload(3 * 16384, async ({ out, bytes, manifest, downloader, sent }) => {
    await Deno.mkdir(`${out}/.meshtalk`, { recursive: true });
    const left = new Uint8Array(bytes.length);
    left.set(bytes.subarray(16384, 2 * 16384), 16384);
    await Deno.writeFile(downloader.path, left);
    await downloader.prepare();
    assert.deepEqual([...downloader.have.pieces()], [1]);
    assert.equal(downloader.resumed, 16384);
    downloader.receive([]);
    downloader.sourceHas(ada, new Uint8Array([0xe0]));
    assert.deepEqual(sent.sort(), ["request 0>ada", "request 2>ada"]);
    assert.equal(manifest.name, "file.bin");
  });
});

Deno.test("a copy of a piece that could not be written once the file was saved is late, not a failure", async () => {
  // Regression (issue 14, item 10): "stopped fetching part3.txt: cannot write …/<root>.partial: No
  // such file or directory", then "saved part3.txt". In the endgame the last piece is asked of
  // two peers. The first copy completes the file, which is saved: its partial file moves. The
  // second copy was already with a hash worker, which verified it and found no file to write it
  // into. Nothing went wrong; the downloader must not say the download failed.
  await withDownload(2 * 16384, async ({ out, bytes, downloader, sent, deliver }) => {
    await downloader.prepare();
    downloader.receive([]);
    downloader.sourceHas(ada, new Uint8Array([0xc0]));
    downloader.sourceHas(bob, new Uint8Array([0xc0]));
    deliver("ada", 0);
    deliver("bob", 1);
    assert.ok(downloader.have.complete);
    sent.splice(0);
    const saved = await downloader.finish();
    assert.equal(saved?.path, `${out}/file.bin`);
    const partialGone = await Deno.stat(downloader.path).then(() => false, () => true);
    assert.ok(partialGone, "the partial file moved");
    // The second copy of piece 1, from ada, as its worker reports it.
    const late = downloader.arrived("ada", {
      path: downloader.path,
      offset: 16384,
      length: 16384,
      status: "failed",
      reason: `cannot write ${downloader.path}: No such file or directory (os error 2)`,
    });
    assert.equal(late.status, "late");
    assert.deepEqual(sent, [], "nothing is asked again or cancelled");
    assert.deepEqual(await Deno.readFile(saved!.path), bytes);
  });
});

Deno.test("a failed write of a piece verified already is late; of a piece still missing, a failure", async () => {
  await withDownload(2 * 16384, async ({ downloader, deliver }) => {
    await downloader.prepare();
    downloader.receive([]);
    downloader.sourceHas(ada, new Uint8Array([0xc0]));
    deliver("ada", 0);
    assert.equal(deliver("ada", 0, "failed").status, "late");
    assert.equal(deliver("ada", 1, "failed").status, "failed");
  });
});
