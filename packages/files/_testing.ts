/**
 * Test support for the files app's own tests: what they need that the core's hash workers would
 * otherwise give.
 *
 * @module
 */
import { blake3, HASH_BYTES } from "@meshtalk/core";
import type { HashPieces } from "./manifest.ts";

/**
 * BLAKE3 of each piece of a file, read whole on this thread: the hash workers' answer, without
 * a peer to run them. For small test files only.
 *
 * @example
 * ```ts
 * import { hashPiecesHere } from "./_testing.ts";
 * const path = await Deno.makeTempFile();
 * await Deno.writeFile(path, new Uint8Array(20_000));
 * console.log((await hashPiecesHere(path, 16384)).length); // 64: two pieces
 * await Deno.remove(path);
 * ```
 */
export const hashPiecesHere: HashPieces = async (path, pieceSize) => {
  const bytes = await Deno.readFile(path);
  const count = Math.ceil(bytes.length / pieceSize);
  const out = new Uint8Array(count * HASH_BYTES);
  for (let piece = 0; piece < count; piece++) {
    const data = bytes.subarray(piece * pieceSize, (piece + 1) * pieceSize);
    out.set(await blake3(data), piece * HASH_BYTES);
  }
  return out;
};
