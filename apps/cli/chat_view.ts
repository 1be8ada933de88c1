/**
 * What the chat command shows: a message as a line and as a JSON event, a peer in a line, the
 * neighbour table of `/peers` and the counters of `/stats`.
 *
 * @module
 */
import type { PeerInfo } from "@meshtalk/core";
import type { ChatMessage, ChatStats } from "@meshtalk/chat";
import { shortId } from "./format.ts";
import type { Output } from "./output.ts";

/**
 * A message as a line: time, tags, author (coloured by id when colour is on) and text.
 *
 * @example
 * ```ts
 * import { formatMessage } from "./chat_view.ts";
 * import { Output } from "./output.ts";
 * const line = formatMessage(new Output(true), {
 *   id: "m1", from: { id: "4f1c0a9be27d4c1f8a6b3e5d7c9f0a12", nick: "ada" }, text: "hi",
 *   hops: 0, sentAt: Date.now(), clock: 1, direct: true, late: false,
 * });
 * console.log(line.endsWith("[direct] ada (4f1c0a9b): hi")); // true
 * ```
 */
export function formatMessage(out: Output, message: ChatMessage): string {
  const time = new Date(message.sentAt).toTimeString().slice(0, 8);
  const hue = 31 + (parseInt(message.from.id.slice(0, 2), 16) % 6);
  const who = out.paint(`1;${hue}`, message.from.nick) +
    out.paint("2", ` (${shortId(message.from.id)})`);
  const tags = (message.late ? out.paint("2", "[late] ") : "") +
    (message.direct ? out.paint("35", "[direct] ") : "");
  return `${out.paint("2", time)} ${tags}${who}: ${message.text}`;
}

/**
 * The fields of a `message` or `direct` JSON event.
 *
 * @example
 * ```ts
 * import { messageEvent } from "./chat_view.ts";
 * const event = messageEvent({
 *   id: "m1", from: { id: "4f1c0a9be27d4c1f8a6b3e5d7c9f0a12", nick: "ada" }, text: "hi",
 *   hops: 0, sentAt: 0, clock: 1, direct: false, late: false,
 * });
 * console.log(Object.keys(event)); // ["id", "from", "text", "hops", "sentAt", "late"]
 * ```
 */
export function messageEvent(message: ChatMessage): Record<string, unknown> {
  return {
    id: message.id,
    from: message.from,
    text: message.text,
    hops: message.hops,
    sentAt: message.sentAt,
    late: message.late,
  };
}

/**
 * A peer as lines name it: nickname and short id.
 *
 * @example
 * ```ts
 * import { formatPeer } from "./chat_view.ts";
 * console.log(formatPeer({ id: "4f1c0a9be27d4c1f8a6b3e5d7c9f0a12", nick: "ada" })); // "ada (4f1c0a9b)"
 * ```
 */
export function formatPeer(peer: { id: string; nick: string }): string {
  return `${peer.nick} (${shortId(peer.id)})`;
}

/**
 * The lines of `/peers`: one a neighbour (short id, nickname, address, round-trip time), or a
 * hint when there is none.
 *
 * @example
 * ```ts
 * import { neighbourLines } from "./chat_view.ts";
 * console.log(neighbourLines([])); // ["no neighbours yet: /connect <host> <port>"]
 * ```
 */
export function neighbourLines(
  neighbours: Pick<PeerInfo, "id" | "nick" | "address" | "remoteAddress" | "rttMs">[],
): string[] {
  if (neighbours.length === 0) return ["no neighbours yet: /connect <host> <port>"];
  return neighbours.map((info) => {
    const rtt = info.rttMs === null ? "-" : `${info.rttMs.toFixed(2)} ms`;
    const address = (info.address ?? info.remoteAddress).padEnd(22);
    return `${shortId(info.id)}  ${info.nick.padEnd(16)} ${address} ${rtt}`;
  });
}

/**
 * The line of `/stats`: each counter by its name.
 *
 * @example
 * ```ts
 * import { statsLine } from "./chat_view.ts";
 * console.log(statsLine({ sent: 2, delivered: 5 })); // "sent 2, delivered 5"
 * ```
 */
export function statsLine(stats: Partial<ChatStats>): string {
  return Object.entries(stats).map(([name, value]) => `${name} ${value}`).join(", ");
}
