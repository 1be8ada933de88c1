/**
 * The bulk source of a connection worker: builds the plaintext body of an app message whose bulk
 * field is read from a file, so file bytes go from disk to the outbound ring without passing
 * through the main thread.
 *
 * @module
 */
import { encodeShared } from "../codec.ts";
import type { AppMessage, BulkFields, FileRange } from "../messages.ts";

/** Files kept open between pieces; the least recently used is closed past this. */
const MAX_SOURCES = 8;
const EMPTY = new Uint8Array(0);

/**
 * Reads the bulk field of messages from files, keeping recently used files open.
 *
 * @example
 * ```ts
 * import { decodeValue } from "../codec.ts";
 * import { BulkSource } from "./bulk_source.ts";
 * const path = await Deno.makeTempFile();
 * await Deno.writeFile(path, new Uint8Array([1, 2, 3, 4]));
 * const bulk = { blob: { data: "data", key: "file", offset: "at" } };
 * const source = new BulkSource(bulk, console.error);
 * const message = { t: "app" as const, app: "blob", body: { file: "f", at: 0 } };
 * const body = source.plaintext(message, { path, offset: 1, length: 2 })!;
 * console.log(decodeValue(body)); // { t: "app", app: "blob", body: { file, at, data: [2, 3] } }
 * source.close();
 * ```
 */
export class BulkSource {
  readonly #bulk: Record<string, BulkFields>;
  readonly #unreadable: (reason: string) => void;
  /** Open files, most recently used last. */
  readonly #files = new Map<string, { file: Deno.FsFile; size: number }>();
  /** Reused: the plaintext is sealed (copied) before the next message is built. */
  #buffer = new Uint8Array(0);

  /** Reads the fields `bulk` names per app; tells `unreadable` why a message was skipped. */
  constructor(bulk: Record<string, BulkFields>, unreadable: (reason: string) => void) {
    this.#bulk = bulk;
    this.#unreadable = unreadable;
  }

  /**
   * The plaintext body of `message` with its bulk field read from `range`: the body encoded with
   * an empty bin as its last field, those two bytes (c4 00) replaced by a bin32 header of the
   * real length, then the file's bytes. A view of a buffer the next call reuses. Null (and
   * `unreadable` told) when the file cannot be read: nothing of the frame is written yet, so the
   * message is skipped.
   */
  plaintext(message: AppMessage, range: FileRange): Uint8Array | null {
    const field = this.#bulk[message.app].data;
    const { [field]: _omit, ...rest } = message.body;
    const body = encodeShared({ ...message, body: { ...rest, [field]: EMPTY } });
    const prefix = body.length - 2;
    const length = prefix + 5 + range.length;
    if (this.#buffer.length < length) this.#buffer = new Uint8Array(length);
    const plain = this.#buffer.subarray(0, length);
    plain.set(body.subarray(0, prefix));
    plain[prefix] = 0xc6;
    new DataView(plain.buffer).setUint32(prefix + 1, range.length);
    try {
      this.#read(range, plain.subarray(prefix + 5));
    } catch (error) {
      this.#close(range.path);
      this.#unreadable(`cannot send from ${range.path}: ${(error as Error).message}`);
      return null;
    }
    return plain;
  }

  /** Closes every file. */
  close(): void {
    for (const path of [...this.#files.keys()]) this.#close(path);
  }

  /**
   * Reads `range` into `into`. Synchronous file I/O on purpose: this thread serves one
   * connection, and an async read hopped to a thread pool and back for every part (measured:
   * ~1.2x slower end to end).
   */
  #read(range: FileRange, into: Uint8Array): void {
    const file = this.#open(range);
    file.seekSync(range.offset, Deno.SeekMode.Start);
    let at = 0;
    while (at < into.length) {
      const count = file.readSync(into.subarray(at));
      if (count === null) throw new Error(`it shrank while it was being read`);
      at += count;
    }
  }

  /** An open handle on a file to send from, checked to hold the range. */
  #open(range: FileRange): Deno.FsFile {
    let source = this.#files.get(range.path);
    if (source && range.offset + range.length > source.size) {
      source.size = source.file.statSync().size; // it may have grown
    }
    if (!source) {
      const file = Deno.openSync(range.path, { read: true });
      source = { file, size: file.statSync().size };
      if (this.#files.size >= MAX_SOURCES) this.#close(this.#files.keys().next().value!);
    }
    this.#files.delete(range.path);
    this.#files.set(range.path, source);
    if (range.offset + range.length > source.size) {
      throw new Error(
        `${range.path} holds ${source.size} bytes, fewer than ${range.offset} + ${range.length}`,
      );
    }
    return source.file;
  }

  #close(path: string): void {
    this.#files.get(path)?.file.close();
    this.#files.delete(path);
  }
}
