/**
 * How many sources a download keeps busy at once, found by measuring. Every source in use costs
 * the downloader a connection's pipeline (a worker waking, opening frames, handing pieces on),
 * and where the local CPU is the limit (a fast network, or peers on one machine) more sources
 * make the same bytes cost more, and the download slower. Where the sources are the limit (slow
 * or far holders), more sources make it faster. Which holds is not known in advance, and
 * changes, so the limit follows the rate: it starts with every source, and now and then tries
 * fewer (kept if the rate holds) or more (kept if the rate clearly rises). A try that loses waits
 * twice as long before its next time, so a settled download seldom pays for one.
 *
 * Pure bookkeeping: the caller passes the time in and counts the pieces that arrive.
 *
 * @module
 */

/**
 * How a {@linkcode SourceLimit} measures.
 *
 * @example
 * ```ts
 * import type { SourceLimitOptions } from "./source_limit.ts";
 * const options: SourceLimitOptions = { periodMs: 200, minPieces: 8 };
 * ```
 */
export interface SourceLimitOptions {
  /** Shortest period the rate is measured over (default 100 ms). */
  periodMs?: number;
  /** Fewest pieces a period counts before it is judged (default 8)... */
  minPieces?: number;
  /** ...unless it lasts this long (default 5,000 ms): slow sources are judged all the same. */
  maxPeriodMs?: number;
}

/**
 * Fewer sources are kept if they are at least this fast, relative to the rate before: they cost
 * less, so a tie goes to fewer.
 */
const FEWER_KEPT_AT = 0.97;
/** More sources are kept only if they are at least this much faster. */
const MORE_KEPT_AT = 1.1;
/**
 * A try this much slower than the rate before tells nothing of the sources: halving them keeps
 * the faster half, which sends at least half as much. Something else took the machine (another
 * program, the peer's own start-up work) or the network; the try gets one more period.
 */
const DISTURBED_BELOW = 0.35;
/** Periods at a settled limit before a try either way; doubled by every try that loses. */
const FIRST_WAIT = 2;
/** Longest wait between tries, in periods. */
const MAX_WAIT = 64;
/** Periods at the settled limit whose best rate more sources must beat. */
const RECENT = 4;

type Direction = "fewer" | "more";

interface Trial {
  limit: number;
  direction: Direction;
  /**
   * True once its first period is over. That period is not judged: it is spent on what was asked
   * before the try (pieces still coming from sources now past the limit, which would make fewer
   * look as fast as before) or on filling new sources' pipelines (which would make more look slow).
   */
  warm: boolean;
  /** True once a period of it was set aside as disturbed. */
  extended: boolean;
}

/**
 * The number of sources to keep busy.
 *
 * @example
 * ```ts
 * import { SourceLimit } from "./source_limit.ts";
 * const limit = new SourceLimit({ periodMs: 100, minPieces: 1 });
 * console.log(limit.of(4)); // 4: every source, to begin with
 * limit.update(0, 4);
 * limit.arrived(40);
 * limit.update(100, 4); // 0.4 pieces a ms from 4 sources: try 2
 * console.log(limit.of(4)); // 2
 * limit.arrived(45);
 * limit.update(200, 4); // as fast from 2: kept; try 1
 * console.log(limit.of(4)); // 1
 * ```
 */
export class SourceLimit {
  readonly #periodMs: number;
  readonly #minPieces: number;
  readonly #maxPeriodMs: number;
  /** The settled limit (Infinity: every source). */
  #base = Infinity;
  /** Rates (pieces a ms) of the last periods at the settled limit, the newest last. */
  #recent: number[] = [];
  /** The limit being tried, if any. */
  #trial: Trial | null = null;
  /** Periods at the settled limit since the last try. */
  #settled = 0;
  /** With every source in use, fewer are tried after the first period. */
  readonly #wait: Record<Direction, number> = { fewer: 1, more: FIRST_WAIT };
  #periodStart: number | null = null;
  #pieces = 0;

  /** Every source in use, until the first periods are measured. */
  constructor(options: SourceLimitOptions = {}) {
    this.#periodMs = options.periodMs ?? 100;
    this.#minPieces = options.minPieces ?? 8;
    this.#maxPeriodMs = options.maxPeriodMs ?? 5000;
  }

  /** How many of `available` sources to keep busy now (at least 1). */
  of(available: number): number {
    return Math.max(1, Math.min(this.#trial?.limit ?? this.#base, available));
  }

  /** `count` pieces arrived, verified. */
  arrived(count = 1): void {
    this.#pieces += count;
  }

  /**
   * Judges the period if it is over, with `available` sources: the limit may change. Returns how
   * long the period judged was (ms), or 0 while it runs.
   */
  update(now: number, available: number): number {
    if (this.#periodStart === null) {
      this.#periodStart = now;
      this.#pieces = 0;
      return 0;
    }
    const elapsed = now - this.#periodStart;
    const long = elapsed >= this.#maxPeriodMs;
    if (elapsed < this.#periodMs || (this.#pieces < this.#minPieces && !long)) return 0;
    const rate = this.#pieces / elapsed;
    this.#periodStart = now;
    this.#pieces = 0;
    if (this.#trial) this.#judge(this.#trial, rate, available);
    else this.#settle(rate, available);
    return elapsed;
  }

  /** A period at the settled limit: a rate to beat; time for a try, maybe. */
  #settle(rate: number, available: number): void {
    const best = Math.max(...this.#recent, 0);
    this.#recent = [...this.#recent.slice(1 - RECENT), rate];
    this.#settled++;
    const current = this.of(available);
    // Nothing at all arrived, or far less than lately: the sources in use are stuck, gone or
    // slowed (a busy uplink), or the machine is busy. More may help and a try costs little, so
    // one is made at once, however many lost before; what they did before counts for nothing.
    if (current < available && (rate === 0 || rate < best * DISTURBED_BELOW)) {
      this.#recent = [rate];
      this.#wait.more = FIRST_WAIT;
      return this.#try("more", current, available);
    }
    const fewer = current > 1 && this.#settled >= this.#wait.fewer;
    const more = current < available && this.#settled >= this.#wait.more;
    // When both are due, the one that has lost less lately goes first.
    if (fewer && (!more || this.#wait.fewer <= this.#wait.more)) {
      this.#try("fewer", current, available);
    } else if (more) this.#try("more", current, available);
  }

  #try(direction: Direction, current: number, available: number): void {
    const limit = direction === "fewer" ? Math.ceil(current / 2) : Math.min(available, current * 2);
    this.#trial = { limit, direction, warm: false, extended: false };
  }

  /**
   * The period of a try: kept (and the next step tried at once) or dropped. Fewer must be about
   * as fast as the last period before; more, clearly faster than the best of the recent ones (a
   * rate that recovers from a disturbance is no sign that more sources help).
   */
  #judge(trial: Trial, rate: number, available: number): void {
    if (!trial.warm) {
      trial.warm = true;
      return;
    }
    const last = this.#recent.at(-1) ?? 0;
    if (rate < last * DISTURBED_BELOW && !trial.extended) {
      trial.extended = true;
      return;
    }
    const kept = trial.direction === "fewer"
      ? rate >= last * FEWER_KEPT_AT
      : rate > Math.max(...this.#recent, 0) * MORE_KEPT_AT;
    this.#trial = null;
    this.#settled = 0;
    if (!kept) {
      this.#wait[trial.direction] = Math.min(MAX_WAIT, this.#wait[trial.direction] * 2);
      return;
    }
    this.#base = trial.limit >= available ? Infinity : trial.limit;
    this.#recent = [rate];
    this.#wait[trial.direction] = FIRST_WAIT;
    const current = this.of(available);
    const further = trial.direction === "fewer" ? current > 1 : current < available;
    if (further) this.#try(trial.direction, current, available);
  }
}
