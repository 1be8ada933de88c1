/**
 * The router of a connection worker: decodes each frame body handed up by the inbound layer and
 * sends each message where it belongs: handshake messages to the handshake, pings to the outbox
 * (answered here: two thread hops less per round trip; the main thread still pumps the socket, so
 * a stuck peer still stops answering), bulk bytes to their sink, the rest to delivery.
 *
 * @module
 */
import { decodeValue, decodeValues } from "../codec.ts";
import { ProtocolError } from "../errors.ts";
import { type Bye, parseMessage } from "../messages.ts";
import type { Schema } from "../schema.ts";
import type { BulkSinks } from "./bulk_sink.ts";
import type { Delivery } from "./delivery.ts";
import type { Handshake } from "./handshake.ts";
import type { InboundLimits } from "./token_bucket.ts";

/** Where a {@linkcode Router} sends messages. */
export interface RouterOptions {
  /** The schemas of the apps this side runs. */
  apps: Record<string, Schema>;
  /** Charged for every message past the first of a frame. */
  limits: InboundLimits;
  /** Takes the messages of the handshake until it is done. */
  handshake: Pick<Handshake, "done" | "receive">;
  /** Takes the bulk bytes of app messages bound for a file. */
  sinks: Pick<BulkSinks, "lift" | "store">;
  /** Takes every other message. */
  delivery: Pick<Delivery, "push" | "after">;
  /** Answers a ping. */
  pong(n: number): void;
  /** The remote said bye (already handed to delivery): close. */
  bye(bye: Bye): Promise<void> | void;
  /** Stops routing: checked after each message. */
  signal: AbortSignal;
}

/**
 * Routes the messages of each frame, in order.
 *
 * @example
 * ```ts
 * import { encodeShared } from "../codec.ts";
 * import { s } from "../schema.ts";
 * import { Router } from "./router.ts";
 * import { InboundLimits } from "./token_bucket.ts";
 * const delivered: unknown[] = [];
 * const router = new Router({
 *   apps: { chat: s.map({ text: s.str(100) }) },
 *   limits: new InboundLimits({ framesPerSecond: 0, bytesPerSecond: 0 }),
 *   handshake: { done: true, receive: () => Promise.resolve() },
 *   sinks: { lift: () => undefined, store: () => Promise.resolve() },
 *   delivery: { push: (message) => void delivered.push(message), after: () => {} },
 *   pong: (n) => console.log("pong", n),
 *   bye: () => {},
 *   signal: new AbortController().signal,
 * });
 * router.frame(encodeShared({ t: "ping", n: 1 }), true); // pong 1
 * router.frame(encodeShared({ t: "app", app: "chat", body: { text: "hi" } }), true);
 * console.log(delivered.length); // 1
 * ```
 */
export class Router {
  readonly #options: RouterOptions;

  /** Routes through `options`. */
  constructor(options: RouterOptions) {
    this.#options = options;
  }

  /**
   * Routes one frame's body: one message in the clear, or, once opened, one or more messages one
   * after another (a sender seals small messages ready together in one frame). Returns a promise
   * only when a message needs waiting for (the handshake, a bye).
   */
  frame(body: Uint8Array, opened: boolean): Promise<void> | void {
    let values: unknown[];
    try {
      values = opened ? decodeValues(body) : [decodeValue(body)];
    } catch (error) {
      throw new ProtocolError(
        "bad-msgpack",
        `frame is not valid MessagePack: ${(error as Error).message}`,
      );
    }
    if (values.length === 0) {
      throw new ProtocolError("bad-msgpack", "sealed frame holds no message");
    }
    // The frame was charged to the rate limit on arrival; every further message in it counts too.
    if (values.length > 1) this.#options.limits.messages(values.length - 1);
    for (let i = 0; i < values.length; i++) {
      const routing = this.#route(values[i], body);
      if (routing) return this.#routeRest(routing, values, i + 1, body);
      if (this.#options.signal.aborted) return;
    }
  }

  async #routeRest(
    routing: Promise<void>,
    values: unknown[],
    from: number,
    body: Uint8Array,
  ): Promise<void> {
    await routing;
    for (let i = from; i < values.length && !this.#options.signal.aborted; i++) {
      await this.#route(values[i], body);
    }
  }

  #route(value: unknown, body: Uint8Array): Promise<void> | void {
    const { apps, handshake, sinks, delivery } = this.#options;
    if (this.#options.signal.aborted) return;
    // Bulk bytes bound for a file are lifted out before validation, which copies every other
    // binary field, and are written straight from the frame.
    const lifted = handshake.done ? sinks.lift(value) : undefined;
    const message = parseMessage(value, apps);
    if (lifted && message.t === "app") delivery.after(sinks.store(message, lifted));
    if (message.t === "peers" && !handshake.done) {
      // A peer refusing us (full, shutting down) says where else to go before its bye.
      delivery.push(message);
      return;
    }
    if (message.t === "bye") {
      delivery.push(message);
      return this.#options.bye(message);
    }
    if (!handshake.done || message.t === "hello" || message.t === "auth") {
      return handshake.receive(message, body);
    }
    if (message.t === "ping") {
      this.#options.pong(message.n);
      return;
    }
    delivery.push(message);
  }
}
