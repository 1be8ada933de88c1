/**
 * Errors of the files app, each with a message a user can act on.
 *
 * @module
 */

/**
 * What went wrong, in a word a program can check:
 * - `bad-name`: a file name would leave the output folder, or is not a plain name;
 * - `bad-manifest`: a manifest was malformed, forged or unknown;
 * - `unreadable`: a file to offer cannot be read;
 * - `unwritable`: a download cannot be saved (it stops; what was verified stays for a retry);
 * - `too-large`: a file has more pieces than a manifest holds;
 * - `no-peers`: nobody to fetch from;
 * - `name-taken`: a different file had a download's name: it was kept, the download saved beside it;
 * - `catalog-full`: as many files as are kept are known: new announcements are ignored;
 * - `bad-bitfield`: a peer said which pieces it has in a form that does not fit the file;
 * - `peer-dropped`: a peer sent too many pieces that failed verification and was disconnected;
 * - `bad-link`: a share link is malformed or altered;
 * - `wrong-peer`: the peer at a link's address is not the one its id names;
 * - `unreachable`: the peer a link names cannot be reached;
 * - `not-offered`: the peer a link names did not offer what it names.
 *
 * @example
 * ```ts
 * import type { FileShareErrorCode } from "@meshtalk/files";
 * const code: FileShareErrorCode = "name-taken";
 * ```
 */
export type FileShareErrorCode =
  | "bad-name"
  | "bad-manifest"
  | "unreadable"
  | "unwritable"
  | "too-large"
  | "no-peers"
  | "name-taken"
  | "catalog-full"
  | "bad-bitfield"
  | "peer-dropped"
  | "bad-link"
  | "wrong-peer"
  | "unreachable"
  | "not-offered";

/**
 * A file could not be offered, fetched or saved, or a manifest was refused.
 *
 * @example
 * ```ts
 * import { FileShareError } from "@meshtalk/files";
 * const error = new FileShareError("bad-name", 'refused the file name "../x": it leaves the folder');
 * console.log(error.code); // "bad-name"
 * ```
 */
export class FileShareError extends Error {
  override name = "FileShareError";
  readonly code: FileShareErrorCode;

  constructor(code: FileShareErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}
