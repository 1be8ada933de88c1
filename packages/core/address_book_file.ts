/**
 * The address book on disk, so that a peer that restarts redials the peers it knew instead of
 * knowing only who it is told: `peers.json` in the peer's data dir, written whole to a temporary
 * file and renamed over the old one (a crash leaves the old book or the new, never half of one).
 * A file that is not a book (corrupt, foreign, another version) is reported once and replaced by
 * a fresh book at the next save; it never stops the peer.
 *
 * @module
 */
import type { KnownAddress } from "./address_book.ts";

/** The file's name in a data dir. */
export const ADDRESS_BOOK_FILE = "peers.json";
/** The version written; another is read as a foreign file. */
const VERSION = 1;

/** What is kept of an address on disk. */
export type StoredAddress = Pick<
  KnownAddress,
  "host" | "port" | "id" | "lastSeenAt" | "failures" | "blocked"
>;

/**
 * The addresses kept in `path`: none when there is no file yet, and none, with a `warning` that
 * says why, when the file is not an address book.
 *
 * @example
 * ```ts
 * import { readAddressBook, writeAddressBook } from "./address_book_file.ts";
 * const path = `${await Deno.makeTempDir()}/peers.json`;
 * await writeAddressBook(path, [{ host: "10.0.0.7", port: 7000, lastSeenAt: 1, failures: 0, blocked: false }]);
 * console.log((await readAddressBook(path)).addresses.length); // 1
 * await Deno.remove(path);
 * ```
 */
export async function readAddressBook(
  path: string,
): Promise<{ addresses: StoredAddress[]; warning?: string }> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return { addresses: [] };
    return { addresses: [], warning: `cannot read ${path}: ${(error as Error).message}` };
  }
  try {
    const book = JSON.parse(text);
    if (book?.version !== VERSION || !Array.isArray(book.peers)) throw new Error("not a book");
    return { addresses: book.peers.filter(isStoredAddress).map(storedAddress) };
  } catch {
    return {
      addresses: [],
      warning: `${path} is not a meshtalk address book; starting with an empty one`,
    };
  }
}

/**
 * Writes `addresses` to `path`, atomically: a temporary file beside it, then a rename.
 *
 * @example
 * ```ts
 * import { writeAddressBook } from "./address_book_file.ts";
 * const path = `${await Deno.makeTempDir()}/peers.json`;
 * await writeAddressBook(path, []);
 * console.log(JSON.parse(await Deno.readTextFile(path)).peers); // []
 * await Deno.remove(path);
 * ```
 */
export async function writeAddressBook(path: string, addresses: StoredAddress[]): Promise<void> {
  const peers = addresses.map(storedAddress);
  const temporary = `${path}.${Deno.pid}.tmp`;
  await Deno.writeTextFile(temporary, JSON.stringify({ version: VERSION, peers }) + "\n", {
    mode: 0o600,
  });
  await Deno.rename(temporary, path);
}

function isStoredAddress(value: unknown): value is StoredAddress {
  const a = value as Record<string, unknown>;
  return typeof a === "object" && a !== null &&
    typeof a.host === "string" && a.host.length > 0 && a.host.length <= 255 &&
    Number.isInteger(a.port) && (a.port as number) > 0 && (a.port as number) <= 65535 &&
    (a.id === undefined || (typeof a.id === "string" && /^[0-9a-f]{32}$/.test(a.id))) &&
    Number.isFinite(a.lastSeenAt) && Number.isInteger(a.failures) && (a.failures as number) >= 0 &&
    typeof a.blocked === "boolean";
}

/** Only the fields that are kept, in a fixed order. */
function storedAddress(a: StoredAddress): StoredAddress {
  return {
    host: a.host,
    port: a.port,
    ...(a.id ? { id: a.id } : {}),
    lastSeenAt: a.lastSeenAt,
    failures: Math.min(a.failures, 64),
    blocked: a.blocked,
  };
}

/** How often a changed book is written, at most. */
const SAVE_EVERY_MS = 5000;

/**
 * An address book kept in a file: read when the peer starts, written when it has changed (at most
 * every 5 s, on the peer's clock) and when the peer closes.
 *
 * @example
 * ```ts
 * import { AddressBook } from "./address_book.ts";
 * import { SavedAddressBook } from "./address_book_file.ts";
 * const dir = await Deno.makeTempDir();
 * const book = new AddressBook();
 * const saved = await SavedAddressBook.open(`${dir}/peers.json`, book, console.error);
 * book.add({ host: "10.0.0.7", port: 7000 });
 * await saved.close();
 * const again = new AddressBook();
 * await (await SavedAddressBook.open(`${dir}/peers.json`, again, console.error)).close();
 * console.log(again.list().length); // 1
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class SavedAddressBook {
  readonly #path: string;
  readonly #book: AddressBookLike;
  readonly #log: (line: string) => void;
  #saved: number;
  #savedAt = -Infinity;
  #saving: Promise<void> | null = null;
  #warned = false;

  private constructor(path: string, book: AddressBookLike, log: (line: string) => void) {
    this.#path = path;
    this.#book = book;
    this.#log = log;
    this.#saved = book.changes;
  }

  /** Fills `book` from `path` (reporting a file that is not a book) and keeps it saved there. */
  static async open(
    path: string,
    book: AddressBookLike,
    log: (line: string) => void,
  ): Promise<SavedAddressBook> {
    const { addresses, warning } = await readAddressBook(path);
    if (warning) log(warning);
    book.restore(addresses);
    return new SavedAddressBook(path, book, log);
  }

  /** Saves the book if it changed and the last save was long enough ago (`now`: the peer's clock). */
  tick(now: number): void {
    if (this.#saving || this.#book.changes === this.#saved || now - this.#savedAt < SAVE_EVERY_MS) {
      return;
    }
    this.#savedAt = now;
    this.#saving = this.#save().finally(() => this.#saving = null);
  }

  /** Saves what is not saved yet; resolves once it is on disk (or the write failed, reported). */
  async close(): Promise<void> {
    await this.#saving;
    if (this.#book.changes !== this.#saved) await this.#save();
  }

  async #save(): Promise<void> {
    const changes = this.#book.changes;
    try {
      await writeAddressBook(this.#path, this.#book.stored());
      this.#saved = changes;
    } catch (error) {
      // Reported once: a full disk must not fill the log every five seconds.
      if (!this.#warned) this.#log(`cannot save ${this.#path}: ${(error as Error).message}`);
      this.#warned = true;
    }
  }
}

/** What {@linkcode SavedAddressBook} needs of an address book. */
export interface AddressBookLike {
  /** Changes since the book was made. */
  readonly changes: number;
  /** The addresses to keep. */
  stored(): StoredAddress[];
  /** Puts back kept addresses. */
  restore(addresses: StoredAddress[]): void;
}
