/**
 * A byte count for people: whole bytes below 1 KiB, then KiB, MiB, GiB with one decimal.
 *
 * @example
 * ```ts
 * import { formatBytes } from "./bytes.js";
 * console.log(formatBytes(44)); // "44 B"
 * ```
 */
export declare function formatBytes(bytes: number): string;
