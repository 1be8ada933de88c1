/**
 * A pool of hash workers, one per core: BLAKE3 runs at ~0.42 GB/s on one core of this
 * project's machines, below the ~1 GB/s that pieces arrive at, so verification has to use them
 * all. The main thread only hands out tasks; connection workers reach the pool directly over
 * ports of their own, so received pieces never pass through the main thread.
 *
 * @module
 */
import { loadBlake3 } from "./blake3.ts";
import { HASH_BYTES, type HashReply, type ToHashWorker } from "./hash_protocol.ts";

/** Pieces per `hash` task: large enough to keep posts rare, small enough to spread the work. */
const PIECES_PER_TASK = 8;

/** Error hashing a file: it could not be read, or is shorter than the pieces asked for. */
export class HashError extends Error {
  override name = "HashError";
}

/** Ports that tie one connection worker to every hash worker; `release` closes them. */
export interface HashLink {
  ports: MessagePort[];
  release(): void;
}

/** BLAKE3 workers shared by a peer's connections and apps. */
export class HashPool {
  readonly size: number;
  readonly #workers: { worker: Worker; tasks: number }[] = [];
  readonly #waiting = new Map<number, (reply: HashReply) => void>();
  #nextId = 0;
  #nextLink = 0;

  constructor(size = Math.min(4, Math.max(1, navigator.hardwareConcurrency || 1))) {
    this.size = size;
    for (let i = 0; i < size; i++) {
      const worker = new Worker(new URL("./hash_worker.ts", import.meta.url), { type: "module" });
      worker.onmessage = (event: MessageEvent<HashReply>) => {
        const done = this.#waiting.get(event.data.id);
        this.#waiting.delete(event.data.id);
        done?.(event.data);
      };
      worker.onerror = (event) => {
        event.preventDefault();
        for (const done of this.#waiting.values()) {
          done({ type: "hashed", id: -1, error: `hash worker failed: ${event.message}` });
        }
        this.#waiting.clear();
      };
      this.#workers.push({ worker, tasks: 0 });
    }
  }

  /** A port to each hash worker for one connection worker to verify pieces through. */
  link(): HashLink {
    const link = this.#nextLink++;
    const ports = this.#workers.map(({ worker }) => {
      const channel = new MessageChannel();
      this.#post(worker, { type: "link", link, port: channel.port1 }, [channel.port1]);
      return channel.port2;
    });
    return {
      ports,
      release: () => {
        for (const { worker } of this.#workers) this.#post(worker, { type: "unlink", link });
      },
    };
  }

  /**
   * BLAKE3-256 of each of `pieces` (default: all) of the file at `path`, cut in pieces of
   * `pieceSize` bytes; 32 bytes per piece, in the order asked. `onProgress` hears how many are
   * done.
   */
  async hashPieces(
    path: string,
    pieceSize: number,
    options: { pieces?: number[]; onProgress?: (done: number, total: number) => void } = {},
  ): Promise<Uint8Array> {
    let fileSize: number;
    try {
      fileSize = (await Deno.stat(path)).size;
    } catch (error) {
      throw new HashError(`cannot hash ${path}: ${(error as Error).message}`);
    }
    const count = Math.ceil(fileSize / pieceSize);
    const pieces = options.pieces ?? Array.from({ length: count }, (_, i) => i);
    for (const piece of pieces) {
      if (!Number.isInteger(piece) || piece < 0 || piece >= Math.max(count, 1)) {
        throw new HashError(`${path} has no piece ${piece} of ${pieceSize} bytes`);
      }
    }
    const digests = new Uint8Array(pieces.length * HASH_BYTES);
    let next = 0;
    let done = 0;
    // Two tasks per worker keep each busy while the next is posted.
    const lane = async () => {
      while (next < pieces.length) {
        const start = next;
        const batch = pieces.slice(start, next += PIECES_PER_TASK);
        const reply = await this.#hash(path, pieceSize, fileSize, batch);
        if (reply.error !== undefined) throw new HashError(`cannot hash ${path}: ${reply.error}`);
        digests.set(reply.digests, start * HASH_BYTES);
        done += batch.length;
        options.onProgress?.(done, pieces.length);
      }
    };
    await Promise.all(Array.from({ length: this.size * 2 }, lane));
    return digests;
  }

  /** Stops every hash worker. */
  close(): void {
    for (const { worker } of this.#workers) worker.terminate();
    for (const done of this.#waiting.values()) {
      done({ type: "hashed", id: -1, error: "the hash pool was closed" });
    }
    this.#waiting.clear();
  }

  #hash(path: string, pieceSize: number, fileSize: number, pieces: number[]): Promise<HashReply> {
    const entry = this.#workers.reduce((a, b) => (b.tasks < a.tasks ? b : a));
    const id = this.#nextId++;
    entry.tasks++;
    return new Promise<HashReply>((resolve) => {
      this.#waiting.set(id, (reply) => {
        entry.tasks--;
        resolve(reply);
      });
      this.#post(entry.worker, { type: "hash", id, path, pieceSize, fileSize, pieces });
    });
  }

  #post(worker: Worker, message: ToHashWorker, transfer: Transferable[] = []): void {
    worker.postMessage(message, transfer);
  }
}

/**
 * BLAKE3-256 of a few bytes, on the calling thread: for small things like manifests. Use
 * {@linkcode HashPool.hashPieces} (an app's `hashPieces`) for files.
 *
 * @example
 * ```ts
 * import { blake3 } from "@meshtalk/core";
 * const digest = await blake3(new TextEncoder().encode("hello"));
 * console.log(digest.length); // 32
 * ```
 */
export async function blake3(bytes: Uint8Array): Promise<Uint8Array> {
  return (await loadBlake3()).digest(bytes).slice();
}
