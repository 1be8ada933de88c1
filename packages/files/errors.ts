/**
 * Errors of the files app, each with a message a user can act on.
 *
 * @module
 */

/** What went wrong, in a word a program can check. */
export type FileShareErrorCode =
  | "bad-name"
  | "bad-manifest"
  | "unreadable"
  | "unwritable"
  | "too-large"
  | "no-peers";

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
