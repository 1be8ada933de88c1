import assert from "node:assert/strict";
import { Layout, layoutOf, pieceCount, pieceLength } from "./layout.ts";

const PIECE = 16384;

Deno.test("a file: pieces from its start, the last one shorter", () => {
  const layout = new Layout({ size: 2 * PIECE + 100, pieceSize: PIECE });
  assert.equal(layout.isFolder, false);
  assert.equal(layout.pieceCount, 3);
  assert.deepEqual(layout.entries, [{
    path: "",
    size: 2 * PIECE + 100,
    firstPiece: 0,
    pieceCount: 3,
  }]);
  assert.deepEqual(layout.place(2), { entry: 0, offset: 2 * PIECE, length: 100 });
  assert.equal(pieceCount({ size: 0, pieceSize: PIECE }), 0);
});

Deno.test("a folder: each file on a piece boundary, empty files with no piece", () => {
  const files = [
    { path: "a", size: PIECE + 1 }, // pieces 0, 1
    { path: "b", size: 0 }, // none
    { path: "c", size: PIECE }, // piece 2
    { path: "d", size: 0 }, // none
    { path: "e", size: 3 }, // piece 3
  ];
  const fields = { size: 2 * PIECE + 4, pieceSize: PIECE, files };
  const layout = new Layout(fields);
  assert.equal(layout.isFolder, true);
  assert.equal(layout.pieceCount, 4);
  assert.equal(pieceCount(fields), 4, "not ceil(size / pieceSize) = 3");
  assert.deepEqual(layout.entries.map((e) => [e.firstPiece, e.pieceCount]), [
    [0, 2],
    [2, 0],
    [2, 1],
    [3, 0],
    [3, 1],
  ]);
  assert.deepEqual(layout.place(0), { entry: 0, offset: 0, length: PIECE });
  assert.deepEqual(layout.place(1), { entry: 0, offset: PIECE, length: 1 });
  assert.deepEqual(layout.place(2), { entry: 2, offset: 0, length: PIECE });
  assert.deepEqual(layout.place(3), { entry: 4, offset: 0, length: 3 });
  assert.deepEqual([0, 1, 2, 3].map((p) => pieceLength(fields, p)), [PIECE, 1, PIECE, 3]);
  for (const piece of [-1, 4, 1.5]) assert.throws(() => layout.place(piece), RangeError);
});

Deno.test("an empty folder, and one of empty files, have no pieces", () => {
  assert.equal(new Layout({ size: 0, pieceSize: PIECE, files: [] }).pieceCount, 0);
  const empties = new Layout({ size: 0, pieceSize: PIECE, files: [{ path: "x", size: 0 }] });
  assert.equal(empties.pieceCount, 0);
  assert.throws(() => empties.place(0), RangeError);
});

Deno.test("every piece of a folder of many files is placed in its file, in order", () => {
  const files = Array.from(
    { length: 200 },
    (_, i) => ({ path: `f${i}`, size: (i * 7919) % (3 * PIECE) }),
  );
  const size = files.reduce((n, f) => n + f.size, 0);
  const layout = layoutOf({ size, pieceSize: PIECE, files });
  let piece = 0;
  for (const [entry, file] of files.entries()) {
    for (let offset = 0; offset < file.size; offset += PIECE) {
      assert.deepEqual(layout.place(piece++), {
        entry,
        offset,
        length: Math.min(PIECE, file.size - offset),
      });
    }
  }
  assert.equal(piece, layout.pieceCount);
});
