/**
 * Small byte helpers every layer needs: hex, equality, concatenation, prefixes. One copy each,
 * here, rather than one per file.
 *
 * @module
 */

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/**
 * Lowercase hex of `bytes`.
 *
 * @example
 * ```ts
 * import { toHex } from "@meshtalk/core";
 * console.log(toHex(new Uint8Array([1, 171]))); // "01ab"
 * ```
 */
export function toHex(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i++) out += HEX[bytes[i]];
  return out;
}

/**
 * The bytes of a lowercase hex string; throws a `SyntaxError` for anything else.
 *
 * @example
 * ```ts
 * import { fromHex } from "@meshtalk/core";
 * console.log(fromHex("01ab")); // Uint8Array(2) [ 1, 171 ]
 * ```
 */
export function fromHex(hex: string): Uint8Array {
  if (typeof hex !== "string" || hex.length % 2 !== 0 || /[^0-9a-f]/.test(hex)) {
    throw new SyntaxError("expected lowercase hex with an even number of digits");
  }
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return bytes;
}

/**
 * True when `a` and `b` hold the same bytes. Constant time in their contents (not their length),
 * so it may compare secrets and digests.
 *
 * @example
 * ```ts
 * import { bytesEqual } from "@meshtalk/core";
 * console.log(bytesEqual(new Uint8Array([1, 2]), new Uint8Array([1, 2]))); // true
 * ```
 */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

/**
 * The parts, one after another, in a new buffer.
 *
 * @example
 * ```ts
 * import { concatBytes } from "@meshtalk/core";
 * console.log(concatBytes(new Uint8Array([1]), new Uint8Array([2, 3]))); // Uint8Array(3) [ 1, 2, 3 ]
 * ```
 */
export function concatBytes(...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  let length = 0;
  for (const part of parts) length += part.length;
  const out = new Uint8Array(length);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/**
 * True when `data` begins with `prefix`.
 *
 * @example
 * ```ts
 * import { startsWithBytes } from "@meshtalk/core";
 * console.log(startsWithBytes(new Uint8Array([1, 2, 3]), new Uint8Array([1, 2]))); // true
 * ```
 */
export function startsWithBytes(data: Uint8Array, prefix: Uint8Array): boolean {
  if (data.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (data[i] !== prefix[i]) return false;
  return true;
}
