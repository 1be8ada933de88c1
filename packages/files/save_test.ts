// The disk side of a download, on real files in a temp folder.
import assert from "node:assert/strict";
import { randomBytes } from "@meshtalk/core/testing";
import { hashPiecesHere as hashPieces } from "./_testing.ts";
import { Bitfield } from "./bitfield.ts";
import { FileShareError } from "./errors.ts";
import { createManifest } from "./create_manifest.ts";
import { pieceCount } from "./layout.ts";
import type { Manifest } from "./manifest.ts";
import { holdsFile, partialPath, prepareDownload, saveDownload } from "./save.ts";

const PIECE = 16384;

/** A temp folder holding `name` (random bytes) and its manifest; `out` is `<dir>/out`. */
async function withFile(
  size: number,
  body: (t: { dir: string; out: string; bytes: Uint8Array; manifest: Manifest }) => Promise<void>,
  name = "file.bin",
): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    const bytes = randomBytes(size);
    await Deno.writeFile(`${dir}/${name}`, bytes);
    const manifest = await createManifest(`${dir}/${name}`, name, hashPieces);
    await body({ dir, out: `${dir}/out`, bytes, manifest });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const exists = (path: string) => Deno.lstat(path).then(() => true, () => false);

Deno.test("a new download gets an empty partial file of the file's size, and nothing verified", async () => {
  await withFile(40_000, async ({ out, manifest }) => {
    const have = new Bitfield(pieceCount(manifest));
    assert.equal(await prepareDownload(out, manifest, have, hashPieces), null);
    const partial = partialPath(out, manifest.root);
    assert.equal(partial, `${out}/.meshtalk/${manifest.root}.partial`);
    assert.equal((await Deno.stat(partial)).size, 40_000);
    assert.equal(have.count, 0);
  });
});

Deno.test("on resume, exactly the pieces still matching their hashes count; the rest is fetched", async () => {
  await withFile(5 * PIECE + 100, async ({ out, bytes, manifest }) => {
    const partial = partialPath(out, manifest.root);
    await Deno.mkdir(`${out}/.meshtalk`, { recursive: true });
    // An earlier run wrote pieces 0, 2 and 5; piece 2 was damaged since. Longer than the file.
    const left = new Uint8Array(bytes.length + 999);
    for (const piece of [0, 2, 5]) {
      left.set(bytes.subarray(piece * PIECE, (piece + 1) * PIECE), piece * PIECE);
    }
    left[2 * PIECE + 7] ^= 1;
    await Deno.writeFile(partial, left);
    const have = new Bitfield(pieceCount(manifest));
    assert.equal(await prepareDownload(out, manifest, have, hashPieces), null);
    assert.deepEqual([...have.pieces()], [0, 5]);
    assert.equal((await Deno.stat(partial)).size, bytes.length, "cut back to the file's size");
  });
});

Deno.test("a whole copy under its name already is found; a different file there is not taken for it", async () => {
  await withFile(30_000, async ({ dir, out, manifest }) => {
    await Deno.mkdir(out);
    await Deno.copyFile(`${dir}/file.bin`, `${out}/file.bin`);
    const have = new Bitfield(pieceCount(manifest));
    assert.equal(await prepareDownload(out, manifest, have, hashPieces), `${out}/file.bin`);
    assert.equal(await exists(`${out}/.meshtalk`), false, "no partial file made");
    assert.ok(await holdsFile(`${out}/file.bin`, manifest, hashPieces));

    await Deno.writeFile(`${out}/file.bin`, randomBytes(30_000));
    assert.equal(await holdsFile(`${out}/file.bin`, manifest, hashPieces), false);
    assert.equal(await prepareDownload(out, manifest, have, hashPieces), null);
    assert.ok(await exists(partialPath(out, manifest.root)));
  });
});

Deno.test("a folder that cannot be written, or a bad name, is an unwritable error and writes nothing", async () => {
  await withFile(100, async ({ dir, manifest }) => {
    await Deno.writeTextFile(`${dir}/not-a-folder`, "");
    const have = new Bitfield(1);
    const error = await prepareDownload(`${dir}/not-a-folder`, manifest, have, hashPieces).then(
      () => null,
      (e) => e,
    );
    assert.ok(error instanceof FileShareError);
    assert.equal(error.code, "unwritable");
    assert.match(error.message, /^cannot save file\.bin in .*not-a-folder: /);
    const evil = { ...manifest, name: "../evil" };
    await assert.rejects(
      () => prepareDownload(`${dir}/out`, evil, have, hashPieces),
      /refused the file name "\.\.\/evil"/,
    );
    assert.equal(await exists(`${dir}/out`), false);
    assert.equal(await exists(`${dir}/evil`), false);
  });
});

/** Puts the bytes of `manifest`'s file in its partial file, as a finished download leaves them. */
async function finished(out: string, manifest: Manifest, bytes: Uint8Array): Promise<void> {
  await Deno.mkdir(`${out}/.meshtalk`, { recursive: true });
  await Deno.writeFile(partialPath(out, manifest.root), bytes);
}

Deno.test("a finished file takes its name; the partial folder goes once empty", async () => {
  await withFile(50_000, async ({ out, bytes, manifest }) => {
    await finished(out, manifest, bytes);
    await Deno.writeTextFile(`${out}/.meshtalk/other.partial`, "another download");
    const saved = await saveDownload(out, manifest, hashPieces);
    assert.deepEqual(saved, { path: `${out}/file.bin`, beside: null });
    assert.deepEqual(await Deno.readFile(saved.path), bytes);
    assert.equal(await exists(partialPath(out, manifest.root)), false);
    assert.ok(await exists(`${out}/.meshtalk/other.partial`), "another download's part stays");
    await Deno.remove(`${out}/.meshtalk/other.partial`);
    await finished(out, manifest, bytes);
    // The same bytes under the name already: that copy stands for it.
    assert.deepEqual(await saveDownload(out, manifest, hashPieces), saved);
    assert.equal(await exists(`${out}/.meshtalk`), false);
  });
});

Deno.test("a different file under the name is kept; the new one is saved beside it", async () => {
  await withFile(20_000, async ({ out, bytes, manifest }) => {
    await finished(out, manifest, bytes);
    await Deno.writeTextFile(`${out}/file.bin`, "mine, not yours");
    const saved = await saveDownload(out, manifest, hashPieces);
    const beside = `${out}/${manifest.root.slice(0, 8)}-file.bin`;
    assert.deepEqual(saved, { path: beside, beside: `${out}/file.bin` });
    assert.equal(await Deno.readTextFile(`${out}/file.bin`), "mine, not yours");
    assert.deepEqual(await Deno.readFile(beside), bytes);
  });
});

Deno.test("with both names held by other files, saving fails and the partial file stays", async () => {
  await withFile(20_000, async ({ out, bytes, manifest }) => {
    await finished(out, manifest, bytes);
    await Deno.writeTextFile(`${out}/file.bin`, "one");
    await Deno.writeTextFile(`${out}/${manifest.root.slice(0, 8)}-file.bin`, "two");
    const error = await saveDownload(out, manifest, hashPieces).then(() => null, (e) => e);
    assert.ok(error instanceof FileShareError);
    assert.equal(error.code, "unwritable");
    assert.match(error.message, /exist and hold other files/);
    assert.deepEqual(await Deno.readFile(partialPath(out, manifest.root)), bytes);
  });
});

Deno.test("two different files of one name saved at once: both kept, neither overwritten", async () => {
  await withFile(20_000, async ({ dir, out, bytes: a, manifest: first }) => {
    const b = randomBytes(20_000);
    await Deno.writeFile(`${dir}/b`, b);
    const second = await createManifest(`${dir}/b`, "file.bin", hashPieces);
    await finished(out, first, a);
    await finished(out, second, b);
    const [one, two] = await Promise.all([
      saveDownload(out, first, hashPieces),
      saveDownload(out, second, hashPieces),
    ]);
    assert.notEqual(one.path, two.path);
    assert.deepEqual(await Deno.readFile(one.path), a);
    assert.deepEqual(await Deno.readFile(two.path), b);
  });
});
