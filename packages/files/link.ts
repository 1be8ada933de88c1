/**
 * Share links: one line of text that names a file or folder by its root hash and says where to
 * get it, from which peer, pinned by its id:
 *
 * ```text
 * meshtalk:<root>?peer=<host>:<port>&id=<peer id>[&name=<name>]
 * ```
 *
 * The root names the bytes exactly (it is the hash of the manifest, which holds the hash of every
 * piece), so a link cannot be made to fetch anything else; the id makes the dial refuse any peer
 * but the one named.
 *
 * @module
 */
import { type Address, formatAddress, parseAddress } from "@meshtalk/core";
import { FileShareError } from "./errors.ts";
import { checkFileName } from "./names.ts";

/**
 * What a share link says.
 *
 * @example
 * ```ts
 * import type { ShareLink } from "@meshtalk/files";
 * const link: ShareLink = { root: "ab".repeat(32), host: "10.0.0.7", port: 7000, id: "cd".repeat(16), name: "report.pdf" };
 * ```
 */
export interface ShareLink extends Address {
  /** The root hash: 64 lowercase hex characters. */
  root: string;
  /** The id of the peer at `host:port`: 32 lowercase hex characters. */
  id: string;
  /** The name to show, if the link gives one: only shown, never trusted (the manifest's is). */
  name?: string;
}

const SCHEME = "meshtalk:";

/**
 * The text of a share link: `meshtalk:<root>?peer=<host>:<port>&id=<id>` (an IPv6 host in
 * brackets), then `&name=<name>` when there is a name, percent-encoded as `encodeURIComponent`
 * does. Throws a `TypeError` for a link of the wrong form (see {@linkcode parseLink}).
 *
 * @example
 * ```ts
 * import { formatLink } from "@meshtalk/files";
 * const link = formatLink({ root: "ab".repeat(32), host: "::1", port: 7000, id: "cd".repeat(16), name: "my report.pdf" });
 * console.log(link.slice(73)); // "?peer=[::1]:7000&id=cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd&name=my%20report.pdf"
 * ```
 */
export function formatLink(link: ShareLink): string {
  const why = problem(link);
  if (why) throw new TypeError(`cannot make a link: ${why}`);
  const name = link.name === undefined ? "" : `&name=${encodeURIComponent(link.name)}`;
  return `${SCHEME}${link.root}?peer=${formatAddress(link)}&id=${link.id}${name}`;
}

/**
 * Reads a share link (surrounding white space is ignored; the root and id may be in upper case).
 * Throws a {@linkcode FileShareError} (`bad-link`) saying what is wrong: not a meshtalk link, a
 * root or id of the wrong form, a missing, repeated or unknown parameter, a bad host or port, a
 * bad percent-encoding, or a name that is not a plain file name.
 *
 * @example
 * ```ts
 * import { FileShareError, parseLink } from "@meshtalk/files";
 * const link = parseLink(`meshtalk:${"ab".repeat(32)}?peer=10.0.0.7:7000&id=${"cd".repeat(16)}`);
 * console.log(link.host, link.port); // "10.0.0.7" 7000
 * try {
 *   parseLink("meshtalk:abc?peer=10.0.0.7:7000");
 * } catch (error) {
 *   const { code, message } = error as FileShareError;
 *   console.log(code, message); // "bad-link" '"meshtalk:abc?peer=10.0.0.7:7000" is not a meshtalk link: the hash is not 64 hex characters'
 * }
 * ```
 */
export function parseLink(text: string): ShareLink {
  const trimmed = text.trim();
  const shown = trimmed.length > 200 ? `${trimmed.slice(0, 200)}…` : trimmed;
  const bad = (why: string) =>
    new FileShareError("bad-link", `${JSON.stringify(shown)} is not a meshtalk link: ${why}`);
  if (!trimmed.toLowerCase().startsWith(SCHEME)) throw bad(`it does not start with "${SCHEME}"`);
  const rest = trimmed.slice(SCHEME.length);
  const question = rest.indexOf("?");
  if (question < 0) throw bad("it has no ?peer=…&id=… after the hash");
  const root = rest.slice(0, question).toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(root)) throw bad("the hash is not 64 hex characters");
  const params = new Map<string, string>();
  for (const part of rest.slice(question + 1).split("&")) {
    const equals = part.indexOf("=");
    const key = equals < 0 ? part : part.slice(0, equals);
    if (!["peer", "id", "name"].includes(key)) {
      throw bad(`it has an unknown part ${JSON.stringify(key)} (known: peer, id, name)`);
    }
    if (equals < 0) throw bad(`its ${key} has no value`);
    if (params.has(key)) throw bad(`it gives ${key} twice`);
    try {
      params.set(key, decodeURIComponent(part.slice(equals + 1)));
    } catch {
      throw bad(`its ${key} is not percent-encoded UTF-8`);
    }
  }
  const peer = params.get("peer");
  const id = params.get("id")?.toLowerCase();
  if (peer === undefined) throw bad("it names no peer (peer=host:port)");
  if (id === undefined) throw bad("it names no peer id (id=…)");
  let address: Address;
  try {
    address = parseAddress(peer);
  } catch {
    throw bad(`its peer ${JSON.stringify(peer)} is not host:port (an IPv6 host in brackets)`);
  }
  const link: ShareLink = { root, ...address, id };
  const name = params.get("name");
  if (name !== undefined) link.name = name;
  const why = problem(link);
  if (why) throw bad(why);
  return link;
}

/** What of `link` is not of its form, or null. */
function problem(link: ShareLink): string | null {
  if (!/^[0-9a-f]{64}$/.test(link.root)) return "the hash is not 64 hex characters";
  if (!/^[0-9a-f]{32}$/.test(link.id)) return "the peer id is not 32 hex characters";
  if (!Number.isInteger(link.port) || link.port < 1 || link.port > 65535) {
    return `the port ${link.port} is not from 1 to 65535`;
  }
  // Host names and IP addresses only: nothing a link would have to escape.
  if (!/^[A-Za-z0-9._:-]+$/.test(link.host)) {
    return `the host ${JSON.stringify(link.host)} is not a host name or IP address`;
  }
  if (link.name !== undefined) {
    try {
      checkFileName(link.name);
    } catch (error) {
      return `its name: ${(error as Error).message}`;
    }
  }
  return null;
}
