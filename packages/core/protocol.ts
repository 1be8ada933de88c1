/**
 * The wire protocol, for tools that speak it without a {@linkcode Peer}: frames, the core's
 * messages and their checks. docs/PROTOCOL.md describes the same byte for byte. Apps need none of
 * this: they use `@meshtalk/core`.
 *
 * @example
 * ```ts
 * import { encodeFrame, FrameDecoder, parseMessage } from "@meshtalk/core/protocol";
 * const [body] = new FrameDecoder().push(encodeFrame({ t: "ping", n: 7 }));
 * console.log(body.length > 0, parseMessage({ t: "ping", n: 7 }, {})); // true { t: "ping", n: 7 }
 * ```
 *
 * @module
 */
export {
  DEFAULT_MAX_FRAME_SIZE,
  encodeFrame,
  FRAME_HEADER_BYTES,
  FrameDecoder,
  type FrameDecoderOptions,
} from "./frame.ts";
export {
  type AppMessage,
  type Auth,
  type Bye,
  BYE_CODES,
  type ByeCode,
  type CoreMessage,
  type Hello,
  MAX_NICK_LENGTH,
  MAX_PEERS_PER_MESSAGE,
  type Message,
  parseMessage,
  type Peers,
  type Ping,
  type Pong,
  PROTOCOL_VERSION,
} from "./messages.ts";
