/**
 * Which pieces of a file a peer has: one bit per piece, the first piece in the high bit of the
 * first byte (as BitTorrent lays it out).
 *
 * @module
 */

/**
 * A fixed-size set of piece numbers.
 *
 * @example
 * ```ts
 * import { Bitfield } from "@meshtalk/files";
 * const have = new Bitfield(10);
 * have.set(3);
 * console.log(have.has(3), have.count); // true 1
 * ```
 */
export class Bitfield {
  readonly size: number;
  readonly bytes: Uint8Array;
  #count = 0;

  /** `size` pieces, none set; or the pieces set in `bytes` (bits past `size` must be clear). */
  constructor(size: number, bytes?: Uint8Array) {
    this.size = size;
    this.bytes = new Uint8Array(Math.ceil(size / 8));
    if (bytes) {
      if (bytes.length !== this.bytes.length) {
        throw new RangeError(`a bitfield of ${size} pieces has ${this.bytes.length} bytes`);
      }
      const spare = this.bytes.length * 8 - size;
      if (spare > 0 && (bytes[bytes.length - 1] & ((1 << spare) - 1)) !== 0) {
        throw new RangeError("a bitfield has bits set past its last piece");
      }
      this.bytes.set(bytes);
      for (const byte of bytes) this.#count += popcount(byte);
    }
  }

  /** How many pieces are set. */
  get count(): number {
    return this.#count;
  }

  /** True when every piece is set. */
  get complete(): boolean {
    return this.#count === this.size;
  }

  has(piece: number): boolean {
    return (this.bytes[piece >> 3] & (0x80 >> (piece & 7))) !== 0;
  }

  /** Sets a piece; returns false if it was set already. */
  set(piece: number): boolean {
    if (piece < 0 || piece >= this.size) throw new RangeError(`no piece ${piece} of ${this.size}`);
    if (this.has(piece)) return false;
    this.bytes[piece >> 3] |= 0x80 >> (piece & 7);
    this.#count++;
    return true;
  }

  /** Clears a piece; returns false if it was clear. */
  clear(piece: number): boolean {
    if (!this.has(piece)) return false;
    this.bytes[piece >> 3] &= ~(0x80 >> (piece & 7));
    this.#count--;
    return true;
  }

  /** Every piece that is set, in order. */
  *pieces(): Generator<number> {
    for (let piece = 0; piece < this.size; piece++) if (this.has(piece)) yield piece;
  }

  /** A bitfield with every piece set. */
  static full(size: number): Bitfield {
    const field = new Bitfield(size);
    for (let piece = 0; piece < size; piece++) field.set(piece);
    return field;
  }
}

function popcount(byte: number): number {
  let count = 0;
  for (let b = byte; b !== 0; b &= b - 1) count++;
  return count;
}
