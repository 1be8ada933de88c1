/**
 * What hash workers are told and answer: by the main thread (hash pieces of a file, link a
 * connection) and by connection workers, over a port each (verify a piece, then write it).
 *
 * @module
 */

/** Bytes of a piece hash (BLAKE3-256). */
export const HASH_BYTES = 32;

/** Hash pieces of a file: digests come back in the order of `pieces`. */
export interface HashTask {
  type: "hash";
  id: number;
  path: string;
  pieceSize: number;
  fileSize: number;
  pieces: number[];
}

/** Main thread to hash worker. */
export type ToHashWorker =
  | HashTask
  | { type: "link"; link: number; port: MessagePort }
  | { type: "unlink"; link: number };

/** Hash worker to main thread. */
export type HashReply =
  | { type: "hashed"; id: number; digests: Uint8Array; error?: undefined }
  | { type: "hashed"; id: number; error: string; digests?: undefined };

/**
 * Connection worker to hash worker: check `length` bytes at `byteOffset` of `buffer` against
 * `expected`, and if they match write them at `offset` of the (existing) file at `path`.
 */
export interface VerifyTask {
  id: number;
  buffer: ArrayBuffer;
  byteOffset: number;
  length: number;
  expected: Uint8Array;
  path: string;
  offset: number;
}

/** Hash worker to connection worker; `buffer` comes back for reuse. */
export interface VerifyReply {
  id: number;
  buffer: ArrayBuffer;
  status: "written" | "corrupt" | "failed";
  reason?: string;
}
