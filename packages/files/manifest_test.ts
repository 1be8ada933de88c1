import assert from "node:assert/strict";
import { blake3 } from "@meshtalk/core";
import {
  checkFileName,
  checkManifest,
  choosePieceSize,
  createManifest,
  FileShareError,
  type Manifest,
  manifestRoot,
  MAX_PIECE_SIZE,
  MIN_PIECE_SIZE,
  pieceCount,
  pieceLength,
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

Deno.test("file names that would leave a folder are refused, plain ones pass", () => {
  for (const name of ["part2.txt", "a b.tar.gz", "ünïcödé", ".hidden", "..."]) checkFileName(name);
  for (
    const name of [
      "",
      ".",
      "..",
      "../x",
      "a/b",
      "/etc/passwd",
      "c:\\x",
      "a\u0000b",
      "x".repeat(256),
    ]
  ) {
    assert.throws(() => checkFileName(name), FileShareError, JSON.stringify(name));
  }
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
