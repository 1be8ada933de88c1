/**
 * The piece verifier of a connection worker: hands each received piece bound for a verifying
 * sink to the least busy hash worker, which writes it into its file only if its BLAKE3 hash
 * matches. The read loop goes on meanwhile, so receiving and hashing overlap; at most
 * {@linkcode MAX_VERIFYING} pieces are out at once.
 *
 * @module
 */
import { HASH_BYTES, type VerifyReply, type VerifyTask } from "../hash_protocol.ts";
import type { StoredData } from "../messages.ts";
import type { PieceHashes } from "../worker_protocol.ts";

/** Pieces handed to hash workers and not yet answered before the read loop waits. */
export const MAX_VERIFYING = 4;

/**
 * Verifies pieces through hash workers, each reached over its own port.
 *
 * @example
 * ```ts
 * import { HashPool } from "../hash_pool.ts";
 * import { PieceVerifier } from "./piece_verifier.ts";
 * const pool = new HashPool(1);
 * const link = pool.link();
 * const verifier = new PieceVerifier();
 * verifier.useHashers(link.ports);
 * const path = await Deno.makeTempFile();
 * const piece = new Uint8Array(10);
 * const stored = { path, offset: 0, length: 10, status: "written" as const };
 * const hashes = { pieceSize: 10, hashes: new Uint8Array(32) }; // not the piece's hash
 * await verifier.verify(stored, 10, hashes, piece);
 * console.log(stored.status); // "corrupt"
 * verifier.close();
 * link.release();
 * pool.close();
 * ```
 */
export class PieceVerifier {
  /** A port to each hash worker, with the pieces it has not answered yet. */
  #hashers: { port: MessagePort; waiting: number }[] = [];
  readonly #answers = new Map<number, (reply: VerifyReply) => void>();
  #nextId = 0;
  /** Buffers that carry pieces to the hash workers and come back from them. */
  readonly #buffers: ArrayBuffer[] = [];
  #wake: (() => void) | null = null;

  /** Pieces handed out and not yet answered. */
  get verifying(): number {
    return this.#answers.size;
  }

  /** Verifies through these ports, one to each hash worker. */
  useHashers(ports: MessagePort[]): void {
    this.#hashers = ports.map((port) => {
      const hasher = { port, waiting: 0 };
      port.onmessage = (event: MessageEvent<VerifyReply>) => {
        hasher.waiting--;
        const answer = this.#answers.get(event.data.id);
        this.#answers.delete(event.data.id);
        answer?.(event.data);
        const wake = this.#wake;
        this.#wake = null;
        wake?.();
      };
      return hasher;
    });
  }

  /**
   * Checks that `data` is one whole piece of a file of `fileSize` bytes at `stored.offset`, then
   * has a hash worker check its hash and write it. Sets `stored.status` (and `reason`): written,
   * corrupt, or failed. `data` is copied before this returns.
   */
  verify(
    stored: StoredData,
    fileSize: number,
    verify: PieceHashes,
    data: Uint8Array,
  ): Promise<void> {
    const piece = stored.offset / verify.pieceSize;
    const expectedLength = Math.min(verify.pieceSize, fileSize - stored.offset);
    if (!Number.isInteger(piece) || data.length !== expectedLength || this.#hashers.length === 0) {
      stored.status = "corrupt";
      stored.reason = this.#hashers.length === 0
        ? "no hash workers to verify it with"
        : `${data.length} bytes at offset ${stored.offset} are not piece ${Math.floor(piece)}`;
      return Promise.resolve();
    }
    // Copies out of shared memory are fast only when aligned: place the copy at the data's
    // alignment.
    const pad = data.byteOffset % 8;
    let buffer = this.#buffers.pop();
    if (!buffer || buffer.byteLength < pad + data.length) {
      buffer = new ArrayBuffer(pad + data.length);
    }
    new Uint8Array(buffer, pad, data.length).set(data);
    const hasher = this.#leastBusy();
    const id = this.#nextId++;
    const task: VerifyTask = {
      id,
      buffer,
      byteOffset: pad,
      length: data.length,
      expected: verify.hashes.slice(piece * HASH_BYTES, (piece + 1) * HASH_BYTES),
      path: stored.path,
      offset: stored.offset,
    };
    hasher.waiting++;
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#answers.set(id, (reply) => {
      this.#buffers.push(reply.buffer);
      stored.status = reply.status;
      if (reply.reason) stored.reason = reply.reason;
      resolve();
    });
    hasher.port.postMessage(task, [buffer]);
    return promise;
  }

  /** Resolves once fewer than {@linkcode MAX_VERIFYING} pieces are out. */
  async room(): Promise<void> {
    while (this.verifying >= MAX_VERIFYING) {
      const { promise, resolve } = Promise.withResolvers<void>();
      this.#wake = resolve;
      await promise;
    }
  }

  /** Closes the ports: pieces still out are never answered. */
  close(): void {
    for (const { port } of this.#hashers) port.close();
    this.#hashers = [];
  }

  /** The least busy hash worker; ties at random, or every connection would start on the first. */
  #leastBusy(): { port: MessagePort; waiting: number } {
    const start = Math.floor(Math.random() * this.#hashers.length);
    let hasher = this.#hashers[start];
    for (let i = 1; i < this.#hashers.length; i++) {
      const other = this.#hashers[(start + i) % this.#hashers.length];
      if (other.waiting < hasher.waiting) hasher = other;
    }
    return hasher;
  }
}
