import assert from "node:assert/strict";
import {
  checkFileName,
  compareUtf8,
  FileShareError,
  type FolderFile,
  folderPathProblem,
  folderProblem,
  foldPath,
  MAX_FOLDER_FILES,
  MAX_PATHS_BYTES,
} from "./mod.ts";

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

Deno.test("paths in a folder: plain relative ones pass, nested and unicode too", () => {
  for (
    const path of [
      "a.txt",
      "docs/readme.md",
      "a/b/c/d/e.bin",
      ".hidden/..dots/...",
      "ünïcödé/日本語.txt",
      "emoji \u{1F600}/x",
      "x".repeat(255),
      `${"x".repeat(255)}/${"y".repeat(255)}`,
    ]
  ) {
    assert.equal(folderPathProblem(path), null, path);
  }
});

Deno.test("every bad path in a folder is refused, each with its reason", () => {
  const cases: [string, string][] = [
    ["", "it is empty"],
    ["/etc/passwd", "it is absolute"],
    ["/", "it is absolute"],
    ["C:/Windows/x", "it starts with a drive letter"],
    ["c:x", "it starts with a drive letter"],
    ["a\\b", "it holds a backslash"],
    ["..\\x", "it holds a backslash"],
    ["a\u0000b", "it holds control characters"],
    ["a\nb", "it holds control characters"],
    ["a\u007fb", "it holds control characters"],
    ["a/", "it ends with a slash"],
    ["a//b", "it has an empty segment (two slashes in a row)"],
    ["..", 'it has a ".." segment'],
    ["../x", 'it has a ".." segment'],
    ["a/../../x", 'it has a ".." segment'],
    ["a/..", 'it has a ".." segment'],
    [".", 'it has a "." segment'],
    ["./a", 'it has a "." segment'],
    ["a/./b", 'it has a "." segment'],
    [`${"x".repeat(256)}/a`, "it has a segment longer than 255 bytes"],
    ["é".repeat(128), "it has a segment longer than 255 bytes"],
    [Array(300).fill("abc").join("/"), "it is longer than 1024 bytes"],
  ];
  for (const [path, why] of cases) assert.equal(folderPathProblem(path), why, JSON.stringify(path));
});

Deno.test("paths order by their UTF-8 bytes, not by UTF-16 units", () => {
  // U+FFFD is one UTF-16 unit above a surrogate pair's first, but below the pair's code point.
  const paths = ["\u{1F600}", "\uFFFD", "b", "a/b", "B", "a", "a0", "a-"];
  assert.deepEqual(paths.sort(compareUtf8), [
    "B",
    "a",
    "a-",
    "a/b",
    "a0",
    "b",
    "\uFFFD",
    "\u{1F600}",
  ]);
  assert.equal(compareUtf8("same", "same"), 0);
});

Deno.test("a list of files is a folder only in order, within bounds, and with no collisions", () => {
  const ok: FolderFile[] = [
    { path: "A/x", size: 1 },
    { path: "A/y", size: 0 },
    { path: "B.txt", size: 5 },
    { path: "b/c", size: 2 },
  ];
  assert.equal(folderProblem([]), null, "an empty folder");
  assert.equal(folderProblem(ok), null);
  const cases: [FolderFile[], string][] = [
    [
      [{ path: "b", size: 1 }, { path: "a", size: 1 }],
      'its paths are not in increasing UTF-8 order at "a"',
    ],
    [
      [{ path: "a", size: 1 }, { path: "a", size: 1 }],
      'its paths are not in increasing UTF-8 order at "a"',
    ],
    [[{ path: "a", size: -1 }], 'the size of "a" is not a whole number of bytes'],
    [[{ path: "a", size: 1.5 }], 'the size of "a" is not a whole number of bytes'],
    [[{ path: "../a", size: 1 }], 'the path "../a": it has a ".." segment'],
    [[{ path: "/abs", size: 1 }], 'the path "/abs": it is absolute'],
    [
      [{ path: "README.md", size: 1 }, { path: "readme.md", size: 1 }],
      '"README.md" and "readme.md" are one name on a disk that ignores case or Unicode form',
    ],
    [
      // "é" written as e + combining accent, and as one code point.
      [{ path: "cafe\u0301", size: 1 }, { path: "caf\u00e9", size: 1 }],
      '"cafe\u0301" and "caf\u00e9" are one name on a disk that ignores case or Unicode form',
    ],
    [
      [{ path: "Docs/a", size: 1 }, { path: "docs/b", size: 1 }],
      '"Docs" and "docs" are one name on a disk that ignores case or Unicode form',
    ],
    [[{ path: "a", size: 1 }, { path: "a/b", size: 1 }], '"a" is both a file and a folder'],
    [
      [{ path: "A", size: 1 }, { path: "a/b", size: 1 }],
      '"A" and "a" are one name on a disk that ignores case or Unicode form',
    ],
  ];
  for (const [files, why] of cases) assert.equal(folderProblem(files), why, why);
});

Deno.test("a folder's file count and path bytes are bounded", () => {
  const many = Array.from({ length: MAX_FOLDER_FILES + 1 }, (_, i) => ({
    path: `f${String(i).padStart(6, "0")}`,
    size: 0,
  }));
  assert.equal(folderProblem(many), `it lists ${many.length} files, more than ${MAX_FOLDER_FILES}`);
  const long = Array.from({ length: 300 }, (_, i) => ({
    // 1,000 bytes each, in segments of at most 250.
    path: `${String(i).padStart(4, "0")}/${"x".repeat(250)}/${"y".repeat(250)}/${"z".repeat(250)}/${
      "w".repeat(242)
    }`,
    size: 0,
  }));
  assert.equal(
    folderProblem(long),
    `its paths take ${300 * 1000} bytes, more than ${MAX_PATHS_BYTES}`,
  );
});

Deno.test("case folding and normalization: the keys two paths would share on such a disk", () => {
  assert.equal(foldPath("Straße/ÄÖÜ"), "straße/äöü");
  assert.equal(foldPath("A\u030A"), foldPath("\u00e5"));
  assert.notEqual(foldPath("a"), foldPath("b"));
});
