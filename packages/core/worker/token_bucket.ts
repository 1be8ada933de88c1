/**
 * Rate limits of what a connection receives: one {@linkcode TokenBucket} counts messages, another
 * bytes, and {@linkcode InboundLimits} says what breaking each means.
 *
 * @module
 */
import { ProtocolError } from "../errors.ts";

/**
 * Tokens refill at `rate` a second, up to `burst`; taking more than there are puts the bucket in
 * debt, which time repays. A rate of 0 turns it off: every take is free.
 *
 * @example
 * ```ts
 * import { TokenBucket } from "./token_bucket.ts";
 * const bucket = new TokenBucket(100, 10, 0); // 100 a second, at most 10 at once
 * console.log(bucket.take(10, 0), bucket.take(5, 0)); // 0 50 (ms until the debt is repaid)
 * ```
 */
export class TokenBucket {
  readonly #rate: number;
  readonly #burst: number;
  #tokens: number;
  #at: number;

  /** A full bucket; `now` is in milliseconds (`performance.now()` unless told). */
  constructor(rate: number, burst: number, now: number = performance.now()) {
    this.#rate = rate;
    this.#burst = burst;
    this.#tokens = burst;
    this.#at = now;
  }

  /** Tokens there now (negative: in debt). */
  get tokens(): number {
    return this.#tokens;
  }

  /**
   * Refills for the time since the last take, then takes `count` tokens. Returns how many
   * milliseconds until the bucket is out of debt: 0 when it had enough.
   */
  take(count: number, now: number = performance.now()): number {
    if (this.#rate === 0) return 0;
    const elapsed = Math.max(0, now - this.#at) / 1000;
    this.#at = now;
    this.#tokens = Math.min(this.#burst, this.#tokens + elapsed * this.#rate) - count;
    return this.#tokens < 0 ? (-this.#tokens / this.#rate) * 1000 : 0;
  }
}

/** A connection's inbound limits; 0 turns one off. */
export interface Limits {
  /** Messages a second, sustained; twice as many may come at once. */
  framesPerSecond: number;
  /** Bytes a second, sustained and at once. */
  bytesPerSecond: number;
}

/**
 * The inbound limits of one connection. Too many frames (or messages) is an offence: per message
 * is where a flood costs CPU, so the peer is dropped. Too many bytes only slows the peer down:
 * the connection reads less, which TCP passes back, for a fast bulk transfer is no offence.
 *
 * @example
 * ```ts
 * import { InboundLimits } from "./token_bucket.ts";
 * const limits = new InboundLimits({ framesPerSecond: 10, bytesPerSecond: 1000 }, 0);
 * console.log(limits.frame(1500, 0)); // 500: wait half a second before reading on
 * ```
 */
export class InboundLimits {
  readonly #limits: Limits;
  readonly #messages: TokenBucket;
  readonly #bytes: TokenBucket;

  /** Full buckets at `now` (milliseconds). */
  constructor(limits: Limits, now: number = performance.now()) {
    this.#limits = limits;
    this.#messages = new TokenBucket(limits.framesPerSecond, limits.framesPerSecond * 2, now);
    this.#bytes = new TokenBucket(limits.bytesPerSecond, limits.bytesPerSecond, now);
  }

  /**
   * Charges one frame of `bytes` as it arrives. Throws a `rate-limited` {@linkcode ProtocolError}
   * past the frame rate; returns the milliseconds to wait before reading on past the byte rate.
   */
  frame(bytes: number, now: number = performance.now()): number {
    if (this.#messages.take(1, now) > 0) this.#offence("frames");
    return this.#bytes.take(bytes, now);
  }

  /** Charges the further messages of a frame that carried several: each counts as a frame. */
  messages(count: number, now: number = performance.now()): void {
    if (this.#messages.take(count, now) > 0) this.#offence("messages");
  }

  #offence(what: string): never {
    throw new ProtocolError(
      "rate-limited",
      `peer sent ${what} faster than the limit of ${this.#limits.framesPerSecond} a second`,
    );
  }
}
