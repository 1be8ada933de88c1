/**
 * The one MessagePack codec of meshtalk. Everything that encodes or decodes a message body goes
 * through here, so the library behind it can be swapped in one place.
 *
 * `@msgpack/msgpack` is used rather than `msgpackr`: it is pure JavaScript, needs no optional
 * native packages and reads no environment at import, and a header costs ~1 µs, which the
 * benchmark shows is not where the time goes. Its ES module build is imported (see deno.json):
 * the package's default CommonJS entry makes every connection worker boot Deno's Node
 * compatibility layer, which cost ~30 ms and several MiB per worker.
 *
 * @module
 */
import { Decoder, Encoder } from "@msgpack/msgpack";

const encoder = new Encoder({ ignoreUndefined: true, initialBufferSize: 4096 });
const decoder = new Decoder();

/**
 * Encodes a value to MessagePack. The result is a view into a buffer that the next call reuses:
 * copy it (or write it out) before encoding again.
 *
 * @example
 * ```ts
 * import { encodeShared } from "./codec.ts";
 * const bytes = encodeShared({ t: "ping", n: 1 }).slice();
 * ```
 */
export function encodeShared(value: unknown): Uint8Array {
  return encoder.encodeSharedRef(value);
}

/**
 * Decodes exactly one MessagePack value from `bytes`; throws on malformed input or trailing bytes.
 * Binary fields of the result may be views of `bytes`.
 *
 * @example
 * ```ts
 * import { decodeValue, encodeShared } from "./codec.ts";
 * console.log(decodeValue(encodeShared([1, 2]))); // [1, 2]
 * ```
 */
export function decodeValue(bytes: Uint8Array): unknown {
  return decoder.decode(bytes);
}

/**
 * Decodes the MessagePack values that follow one another in `bytes`, all of them; throws on
 * malformed input or a value cut short.
 *
 * @example
 * ```ts
 * import { decodeValues } from "./codec.ts";
 * console.log(decodeValues(new Uint8Array([1, 2]))); // [1, 2]
 * ```
 */
export function decodeValues(bytes: Uint8Array): unknown[] {
  return [...decoder.decodeMulti(bytes)];
}
