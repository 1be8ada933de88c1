import assert from "node:assert/strict";
import { blake3, concatBytes, toHex } from "@meshtalk/core";
import {
  checkManifest,
  choosePieceSize,
  FileShareError,
  type Manifest,
  manifestRoot,
  MAX_PIECE_SIZE,
  MIN_PIECE_SIZE,
  pieceCount,
  pieceLength,
  rootBytes,
} from "./mod.ts";

Deno.test("piece sizes: powers of two from 16 KiB to 1 MiB, about 64 pieces or more", () => {
  assert.equal(choosePieceSize(0), MIN_PIECE_SIZE);
  assert.equal(choosePieceSize(100), MIN_PIECE_SIZE);
  assert.equal(choosePieceSize(2 * 2 ** 20), 32 * 1024);
  assert.equal(choosePieceSize(64 * 2 ** 20), MAX_PIECE_SIZE);
  assert.equal(choosePieceSize(4 * 2 ** 30), MAX_PIECE_SIZE);
  const m = { size: 100_000, pieceSize: 16384 };
  assert.equal(pieceCount(m), 7);
  assert.equal(pieceLength(m, 0), 16384);
  assert.equal(pieceLength(m, 6), 100_000 - 6 * 16384);
});

Deno.test("the root hash covers every field, byte for byte as PROTOCOL.md says", async () => {
  const base = { name: "a.txt", size: 5, pieceSize: 16384, pieces: new Uint8Array(32).fill(7) };
  // Built by hand from the table in docs/PROTOCOL.md, section 8.
  const bytes = new Uint8Array([
    ...new TextEncoder().encode("meshtalk-files/1\0"),
    0,
    0,
    0,
    5,
    ...new TextEncoder().encode("a.txt"),
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    5,
    0,
    0,
    0x40,
    0,
    ...base.pieces,
  ]);
  const expected = Array.from(await blake3(bytes), (b) => b.toString(16).padStart(2, "0")).join("");
  assert.equal(await manifestRoot(base), expected);
  const roots = new Set([
    expected,
    await manifestRoot({ ...base, name: "b.txt" }),
    await manifestRoot({ ...base, size: 6 }),
    await manifestRoot({ ...base, pieceSize: 32768 }),
    await manifestRoot({ ...base, pieces: new Uint8Array(32).fill(8) }),
  ]);
  assert.equal(roots.size, 5, "a change in any field changes the root");
});

Deno.test("manifests that do not add up are refused", async () => {
  const good = { name: "a", size: 20_000, pieceSize: 16384, pieces: new Uint8Array(64) };
  const manifest: Manifest = { ...good, root: await manifestRoot(good) };
  await checkManifest(manifest);
  const bad: [Partial<Manifest>, RegExp][] = [
    [{ root: "0".repeat(64) }, /root hash does not match/],
    [{ pieces: new Uint8Array(32) }, /1 piece hashes for 2 pieces/],
    [{ pieceSize: 1000 }, /piece size of 1000/],
    [{ pieceSize: 2 * MAX_PIECE_SIZE }, /piece size of/],
    [{ size: 2 ** 40 }, /more than 32768 pieces/],
    [{ name: "../a" }, /refused the file name/],
  ];
  for (const [change, why] of bad) {
    await assert.rejects(() => checkManifest({ ...manifest, ...change }), why);
  }
});

/** The worked example of docs/PROTOCOL.md, section 8: a folder "docs" of three files. */
const encoder = new TextEncoder();
const exampleFolder = async () => ({
  name: "docs",
  size: 8,
  pieceSize: 16384,
  pieces: concatBytes(await blake3(encoder.encode("hello")), await blake3(encoder.encode("hi\n"))),
  files: [{ path: "a.txt", size: 5 }, { path: "empty", size: 0 }, { path: "sub/b.txt", size: 3 }],
});

Deno.test("a folder's root hash, byte for byte as PROTOCOL.md says, and its worked example", async () => {
  const folder = await exampleFolder();
  const u32 = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
  const u64 = (n: number) => [0, 0, 0, 0, ...u32(n)];
  const text = (value: string) => [...u32(encoder.encode(value).length), ...encoder.encode(value)];
  // Built by hand from the table in docs/PROTOCOL.md, section 8.
  const bytes = new Uint8Array([
    ...encoder.encode("meshtalk-files/1 folder\0"),
    ...text("docs"),
    ...u32(16384),
    ...u32(3),
    ...text("a.txt"),
    ...u64(5),
    ...text("empty"),
    ...u64(0),
    ...text("sub/b.txt"),
    ...u64(3),
    ...folder.pieces,
  ]);
  assert.deepEqual(rootBytes(folder), bytes);
  assert.equal(bytes.length, 159);
  // The numbers PROTOCOL.md gives for the example.
  assert.equal(
    toHex(folder.pieces.subarray(0, 32)),
    "ea8f163db38682925e4491c5e58d4bb3506ef8c14eb78a86e908c5624a67200f",
  );
  assert.equal(
    toHex(folder.pieces.subarray(32)),
    "0b8b60248fad7ac6dfac221b7e01a8b91c772421a15b387dd1fb2d6a94aee438",
  );
  const root = await manifestRoot(folder);
  assert.equal(root, "a44d161381270c00c7c468d4f0fd8728d4d118def23bd3397940a2f4eaf17f43");
  await checkManifest({ ...folder, root });
  assert.equal(
    await manifestRoot({
      name: "docs",
      size: 0,
      pieceSize: 16384,
      pieces: new Uint8Array(0),
      files: [],
    }),
    "a1fd291c5b307e3d29363c9a4523466c6a55e2802d055396d739e4ff2225aad4",
    "the empty folder docs",
  );
});

Deno.test("a folder's root covers every path and size; a file and a folder never share one", async () => {
  const folder = await exampleFolder();
  const variants = [
    folder,
    { ...folder, name: "Docs" },
    { ...folder, pieceSize: 32768 },
    { ...folder, files: [{ ...folder.files[0], path: "A.txt" }, ...folder.files.slice(1)] },
    { ...folder, files: [folder.files[0], { path: "empty", size: 1 }, folder.files[2]] },
    { ...folder, files: [folder.files[0], folder.files[2]] },
    { ...folder, pieces: folder.pieces.slice().fill(1, 0, 1) },
    // The same name, size, piece size and pieces, as a file.
    { name: "docs", size: 8, pieceSize: 16384, pieces: folder.pieces },
  ];
  const roots = new Set(await Promise.all(variants.map((m) => manifestRoot(m))));
  assert.equal(roots.size, variants.length);
});

Deno.test("folder manifests that do not add up, or whose paths are not safe, are refused", async () => {
  const fields = await exampleFolder();
  const folder: Manifest & { files: Manifest["files"] & object } = {
    ...fields,
    root: await manifestRoot(fields),
  };
  const refused = async (change: Partial<Manifest>, why: string) => {
    const manifest = { ...folder, ...change };
    manifest.root = await manifestRoot(manifest); // a root that matches: only the rule refuses
    const error = await checkManifest(manifest).then(() => null, (e) => e);
    assert.ok(error instanceof FileShareError, why);
    assert.equal(error.code, "bad-manifest", why);
    assert.equal(error.message, `refused the manifest of "docs": ${why}`);
  };
  const withPath = (path: string) => ({
    files: [{ path, size: 5 }, folder.files[1], folder.files[2]],
  });
  await refused(withPath("../a.txt"), 'the path "../a.txt": it has a ".." segment');
  await refused(withPath("/etc/passwd"), 'the path "/etc/passwd": it is absolute');
  await refused(
    withPath("a//b"),
    'the path "a//b": it has an empty segment (two slashes in a row)',
  );
  await refused(withPath("a\\b"), 'the path "a\\\\b": it holds a backslash');
  await refused({
    files: [{ path: "A.txt", size: 5 }, { path: "a.txt", size: 0 }, folder.files[2]],
  }, '"A.txt" and "a.txt" are one name on a disk that ignores case or Unicode form');
  await refused(
    { files: [folder.files[0], folder.files[1], { path: "sub/b.txt", size: 4 }] },
    "its files add up to 9 bytes, not its size of 8",
  );
  await refused(
    { files: [folder.files[0], folder.files[1], { path: "sub/b.txt", size: 16387 }], size: 16392 },
    "2 piece hashes for 3 pieces",
  );
  await assert.rejects(
    () => checkManifest({ ...folder, name: "../docs" }),
    /refused the file name "\.\.\/docs"/,
  );
  await assert.rejects(
    () => checkManifest({ ...folder, files: [...folder.files].reverse() }),
    /refused the manifest of "docs": its paths are not in increasing UTF-8 order/,
  );
});
