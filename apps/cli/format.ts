/**
 * How the commands write numbers and ids for people: one place for each, so that a change of
 * wording (say, bytes below 1 KiB) is made once for both commands.
 *
 * @module
 */
import { formatBytes as webFormatBytes } from "./web/bytes.js";

/**
 * A byte count for people: whole bytes below 1 KiB, then KiB, MiB, GiB with one decimal. (The page
 * shows bytes with the same function: it lives in `web/bytes.js`, plain JavaScript a browser runs.)
 *
 * @example
 * ```ts
 * import { formatBytes } from "./format.ts";
 * console.log(formatBytes(44)); // "44 B"
 * console.log(formatBytes(300_000)); // "293.0 KiB"
 * console.log(formatBytes(24 * 2 ** 20)); // "24.0 MiB"
 * ```
 */
export const formatBytes: (bytes: number) => string = webFormatBytes;

/**
 * Seconds rounded to hundredths, as lines and JSON events show them.
 *
 * @example
 * ```ts
 * import { roundSeconds } from "./format.ts";
 * console.log(roundSeconds(1.23456)); // 1.23
 * ```
 */
export function roundSeconds(seconds: number): number {
  return Math.round(seconds * 100) / 100;
}

/**
 * The first 8 hex characters of a peer id: enough to tell peers apart on a screen.
 *
 * @example
 * ```ts
 * import { shortId } from "./format.ts";
 * console.log(shortId("4f1c0a9be27d4c1f8a6b3e5d7c9f0a12")); // "4f1c0a9b"
 * ```
 */
export function shortId(id: string): string {
  return id.slice(0, 8);
}

/**
 * `count` and `noun`, with an "s" unless the count is one.
 *
 * @example
 * ```ts
 * import { plural } from "./format.ts";
 * console.log(plural(1, "peer"), plural(3, "peer")); // "1 peer" "3 peers"
 * ```
 */
export function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}
