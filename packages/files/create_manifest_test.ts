// Manifests of files and folders on disk, as a seeder builds them: real files in a temp folder.
import assert from "node:assert/strict";
import { HASH_BYTES } from "@meshtalk/core";
import { randomBytes } from "@meshtalk/core/testing";
import { hashPiecesHere } from "./_testing.ts";
import {
  checkManifest,
  createManifest,
  FileShareError,
  type Manifest,
  MIN_PIECE_SIZE,
  pieceCount,
  type Skipped,
} from "./mod.ts";

async function withDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Writes `files` (path below `dir` to bytes) into `dir`, making the folders on the way. */
async function writeTree(dir: string, files: Record<string, Uint8Array>): Promise<void> {
  for (const [path, bytes] of Object.entries(files)) {
    const full = `${dir}/${path}`;
    await Deno.mkdir(full.slice(0, full.lastIndexOf("/")), { recursive: true });
    await Deno.writeFile(full, bytes);
  }
}

Deno.test("a seeder's manifest is kept: the same file is not hashed twice", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeFile(`${dir}/f.bin`, new Uint8Array(40_000).fill(3));
    let hashed = 0;
    const hashPieces = (_path: string, pieceSize: number) => {
      hashed++;
      return Promise.resolve(new Uint8Array(Math.ceil(40_000 / pieceSize) * 32).fill(hashed));
    };
    const first = await createManifest(`${dir}/f.bin`, "f.bin", hashPieces, {
      cacheDir: `${dir}/cache`,
    });
    const again = await createManifest(`${dir}/f.bin`, "f.bin", hashPieces, {
      cacheDir: `${dir}/cache`,
    });
    assert.equal(hashed, 1);
    assert.deepEqual(again, first);
    const renamed = await createManifest(`${dir}/f.bin`, "g.bin", hashPieces, {
      cacheDir: `${dir}/cache`,
    });
    assert.equal(hashed, 1, "another name, same bytes: the piece hashes are reused");
    assert.notEqual(renamed.root, first.root);
    // A changed file (size or time) is hashed again.
    await Deno.writeFile(`${dir}/f.bin`, new Uint8Array(40_001));
    await createManifest(`${dir}/f.bin`, "f.bin", hashPieces, { cacheDir: `${dir}/cache` });
    assert.equal(hashed, 2);
    await assert.rejects(
      () => createManifest(`${dir}/missing`, "missing", hashPieces),
      /cannot read .*missing/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a folder: every regular file, nested, unicode and empty ones, in UTF-8 order, each on a piece boundary", async () => {
  await withDir(async (dir) => {
    const tree = {
      "b.txt": randomBytes(MIN_PIECE_SIZE + 10),
      "a/empty.txt": new Uint8Array(0),
      "a/deep/er/x.bin": randomBytes(3 * MIN_PIECE_SIZE),
      "ünïcödé/日本語.txt": randomBytes(100),
      "Z": randomBytes(1),
    };
    await writeTree(`${dir}/share`, tree);
    await Deno.mkdir(`${dir}/share/an empty folder`);
    const manifest = await createManifest(`${dir}/share`, "share", hashPiecesHere);
    await checkManifest(manifest);
    assert.deepEqual(manifest.files, [
      { path: "Z", size: 1 },
      { path: "a/deep/er/x.bin", size: 3 * MIN_PIECE_SIZE },
      { path: "a/empty.txt", size: 0 },
      { path: "b.txt", size: MIN_PIECE_SIZE + 10 },
      { path: "ünïcödé/日本語.txt", size: 100 },
    ]);
    assert.equal(manifest.size, 1 + 3 * MIN_PIECE_SIZE + MIN_PIECE_SIZE + 10 + 100);
    assert.equal(manifest.pieceSize, MIN_PIECE_SIZE);
    assert.equal(pieceCount(manifest), 1 + 3 + 0 + 2 + 1);
    // Each file's piece hashes are those of the file on its own, one after another.
    const expected = [];
    for (const { path } of manifest.files!) {
      expected.push(...await hashPiecesHere(`${dir}/share/${path}`, manifest.pieceSize));
    }
    assert.deepEqual(manifest.pieces, new Uint8Array(expected));
  });
});

Deno.test("a folder's root is stable: the same tree gives the same root, any change another", async () => {
  await withDir(async (dir) => {
    const bytes = randomBytes(40_000);
    await writeTree(`${dir}/one`, { "x/a.bin": bytes, "b": new Uint8Array(0) });
    await writeTree(`${dir}/two`, { "b": new Uint8Array(0), "x/a.bin": bytes });
    const one = await createManifest(`${dir}/one`, "tree", hashPiecesHere);
    const two = await createManifest(`${dir}/two`, "tree", hashPiecesHere);
    assert.equal(one.root, two.root, "written in another order, somewhere else: one root");
    assert.equal(
      (await createManifest(`${dir}/one`, "tree", hashPiecesHere)).root,
      one.root,
      "hashed again",
    );
    await Deno.rename(`${dir}/two/b`, `${dir}/two/c`);
    assert.notEqual((await createManifest(`${dir}/two`, "tree", hashPiecesHere)).root, one.root);
    assert.notEqual((await createManifest(`${dir}/one`, "other", hashPiecesHere)).root, one.root);
  });
});

Deno.test("an empty folder, and a folder of zero-byte files, have manifests with no pieces", async () => {
  await withDir(async (dir) => {
    await Deno.mkdir(`${dir}/empty`);
    const empty = await createManifest(`${dir}/empty`, "empty", hashPiecesHere);
    assert.deepEqual(
      { files: empty.files, size: empty.size, pieces: empty.pieces.length },
      { files: [], size: 0, pieces: 0 },
    );
    await checkManifest(empty);
    await writeTree(`${dir}/zeros`, { "a": new Uint8Array(0), "b/c": new Uint8Array(0) });
    const zeros = await createManifest(`${dir}/zeros`, "zeros", hashPiecesHere);
    assert.deepEqual(zeros.files, [{ path: "a", size: 0 }, { path: "b/c", size: 0 }]);
    assert.equal(zeros.pieces.length, 0);
    await checkManifest(zeros);
  });
});

Deno.test("links in a folder are skipped, never followed, and said; so is what is not a file", async () => {
  await withDir(async (dir) => {
    await writeTree(dir, { "outside/secret": randomBytes(10), "share/real.txt": randomBytes(10) });
    await Deno.symlink(`${dir}/outside/secret`, `${dir}/share/to-a-file`);
    await Deno.symlink(`${dir}/outside`, `${dir}/share/to-a-folder`);
    await Deno.symlink("real.txt", `${dir}/share/inside`);
    await Deno.symlink("/no/such/place", `${dir}/share/dangling`);
    await new Deno.Command("mkfifo", { args: [`${dir}/share/fifo`] }).output();
    const skipped: Skipped[] = [];
    const manifest = await createManifest(`${dir}/share`, "share", hashPiecesHere, {
      onSkip: (s) => skipped.push(s),
    });
    assert.deepEqual(manifest.files, [{ path: "real.txt", size: 10 }]);
    const link = "a symbolic link (links are not followed)";
    assert.deepEqual(skipped.sort((a, b) => a.path < b.path ? -1 : 1), [
      { path: "dangling", reason: link },
      { path: "fifo", reason: "not a regular file" },
      { path: "inside", reason: link },
      { path: "to-a-file", reason: link },
      { path: "to-a-folder", reason: link },
    ]);
  });
});

Deno.test("a folder whose names one disk would take for the same is refused when offered", async () => {
  await withDir(async (dir) => {
    await writeTree(`${dir}/share`, { "Notes.txt": randomBytes(3), "notes.txt": randomBytes(4) });
    if ((await Array.fromAsync(Deno.readDir(`${dir}/share`))).length < 2) {
      return; // this disk ignores case itself: it cannot hold such a folder
    }
    const error = await createManifest(`${dir}/share`, "share", hashPiecesHere).then(
      () => null,
      (e) => e,
    );
    assert.ok(error instanceof FileShareError);
    assert.equal(error.code, "bad-name");
    assert.equal(
      error.message,
      `cannot offer ${dir}/share: "Notes.txt" and "notes.txt" are one name on a disk that ` +
        `ignores case or Unicode form`,
    );
  });
});

Deno.test("a folder's piece hashes are kept: an unchanged folder is not hashed again", async () => {
  await withDir(async (dir) => {
    await writeTree(`${dir}/share`, { "a": randomBytes(20_000), "b/c": randomBytes(5) });
    let hashed = 0;
    const counting = (path: string, pieceSize: number) => {
      hashed++;
      return hashPiecesHere(path, pieceSize);
    };
    const cacheDir = `${dir}/cache`;
    const first = await createManifest(`${dir}/share`, "share", counting, { cacheDir });
    assert.equal(hashed, 2);
    const again = await createManifest(`${dir}/share`, "share", counting, { cacheDir });
    assert.equal(hashed, 2);
    assert.deepEqual(again, first);
    await Deno.writeFile(`${dir}/share/b/c`, randomBytes(6));
    const changed = await createManifest(`${dir}/share`, "share", counting, { cacheDir });
    assert.equal(hashed, 4, "a file changed: the folder is hashed again");
    assert.notEqual(changed.root, first.root);
  });
});

Deno.test("a file that changes size while hashed is refused, not announced wrong", async () => {
  await withDir(async (dir) => {
    await writeTree(dir, { "f": randomBytes(40_000) });
    const shrinking = async (path: string, pieceSize: number) => {
      await Deno.writeFile(path, randomBytes(10));
      return hashPiecesHere(path, pieceSize);
    };
    await assert.rejects(
      () => createManifest(`${dir}/f`, "f", shrinking),
      (e: Error) =>
        e instanceof FileShareError && e.code === "unreadable" && /changed while/.test(e.message),
    );
    const manifest: Manifest = await createManifest(`${dir}/f`, "f", hashPiecesHere);
    assert.equal(manifest.pieces.length, HASH_BYTES);
  });
});
