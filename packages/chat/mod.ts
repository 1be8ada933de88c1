/**
 * meshtalk chat: a message typed at any peer reaches every peer exactly once, across hops and
 * cycles, over the meshtalk core.
 *
 * @example
 * ```ts
 * import { startPeer } from "@meshtalk/core";
 * import { chatApp, createChat } from "@meshtalk/chat";
 * const peer = await startPeer({ apps: [chatApp] });
 * const chat = createChat(peer);
 * chat.close();
 * await peer.close();
 * ```
 *
 * @module
 */
export {
  type Chat,
  type ChatMessage,
  type ChatOptions,
  type ChatStats,
  createChat,
  type NickChange,
} from "./chat.ts";
export { ChatError } from "./errors.ts";
export { signedBytes } from "./signing.ts";
export {
  chatApp,
  type ChatMessageSchema,
  type ChatSchema,
  type ChatWireMessage,
  DEFAULT_HOPS,
  MAX_TEXT_LENGTH,
} from "./wire.ts";
