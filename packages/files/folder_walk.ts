/**
 * Walking a folder on disk for its regular files. A symbolic link is never followed (it could
 * lead out of the folder), and nothing but regular files and folders is taken: whatever is left
 * out is said, with why.
 *
 * @module
 */
import { FileShareError } from "./errors.ts";
import { type FolderFile, folderPathProblem } from "./names.ts";

/**
 * Something under a folder that was left out, and why.
 *
 * @example
 * ```ts
 * import type { Skipped } from "@meshtalk/files";
 * const skipped: Skipped = { path: "photos/latest", reason: "a symbolic link (links are not followed)" };
 * ```
 */
export interface Skipped {
  /** Its path below the folder. */
  path: string;
  reason: string;
}

/**
 * A regular file found under a folder, with its modification time (ms since the epoch).
 *
 * @example
 * ```ts
 * import type { FoundFile } from "./folder_walk.ts";
 * const found: FoundFile = { path: "a/b.txt", size: 3, mtime: 0 };
 * ```
 */
export interface FoundFile extends FolderFile {
  mtime: number;
}

/**
 * Every regular file under `dir`, by its path below it (segments joined by `/`), in no particular
 * order. Symbolic links, other kinds of file, paths a folder cannot carry (see
 * `folderPathProblem`) and what cannot be read are passed to `onSkip` and left out. Throws a
 * `FileShareError` (`unreadable`) when `dir` itself cannot be read.
 *
 * @example
 * ```ts
 * import { walkFolder } from "./folder_walk.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.mkdir(`${dir}/sub`);
 * await Deno.writeTextFile(`${dir}/sub/a.txt`, "hi");
 * await Deno.symlink("/etc", `${dir}/link`);
 * const skipped: string[] = [];
 * const found = await walkFolder(dir, (s) => skipped.push(`${s.path}: ${s.reason}`));
 * console.log(found.map((f) => f.path), skipped); // ["sub/a.txt"] ["link: a symbolic link (links are not followed)"]
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function walkFolder(
  dir: string,
  onSkip: (skipped: Skipped) => void,
): Promise<FoundFile[]> {
  const found: FoundFile[] = [];
  const visit = async (below: string) => {
    const at = below === "" ? dir : `${dir}/${below}`;
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(at));
    } catch (error) {
      if (below === "") {
        throw new FileShareError("unreadable", `cannot read ${dir}: ${(error as Error).message}`);
      }
      return onSkip({ path: below, reason: `cannot read it: ${(error as Error).message}` });
    }
    for (const entry of entries) {
      const path = below === "" ? entry.name : `${below}/${entry.name}`;
      const why = folderPathProblem(path);
      if (why) {
        onSkip({ path, reason: `its name cannot be carried: ${why}` });
      } else if (entry.isSymlink) {
        onSkip({ path, reason: "a symbolic link (links are not followed)" });
      } else if (entry.isDirectory) {
        await visit(path);
      } else if (!entry.isFile) {
        onSkip({ path, reason: "not a regular file" });
      } else {
        try {
          const info = await Deno.lstat(`${dir}/${path}`);
          (await Deno.open(`${dir}/${path}`, { read: true })).close();
          found.push({ path, size: info.size, mtime: info.mtime?.getTime() ?? 0 });
        } catch (error) {
          onSkip({ path, reason: `cannot read it: ${(error as Error).message}` });
        }
      }
    }
  };
  await visit("");
  return found;
}
