/**
 * Exponential backoff with jitter: how long to wait before trying something that failed again.
 *
 * @module
 */

/** Options of a {@linkcode Backoff}. */
export interface BackoffOptions {
  /** The first delay, in ms (default 500). */
  baseMs?: number;
  /** The longest delay, in ms (default 60,000). */
  maxMs?: number;
  /**
   * How far each delay is spread at random, as a fraction either side (default 0.25: 0.75x to
   * 1.25x), so that peers that failed together do not retry in lockstep.
   */
  jitter?: number;
}

/**
 * Delays that double from `baseMs` to `maxMs` with each failure, until a success resets them.
 *
 * @example
 * ```ts
 * import { Backoff } from "@meshtalk/core";
 * const backoff = new Backoff({ baseMs: 1000, maxMs: 30_000, jitter: 0 });
 * console.log(backoff.fail(), backoff.fail(), backoff.fail()); // 1000 2000 4000
 * backoff.succeed();
 * console.log(backoff.failures); // 0
 * ```
 */
export class Backoff {
  readonly #baseMs: number;
  readonly #maxMs: number;
  readonly #jitter: number;
  #failures = 0;

  /** A backoff with no failures yet. */
  constructor(options: BackoffOptions = {}) {
    this.#baseMs = options.baseMs ?? 500;
    this.#maxMs = options.maxMs ?? 60_000;
    this.#jitter = options.jitter ?? 0.25;
  }

  /** Failures since the last success. */
  get failures(): number {
    return this.#failures;
  }

  /** Records a failure; returns how long to wait before the next try, in ms. */
  fail(): number {
    this.#failures++;
    return delayAfter(this.#failures, this.#baseMs, this.#maxMs, this.#jitter);
  }

  /** Records a success: the next failure waits `baseMs` again. */
  succeed(): void {
    this.#failures = 0;
  }
}

/**
 * The delay after `failures` failures in a row: `baseMs` doubled per failure past the first, at
 * most `maxMs`, spread by `jitter` either side. For state kept elsewhere (an address book entry).
 *
 * @example
 * ```ts
 * import { delayAfter } from "@meshtalk/core";
 * console.log(delayAfter(3, 500, 60_000, 0)); // 2000
 * ```
 */
export function delayAfter(failures: number, baseMs: number, maxMs: number, jitter = 0.25): number {
  const delay = Math.min(maxMs, baseMs * 2 ** Math.max(0, failures - 1));
  return delay * (1 - jitter + Math.random() * 2 * jitter);
}
