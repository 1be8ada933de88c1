/**
 * Who a direct message is for: a full peer id, or a nickname, id or id prefix of a known peer.
 *
 * @module
 */
import { ChatError } from "./errors.ts";

/**
 * The peer id `target` names among `known` peers (id and nickname; for an id listed twice, the
 * later nickname counts). A full 32-character id needs no introduction: a direct message floods
 * to it like any other. Throws {@linkcode ChatError} when `target` is empty, names nobody, or
 * could be several peers.
 *
 * @example
 * ```ts
 * import { resolveRecipient } from "./recipients.ts";
 * const known: [string, string][] = [["4f1c".padEnd(32, "0"), "ada"]];
 * console.log(resolveRecipient("ada", known) === known[0][0]); // true
 * console.log(resolveRecipient("4f", known) === known[0][0]); // true
 * ```
 */
export function resolveRecipient(
  target: string,
  known: Iterable<readonly [id: string, nick: string]>,
): string {
  if (target === "") {
    throw new ChatError("a direct message needs a recipient: a nickname or an id");
  }
  if (/^[0-9a-f]{32}$/.test(target)) return target;
  const nicks = new Map(known);
  const ids = [...nicks]
    .filter(([id, nick]) => id === target || nick === target || id.startsWith(target))
    .map(([id]) => id);
  if (ids.length === 1) return ids[0];
  if (ids.length === 0) throw new ChatError(`no known peer is called "${target}"`);
  throw new ChatError(
    `"${target}" could be any of ${ids.map((id) => id.slice(0, 8)).join(", ")}; use an id`,
  );
}
