/**
 * The order and bound of signature checks on received says: checks run concurrently, their
 * results are handled in the order the says arrived, and at most 16,384 wait, so that neighbours
 * sending faster than this peer can verify make it drop says rather than queue them without end.
 *
 * @module
 */
import type { PeerInfo } from "@meshtalk/core";
import { type SayVerifier, wellFormed } from "./signing.ts";
import type { ChatWireMessage } from "./wire.ts";

/** Checks that may wait at once (each for its signature, or behind another that does). */
export const MAX_PENDING_CHECKS = 16_384;

/**
 * Received says checked and handled in arrival order, with the count of those dropped as forged
 * (reported once) and as overload.
 *
 * @example
 * ```ts
 * import { SayChecks } from "./checks.ts";
 * import { SayVerifier } from "./signing.ts";
 * const checks = new SayChecks(new SayVerifier(32), console.error);
 * const order: string[] = [];
 * checks.after(() => order.push("first"));
 * checks.after(() => order.push("second"));
 * console.log(checks.idle); // true: nothing waits for a signature
 * await checks.settled();
 * console.log(order); // ["first", "second"]
 * ```
 */
export class SayChecks {
  readonly #verifier: SayVerifier;
  readonly #log: (line: string) => void;
  readonly #max: number;
  /** Checks started whose says are not handled yet. */
  #pending = 0;
  /** Every step runs after the one queued before it. */
  #queue: Promise<unknown> = Promise.resolve();
  #forged = 0;
  #overloaded = 0;

  /** Checks with `verifier`, reporting to `log`, at most `max` waiting. */
  constructor(verifier: SayVerifier, log: (line: string) => void, max = MAX_PENDING_CHECKS) {
    this.#verifier = verifier;
    this.#log = log;
    this.#max = max;
  }

  /** Says dropped because their signature did not verify or no honest author writes them. */
  get forged(): number {
    return this.#forged;
  }

  /** Says dropped unchecked because too many checks waited. */
  get overloaded(): number {
    return this.#overloaded;
  }

  /** True when no check waits: a say whose author is known may be handled in the turn it came. */
  get idle(): boolean {
    return this.#pending === 0;
  }

  /**
   * Whether `say` is genuine, answered now when nothing waits ahead of it and its author's key is
   * known; undefined when it must wait its turn ({@linkcode check}).
   */
  checkNow(say: ChatWireMessage, signed: Uint8Array): boolean | undefined {
    return this.idle ? this.#verifier.verifyKnown(say, signed) : undefined;
  }

  /**
   * Starts checking `says` (well formed and signed by their origin), and queues `handle` with the
   * results, after every step queued before. Returns false, and counts them as overload, when
   * that would make more than the maximum wait. `signed[i]` is `signedBytes(says[i])` when made.
   */
  check(
    says: readonly ChatWireMessage[],
    handle: (genuine: boolean[]) => void,
    signed?: readonly Uint8Array[],
  ): boolean {
    if (this.#pending + says.length > this.#max) {
      this.#overloaded += says.length;
      return false;
    }
    this.#pending += says.length;
    const results = Promise.all(
      says.map((say, i) =>
        wellFormed(say) ? this.#verifier.verify(say, signed?.[i]) : Promise.resolve(false)
      ),
    );
    this.after(async () => {
      const genuine = await results;
      this.#pending -= says.length;
      handle(genuine);
    });
    return true;
  }

  /** Runs `step` after every step queued before it; a failure is reported, never left unhandled. */
  after(step: () => unknown): void {
    this.#queue = this.#queue.then(step).catch((error) =>
      this.#log(`could not handle a chat message: ${(error as Error).message}`)
    );
  }

  /** Resolves once every step queued so far has run. */
  async settled(): Promise<void> {
    await this.#queue;
  }

  /** Counts `say`, relayed by `from`, as forged; the first is reported. */
  reportForged(say: ChatWireMessage, from: PeerInfo): void {
    this.#forged++;
    if (this.#forged > 1) return;
    this.#log(
      `dropped a chat message ` +
        (wellFormed(say)
          ? `whose signature does not match its origin ${say.origin.slice(0, 8)}`
          : `no honest author writes (no lines, too much text, or a clock past 2^52)`) +
        `, relayed by ${from.nick} (${from.id.slice(0, 8)}): ` +
        `altered or forged on the way; later ones are counted in /stats`,
    );
  }
}
