/**
 * Names and paths that are safe to write under an output folder on any disk: the name of a shared
 * file or folder (one plain path segment), the path of each file in a folder, and what makes a
 * list of paths a folder (in order, no two that one disk could take for the same name). Both sides
 * check them: the offering side before it announces, the receiving side before it takes in a
 * manifest, so nothing is ever written for a bad one.
 *
 * @module
 */
import { FileShareError } from "./errors.ts";

/**
 * Longest file name, and longest segment of a path in a folder, in UTF-8 bytes.
 *
 * @example
 * ```ts
 * import { MAX_NAME_BYTES } from "@meshtalk/files";
 * console.log(MAX_NAME_BYTES); // 255
 * ```
 */
export const MAX_NAME_BYTES = 255;

/**
 * Most files in a folder.
 *
 * @example
 * ```ts
 * import { MAX_FOLDER_FILES } from "@meshtalk/files";
 * console.log(MAX_FOLDER_FILES); // 10000
 * ```
 */
export const MAX_FOLDER_FILES = 10_000;

/**
 * Longest path of a file in a folder, in UTF-8 bytes (each segment at most 255).
 *
 * @example
 * ```ts
 * import { MAX_PATH_BYTES } from "@meshtalk/files";
 * console.log(MAX_PATH_BYTES); // 1024
 * ```
 */
export const MAX_PATH_BYTES = 1024;

/**
 * Most UTF-8 bytes of all the paths of a folder together: with the piece hashes, a folder's
 * manifest must fit in one frame.
 *
 * @example
 * ```ts
 * import { MAX_PATHS_BYTES } from "@meshtalk/files";
 * console.log(MAX_PATHS_BYTES); // 262144
 * ```
 */
export const MAX_PATHS_BYTES = 256 * 1024;

/**
 * A regular file in a folder: its path below the folder, `/` between segments, and its size.
 *
 * @example
 * ```ts
 * import type { FolderFile } from "@meshtalk/files";
 * const file: FolderFile = { path: "docs/readme.md", size: 1200 };
 * ```
 */
export interface FolderFile {
  path: string;
  size: number;
}

const encoder = new TextEncoder();
// deno-lint-ignore no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * Throws a {@linkcode FileShareError} (`bad-name`) unless `name` is a plain file name: one path
 * component, not `.` or `..`, no slashes, backslashes, control characters, at most 255 bytes.
 *
 * @example
 * ```ts
 * import { checkFileName } from "@meshtalk/files";
 * checkFileName("part2.txt"); // fine
 * ```
 */
export function checkFileName(name: string): void {
  const why = name.length === 0
    ? "it is empty"
    : name === "." || name === ".."
    ? "it names a directory"
    : /[/\\]/.test(name)
    ? "it holds a path separator, so it would leave the output folder"
    : CONTROL.test(name)
    ? "it holds control characters"
    : encoder.encode(name).length > MAX_NAME_BYTES
    ? `it is longer than ${MAX_NAME_BYTES} bytes`
    : null;
  if (why) {
    throw new FileShareError("bad-name", `refused the file name ${JSON.stringify(name)}: ${why}`);
  }
}

/**
 * Why `path` cannot name a file inside a folder, or null when it can: it must be relative, its
 * segments separated by single `/`, none empty, `.` or `..`, no backslash, no control character
 * (U+0000 to U+001F, U+007F), each segment at most 255 UTF-8 bytes and the whole at most 1024.
 *
 * @example
 * ```ts
 * import { folderPathProblem } from "@meshtalk/files";
 * console.log(folderPathProblem("docs/readme.md")); // null
 * console.log(folderPathProblem("../etc/passwd")); // 'it has a ".." segment'
 * ```
 */
export function folderPathProblem(path: string): string | null {
  if (path.length === 0) return "it is empty";
  if (path.startsWith("/")) return "it is absolute";
  if (/^[A-Za-z]:/.test(path)) return "it starts with a drive letter";
  if (path.includes("\\")) return "it holds a backslash";
  if (CONTROL.test(path)) return "it holds control characters";
  if (encoder.encode(path).length > MAX_PATH_BYTES) {
    return `it is longer than ${MAX_PATH_BYTES} bytes`;
  }
  if (path.endsWith("/")) return "it ends with a slash";
  for (const segment of path.split("/")) {
    if (segment === "") return "it has an empty segment (two slashes in a row)";
    if (segment === "." || segment === "..") return `it has a "${segment}" segment`;
    if (encoder.encode(segment).length > MAX_NAME_BYTES) {
      return `it has a segment longer than ${MAX_NAME_BYTES} bytes`;
    }
  }
  return null;
}

/**
 * A path as a disk that ignores case and Unicode normalization sees it: NFC, then lower case.
 * Two paths with the same key would be one file on such a disk (macOS, Windows).
 *
 * @example
 * ```ts
 * import { foldPath } from "@meshtalk/files";
 * console.log(foldPath("Caf\u0065\u0301/README") === foldPath("café/readme")); // true
 * ```
 */
export function foldPath(path: string): string {
  return path.normalize("NFC").toLowerCase();
}

/**
 * Orders two strings by their UTF-8 bytes (which is the order of their code points), the order
 * of the files of a folder's manifest.
 *
 * @example
 * ```ts
 * import { compareUtf8 } from "@meshtalk/files";
 * console.log(["b", "B", "a/b", "\u{1F600}", "\uFFFD"].sort(compareUtf8)); // ["B", "a/b", "b", "\uFFFD", "\u{1F600}"]
 * ```
 */
export function compareUtf8(a: string, b: string): number {
  const x = encoder.encode(a);
  const y = encoder.encode(b);
  const length = Math.min(x.length, y.length);
  for (let i = 0; i < length; i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
}

/**
 * Why `files` cannot be the files of a folder, or null when they can: at most
 * {@linkcode MAX_FOLDER_FILES}, each path safe (see {@linkcode folderPathProblem}), in strictly
 * increasing UTF-8 order, sizes whole numbers, at most {@linkcode MAX_PATHS_BYTES} of paths, and
 * no two that collide after case folding and normalization (see {@linkcode foldPath}): no two
 * files, no file that is also a folder, and no folder spelled two ways.
 *
 * @example
 * ```ts
 * import { folderProblem } from "@meshtalk/files";
 * console.log(folderProblem([{ path: "a.txt", size: 1 }, { path: "b/c.txt", size: 0 }])); // null
 * console.log(folderProblem([{ path: "A.txt", size: 1 }, { path: "a.txt", size: 1 }]));
 * // '"A.txt" and "a.txt" are one name on a disk that ignores case or Unicode form'
 * ```
 */
export function folderProblem(files: readonly FolderFile[]): string | null {
  if (files.length > MAX_FOLDER_FILES) {
    return `it lists ${files.length} files, more than ${MAX_FOLDER_FILES}`;
  }
  let pathBytes = 0;
  for (const [i, { path, size }] of files.entries()) {
    const why = folderPathProblem(path);
    if (why) return `the path ${JSON.stringify(path)}: ${why}`;
    if (!Number.isSafeInteger(size) || size < 0) {
      return `the size of ${JSON.stringify(path)} is not a whole number of bytes`;
    }
    if (i > 0 && compareUtf8(files[i - 1].path, path) >= 0) {
      return `its paths are not in increasing UTF-8 order at ${JSON.stringify(path)}`;
    }
    pathBytes += encoder.encode(path).length;
  }
  if (pathBytes > MAX_PATHS_BYTES) {
    return `its paths take ${pathBytes} bytes, more than ${MAX_PATHS_BYTES}`;
  }
  return collision(files);
}

/** Every file and every folder above one, by its folded path: no key may name two things. */
function collision(files: readonly FolderFile[]): string | null {
  const seen = new Map<string, { path: string; isFolder: boolean }>();
  for (const { path } of files) {
    const segments = path.split("/");
    for (let depth = 1; depth <= segments.length; depth++) {
      const prefix = segments.slice(0, depth).join("/");
      const isFolder = depth < segments.length;
      const key = foldPath(prefix);
      const other = seen.get(key);
      if (!other) {
        seen.set(key, { path: prefix, isFolder });
        continue;
      }
      if (other.isFolder && isFolder && other.path === prefix) continue;
      if (other.isFolder !== isFolder && other.path === prefix) {
        return `${JSON.stringify(prefix)} is both a file and a folder`;
      }
      return `${JSON.stringify(other.path)} and ${JSON.stringify(prefix)} are one name on a ` +
        `disk that ignores case or Unicode form`;
    }
  }
  return null;
}
