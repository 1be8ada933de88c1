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
  chatApp,
  ChatError,
  type ChatMessage,
  type ChatMessageSchema,
  type ChatOptions,
  type ChatSchema,
  type ChatStats,
  type ChatWireMessage,
  createChat,
  DEFAULT_HOPS,
  MAX_TEXT_LENGTH,
  SeenCache,
} from "./chat.ts";
