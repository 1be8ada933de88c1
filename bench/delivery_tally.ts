// Exactly-once accounting for the chat benchmark: which numbered line of which sender each peer
// has shown, so that a line shown twice or never is an error that names it.

/** A line was shown twice, or not at all, where every peer must show it exactly once. */
export class DeliveryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DeliveryError";
  }
}

/**
 * Lines 0..`lines`-1 of each sender, as shown by each of `peers` peers (a sender does not show its
 * own). `record` says whether a line is new there; `check` throws a DeliveryError naming what
 * was shown twice or is missing.
 *
 * @example
 * ```ts
 * import { DeliveryTally } from "./delivery_tally.ts";
 * const tally = new DeliveryTally(3, [0], 2);
 * for (const peer of [1, 2]) for (const line of [0, 1]) tally.record(0, peer, line);
 * console.log(tally.complete()); // true
 * tally.check("example");
 * ```
 */
export class DeliveryTally {
  readonly peers: number;
  readonly senders: number[];
  readonly lines: number;
  /** Copies shown again, over every peer. */
  duplicates = 0;
  readonly #seen = new Map<number, Uint8Array[]>();
  readonly #counts = new Map<number, number[]>();
  readonly #duplicateExamples: string[] = [];

  constructor(peers: number, senders: number[], lines: number) {
    this.peers = peers;
    this.senders = senders;
    this.lines = lines;
    for (const sender of senders) {
      this.#seen.set(sender, Array.from({ length: peers }, () => new Uint8Array(lines)));
      this.#counts.set(sender, new Array(peers).fill(0));
    }
  }

  /** Counts `sender`'s line `line` as shown by `peer`; false if it was shown there before. */
  record(sender: number, peer: number, line: number): boolean {
    const seen = this.#seen.get(sender)?.[peer];
    if (!seen || line < 0 || line >= this.lines || peer === sender) {
      throw new DeliveryError(`p${peer} showed p${sender}'s line ${line}, which was never written`);
    }
    if (seen[line]) {
      this.duplicates++;
      if (this.#duplicateExamples.length < 5) {
        this.#duplicateExamples.push(`p${peer} showed p${sender}'s line ${line} again`);
      }
      return false;
    }
    seen[line] = 1;
    this.#counts.get(sender)![peer]++;
    return true;
  }

  /** How many of `sender`'s lines `peer` has shown. */
  count(sender: number, peer: number): number {
    return this.#counts.get(sender)![peer];
  }

  /** The fewest of `sender`'s lines any other peer has shown. */
  slowest(sender: number): number {
    const counts = this.#counts.get(sender)!;
    let least = Infinity;
    for (let peer = 0; peer < this.peers; peer++) {
      if (peer !== sender && counts[peer] < least) least = counts[peer];
    }
    return least;
  }

  /** True once every peer has shown every line of every other sender. */
  complete(): boolean {
    return this.senders.every((sender) => this.slowest(sender) === this.lines);
  }

  /** Lines shown so far over every peer. */
  shown(): number {
    let total = 0;
    for (const counts of this.#counts.values()) for (const count of counts) total += count;
    return total;
  }

  /** Who lacks what: "p3 lacks 3 of p0's lines: 17-18, 40"; empty if nothing. */
  missing(): string {
    const lacking: string[] = [];
    for (const sender of this.senders) {
      const seen = this.#seen.get(sender)!;
      for (let peer = 0; peer < this.peers; peer++) {
        if (peer === sender) continue;
        const lack = this.lines - this.#counts.get(sender)![peer];
        if (lack > 0) {
          lacking.push(`p${peer} lacks ${lack} of p${sender}'s lines: ${gaps(seen[peer])}`);
        }
      }
    }
    return lacking.join("; ");
  }

  /** Throws a DeliveryError if any line was shown twice or is missing somewhere. */
  check(what: string): void {
    if (this.duplicates > 0) {
      throw new DeliveryError(
        `${what}: ${this.duplicates} lines shown twice (${this.#duplicateExamples.join("; ")})`,
      );
    }
    const missing = this.missing();
    if (missing) throw new DeliveryError(`${what}: lines missing: ${missing}`);
  }
}

/** The first few runs of zeros in `seen`, as "3-5, 9" (and "…" if there are more). */
function gaps(seen: Uint8Array, most = 5): string {
  const runs: string[] = [];
  for (let at = seen.indexOf(0); at >= 0 && at < seen.length;) {
    if (runs.length === most) return `${runs.join(", ")}, …`;
    let end = at;
    while (end + 1 < seen.length && !seen[end + 1]) end++;
    runs.push(end > at ? `${at}-${end}` : `${at}`);
    at = seen.indexOf(0, end + 1);
  }
  return runs.join(", ");
}
