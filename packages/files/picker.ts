/**
 * Which piece to ask a peer for next: the rarest of those it has and we lack, and in the
 * endgame, when every missing piece is asked for already, one asked of somebody else.
 *
 * @module
 */
import type { Bitfield } from "./bitfield.ts";

/**
 * Most peers asked for one piece at once in the endgame.
 *
 * @example
 * ```ts
 * import { ENDGAME_REQUESTERS } from "./picker.ts";
 * console.log(ENDGAME_REQUESTERS); // 3
 * ```
 */
export const ENDGAME_REQUESTERS = 3;

/**
 * What the picker needs to know of a download.
 *
 * @example
 * ```ts
 * import { Bitfield } from "./bitfield.ts";
 * import type { PickerState } from "./picker.ts";
 * const state: PickerState = { have: new Bitfield(4), requested: new Map([[1, new Set(["ada"])]]), availability: new Uint16Array(4) };
 * ```
 */
export interface PickerState {
  /** Pieces verified here. */
  have: Bitfield;
  /** Pieces asked for, and of whom (any map of pieces to collections of peer ids). */
  requested: ReadonlyMap<number, { readonly size: number; has(peer: string): boolean }>;
  /** How many connected peers have each piece. */
  availability: Uint16Array;
}

/**
 * The piece to ask `peer` (which has `theirs`) for, or null if it has nothing useful.
 * `random` in [0, 1) breaks ties, so that downloaders spread over the pieces.
 *
 * @example
 * ```ts
 * import { Bitfield } from "./bitfield.ts";
 * import { pickPiece } from "./picker.ts";
 * const theirs = Bitfield.full(4);
 * const state = { have: new Bitfield(4), requested: new Map(), availability: new Uint16Array([2, 1, 2, 2]) };
 * console.log(pickPiece(state, "peer", theirs, 0)); // 1, the rarest
 * ```
 */
export function pickPiece(
  state: PickerState,
  peer: string,
  theirs: Bitfield,
  random: number = Math.random(),
): number | null {
  const { have, requested, availability } = state;
  const size = have.size;
  const start = Math.floor(random * size);
  let best = -1;
  let bestRarity = Infinity;
  for (let i = 0; i < size; i++) {
    const piece = (start + i) % size;
    if (have.has(piece) || !theirs.has(piece) || requested.has(piece)) continue;
    if (availability[piece] < bestRarity) {
      best = piece;
      bestRarity = availability[piece];
      if (bestRarity <= 1) break;
    }
  }
  if (best >= 0 || requested.size < size - have.count) return best >= 0 ? best : null;
  // Endgame: every piece this peer could give is asked of someone already. Ask it too for the
  // one with the fewest askers, so a slow peer cannot hold back the end of a download.
  let fewest = ENDGAME_REQUESTERS;
  for (const [piece, askers] of requested) {
    if (askers.size < fewest && !askers.has(peer) && theirs.has(piece) && !have.has(piece)) {
      best = piece;
      fewest = askers.size;
    }
  }
  return best >= 0 ? best : null;
}
