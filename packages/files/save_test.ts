// The disk side of a download, on real files in a temp folder.
import assert from "node:assert/strict";
import { randomBytes } from "@meshtalk/core/testing";
import { hashPiecesHere as hashPieces } from "./_testing.ts";
import { Bitfield } from "./bitfield.ts";
import { FileShareError } from "./errors.ts";
import { createManifest } from "./create_manifest.ts";
import { pieceCount } from "./layout.ts";
import type { Manifest } from "./manifest.ts";
import { manifestRoot } from "./manifest.ts";
import { holdsFile, holdsFolder, partialPath, prepareDownload, saveDownload } from "./save.ts";

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

/** The files of the folders these tests fetch: nested, empty, unicode. */
const TREE: Record<string, number> = {
  "a.txt": 2 * PIECE + 5,
  "empty": 0,
  "sub/deeper/b.bin": PIECE,
  "sub/ünï.txt": 7,
};

/** A folder `tree` (its files random) in a temp folder, and its manifest; `out` is `<dir>/out`. */
async function withFolder(
  body: (t: { dir: string; out: string; source: string; manifest: Manifest }) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    const source = `${dir}/tree`;
    for (const [path, size] of Object.entries(TREE)) {
      await Deno.mkdir(`${source}/${path}`.replace(/\/[^/]*$/, ""), { recursive: true });
      await Deno.writeFile(`${source}/${path}`, randomBytes(size));
    }
    const manifest = await createManifest(source, "tree", hashPieces);
    await body({ dir, out: `${dir}/out`, source, manifest });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Copies the folder at `from` (files and folders only) to `to`. */
async function copyTree(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for await (const entry of Deno.readDir(from)) {
    if (entry.isDirectory) await copyTree(`${from}/${entry.name}`, `${to}/${entry.name}`);
    else await Deno.copyFile(`${from}/${entry.name}`, `${to}/${entry.name}`);
  }
}

Deno.test("a new folder download gets a partial folder: each file at its size, empty ones too", async () => {
  await withFolder(async ({ out, manifest }) => {
    const have = new Bitfield(pieceCount(manifest));
    assert.equal(await prepareDownload(out, manifest, have, hashPieces), null);
    const partial = partialPath(out, manifest.root);
    for (const [path, size] of Object.entries(TREE)) {
      assert.equal((await Deno.stat(`${partial}/${path}`)).size, size, path);
    }
    assert.equal(have.count, 0);
  });
});

Deno.test("a folder resumes file by file: exactly the pieces still matching count", async () => {
  await withFolder(async ({ out, source, manifest }) => {
    const partial = partialPath(out, manifest.root);
    // An earlier run got a.txt whole and b.bin wrong; ünï.txt was never begun.
    await Deno.mkdir(`${partial}/sub/deeper`, { recursive: true });
    await Deno.copyFile(`${source}/a.txt`, `${partial}/a.txt`);
    await Deno.writeFile(`${partial}/sub/deeper/b.bin`, randomBytes(PIECE));
    const have = new Bitfield(pieceCount(manifest));
    assert.equal(await prepareDownload(out, manifest, have, hashPieces), null);
    assert.deepEqual([...have.pieces()], [0, 1, 2], "the three pieces of a.txt");
    assert.equal(pieceCount(manifest), 5);
  });
});

Deno.test("a finished folder takes its name, the tree exactly, and the partial area goes", async () => {
  await withFolder(async ({ out, source, manifest }) => {
    await copyTree(source, partialPath(out, manifest.root));
    const saved = await saveDownload(out, manifest, hashPieces);
    assert.deepEqual(saved, { path: `${out}/tree`, beside: null });
    assert.ok(await holdsFolder(saved.path, manifest, hashPieces));
    assert.equal(await exists(`${out}/.meshtalk`), false);
    // The same folder there already stands for it.
    await copyTree(source, partialPath(out, manifest.root));
    assert.deepEqual(await saveDownload(out, manifest, hashPieces), saved);
    assert.equal(await exists(`${out}/.meshtalk`), false);
    // And a new download of it finds it saved.
    const have = new Bitfield(pieceCount(manifest));
    assert.equal(await prepareDownload(out, manifest, have, hashPieces), saved.path);
  });
});

Deno.test("an empty folder is saved as an empty folder", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const fields = {
      name: "nothing",
      size: 0,
      pieceSize: PIECE,
      pieces: new Uint8Array(0),
      files: [],
    };
    const manifest: Manifest = { ...fields, root: await manifestRoot(fields) };
    const have = new Bitfield(0);
    assert.equal(await prepareDownload(`${dir}/out`, manifest, have, hashPieces), null);
    assert.ok(have.complete);
    const saved = await saveDownload(`${dir}/out`, manifest, hashPieces);
    assert.equal(saved.path, `${dir}/out/nothing`);
    assert.deepEqual(await Array.fromAsync(Deno.readDir(saved.path)), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a different folder (or file) under the name is kept; the new one is saved beside it", async () => {
  await withFolder(async ({ out, source, manifest }) => {
    await copyTree(source, `${out}/tree`);
    await Deno.writeTextFile(`${out}/tree/mine.txt`, "an extra file makes it another folder");
    await copyTree(source, partialPath(out, manifest.root));
    const saved = await saveDownload(out, manifest, hashPieces);
    const beside = `${out}/${manifest.root.slice(0, 8)}-tree`;
    assert.deepEqual(saved, { path: beside, beside: `${out}/tree` });
    assert.equal(
      await Deno.readTextFile(`${out}/tree/mine.txt`),
      "an extra file makes it another folder",
    );
    assert.ok(await holdsFolder(beside, manifest, hashPieces));
    assert.equal(await holdsFolder(`${out}/tree`, manifest, hashPieces), false);
  });
  await withFolder(async ({ out, source, manifest }) => {
    await Deno.mkdir(out);
    await Deno.writeTextFile(`${out}/tree`, "a file of that name");
    await Deno.writeTextFile(`${out}/${manifest.root.slice(0, 8)}-tree`, "and another");
    await copyTree(source, partialPath(out, manifest.root));
    const error = await saveDownload(out, manifest, hashPieces).then(() => null, (e) => e);
    assert.ok(error instanceof FileShareError);
    assert.match(error.message, /exist and hold other files/);
    assert.ok(await exists(`${partialPath(out, manifest.root)}/sub/ünï.txt`), "the partial stays");
  });
});

Deno.test("a folder is not taken as held with a file missing, changed, or a link among its files", async () => {
  await withFolder(async ({ out, source, manifest }) => {
    await copyTree(source, `${out}/tree`);
    assert.ok(await holdsFolder(`${out}/tree`, manifest, hashPieces));
    await Deno.rename(`${out}/tree/empty`, `${out}/moved`);
    assert.equal(await holdsFolder(`${out}/tree`, manifest, hashPieces), false, "missing");
    await Deno.symlink(`${out}/moved`, `${out}/tree/empty`);
    assert.equal(await holdsFolder(`${out}/tree`, manifest, hashPieces), false, "a link");
    await Deno.remove(`${out}/tree/empty`);
    await Deno.rename(`${out}/moved`, `${out}/tree/empty`);
    assert.ok(await holdsFolder(`${out}/tree`, manifest, hashPieces));
    const bytes = await Deno.readFile(`${out}/tree/sub/ünï.txt`);
    bytes[0] ^= 1;
    await Deno.writeFile(`${out}/tree/sub/ünï.txt`, bytes);
    assert.equal(await holdsFolder(`${out}/tree`, manifest, hashPieces), false, "changed");
  });
});

Deno.test("a folder manifest with a path that leaves the folder writes nothing", async () => {
  await withFolder(async ({ dir, manifest }) => {
    for (const path of ["../escape", "/tmp/escape", "a/../../escape", "a//b"]) {
      const files = [{ path, size: 5 }];
      const fields = { ...manifest, files, size: 5, pieces: new Uint8Array(32) };
      const evil: Manifest = { ...fields, root: await manifestRoot(fields) };
      const error = await prepareDownload(`${dir}/out`, evil, new Bitfield(1), hashPieces).then(
        () => null,
        (e) => e,
      );
      assert.ok(error instanceof FileShareError, path);
      assert.equal(error.code, "bad-manifest");
      assert.match(error.message, /^refused the manifest of "tree": the path /);
    }
    assert.equal(await exists(`${dir}/out`), false);
    assert.equal(await exists(`${dir}/escape`), false);
  });
});
