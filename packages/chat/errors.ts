/**
 * The one error a chat user can meet: a text over the limit, or a recipient that cannot be
 * told apart from others or is not known.
 *
 * @module
 */

/**
 * A recipient could not be resolved, or a text is too long; the message says which and what to
 * do instead.
 *
 * @example
 * ```ts
 * import { ChatError } from "@meshtalk/chat";
 * const error = new ChatError('no known peer is called "bob"');
 * console.log(error.name, error instanceof Error); // "ChatError" true
 * ```
 */
export class ChatError extends Error {
  /** Builds the error. */
  constructor(message: string) {
    super(message);
    this.name = "ChatError";
  }
}
