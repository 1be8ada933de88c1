/**
 * A hash worker: BLAKE3 of file pieces, off the main thread. It does two jobs.
 *
 * - Hash pieces of a file for the main thread (`hash` tasks): how apps build manifests and
 *   re-verify what they have on disk.
 * - Verify pieces that connection workers received and write the good ones into their file
 *   (`verify` tasks, over a port per connection): a piece that does not match its hash never
 *   touches the disk.
 *
 * @module
 */
/// <reference lib="deno.worker" />
import { type Blake3, loadBlake3 } from "./blake3.ts";
import { bytesEqual } from "./bytes.ts";
import type {
  HashReply,
  HashTask,
  ToHashWorker,
  VerifyReply,
  VerifyTask,
} from "./hash_protocol.ts";
import { HASH_BYTES } from "./hash_protocol.ts";

// Handlers are installed before the hasher is ready, and each waits for it: with a top-level
// await instead, pieces sent over ports linked during start-up were never answered (seen here).
const ready = loadBlake3();
let hasher: Blake3;
const ports = new Map<number, MessagePort>();
let readBuffer = new Uint8Array(0);

self.onmessage = async (event: MessageEvent<ToHashWorker>) => {
  const message = event.data;
  hasher ??= await ready;
  switch (message.type) {
    case "link":
      message.port.onmessage = async (task: MessageEvent<VerifyTask>) => {
        hasher ??= await ready;
        verify(message.port, task.data);
      };
      ports.set(message.link, message.port);
      break;
    case "unlink":
      ports.get(message.link)?.close();
      ports.delete(message.link);
      break;
    case "hash":
      self.postMessage(hashPieces(message));
      break;
  }
};

function digest(bytes: Uint8Array): Uint8Array {
  return hasher.digest(bytes);
}

function hashPieces(task: HashTask): HashReply {
  let file: Deno.FsFile | undefined;
  try {
    file = Deno.openSync(task.path, { read: true });
    const digests = new Uint8Array(task.pieces.length * HASH_BYTES);
    if (readBuffer.length < task.pieceSize) readBuffer = new Uint8Array(task.pieceSize);
    task.pieces.forEach((piece, i) => {
      const offset = piece * task.pieceSize;
      const length = Math.max(0, Math.min(task.pieceSize, task.fileSize - offset));
      const bytes = readBuffer.subarray(0, length);
      file!.seekSync(offset, Deno.SeekMode.Start);
      let at = 0;
      while (at < length) {
        const count = file!.readSync(bytes.subarray(at));
        if (count === null) throw new Error(`${task.path} ends before byte ${offset + length}`);
        at += count;
      }
      digests.set(digest(bytes), i * HASH_BYTES);
    });
    return { type: "hashed", id: task.id, digests };
  } catch (error) {
    return { type: "hashed", id: task.id, error: (error as Error).message };
  } finally {
    file?.close();
  }
}

function verify(port: MessagePort, task: VerifyTask): void {
  const bytes = new Uint8Array(task.buffer, task.byteOffset, task.length);
  const reply: VerifyReply = { id: task.id, buffer: task.buffer, status: "written" };
  if (!bytesEqual(digest(bytes), task.expected)) {
    reply.status = "corrupt";
    reply.reason = "its BLAKE3 hash does not match the one expected";
  } else {
    // Opened per piece, so a file the app renames or stops receiving into is never held open.
    let file: Deno.FsFile | undefined;
    try {
      file = Deno.openSync(task.path, { write: true });
      file.seekSync(task.offset, Deno.SeekMode.Start);
      let at = 0;
      while (at < bytes.length) at += file.writeSync(bytes.subarray(at));
    } catch (error) {
      reply.status = "failed";
      reply.reason = `cannot write ${task.path}: ${(error as Error).message}`;
    } finally {
      file?.close();
    }
  }
  port.postMessage(reply, [task.buffer]);
}
