/**
 * The nickname a peer keeps in its data dir, so that a restart (with no nickname given) goes on
 * under the name the user last chose.
 *
 * @module
 */
import { MAX_NICK_LENGTH } from "./messages.ts";

/** The file of a data dir that keeps the peer's nickname. */
const NICK_FILE = "nick";

/**
 * The nickname kept in `dataDir`, if any.
 *
 * @example
 * ```ts
 * import { readSavedNick, saveNick } from "./nick_file.ts";
 * const dir = await Deno.makeTempDir();
 * await saveNick(dir, "ada");
 * console.log(await readSavedNick(dir)); // "ada"
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function readSavedNick(dataDir: string): Promise<string | undefined> {
  try {
    const nick = (await Deno.readTextFile(`${dataDir}/${NICK_FILE}`)).trim();
    return nick.length > 0 ? nick.slice(0, MAX_NICK_LENGTH) : undefined;
  } catch {
    return undefined; // none kept yet
  }
}

/**
 * Keeps `nick` in `dataDir`, replacing the one kept before (atomically: a temporary file, renamed).
 *
 * @example
 * ```ts
 * import { saveNick } from "./nick_file.ts";
 * const dir = await Deno.makeTempDir();
 * await saveNick(dir, "ada");
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function saveNick(dataDir: string, nick: string): Promise<void> {
  const temporary = `${dataDir}/${NICK_FILE}.${Deno.pid}.tmp`;
  await Deno.writeTextFile(temporary, nick + "\n");
  await Deno.rename(temporary, `${dataDir}/${NICK_FILE}`);
}
