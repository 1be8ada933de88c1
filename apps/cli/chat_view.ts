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
 * const sent = formatMessage(new Output(true), {
 *   id: "m2", from: { id: "aa".repeat(16), nick: "me" }, text: "psst", to: "bb".repeat(16),
 *   hops: 0, sentAt: Date.now(), clock: 2, direct: true, late: false,
 * }, { id: "aa".repeat(16), nickOf: () => "bob" });
 * console.log(sent.endsWith("[to bob] psst")); // true
 * ```
 */
export function formatMessage(out: Output, message: ChatMessage, me?: Me): string {
  const time = out.paint("2", new Date(message.sentAt).toTimeString().slice(0, 8));
  const late = message.late ? out.paint("2", "[late] ") : "";
  // What this peer sent to one peer: to whom, not as if it had been sent to this peer.
  if (me && message.from.id === me.id && message.to) {
    return `${time} ${late}${out.paint("35", `[to ${me.nickOf(message.to)}]`)} ${message.text}`;
  }
  const hue = 31 + (parseInt(message.from.id.slice(0, 2), 16) % 6);
  const who = out.paint(`1;${hue}`, message.from.nick) +
    out.paint("2", ` (${shortId(message.from.id)})`);
  const tags = late + (message.direct ? out.paint("35", "[direct] ") : "");
  return `${time} ${tags}${who}: ${message.text}`;
}

/** This peer, as message lines need it: its id, and the nickname of any peer it knows. */
export interface Me {
  /** This peer's id. */
  id: string;
  /** The nickname of peer `id`, or what stands for it. */
  nickOf(id: string): string;
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
 * The lines of `/peers`: a header, then one a neighbour (short id, nickname, address, round-trip
 * time), or a hint when there is none.
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
  const row = (id: string, nick: string, address: string, rtt: string) =>
    `${id.padEnd(8)}  ${nick.padEnd(16)} ${address.padEnd(22)} ${rtt}`;
  return [
    row("id", "nickname", "address", "round trip"),
    ...neighbours.map((info) =>
      row(
        shortId(info.id),
        info.nick,
        info.address ?? info.remoteAddress,
        info.rttMs === null ? "-" : `${info.rttMs.toFixed(2)} ms`,
      )
    ),
  ];
}

/** What `/stats` calls each counter it shows, in the order it shows them (as the README does). */
const STATS_WORDS: [keyof ChatStats, string][] = [
  ["sent", "sent"],
  ["delivered", "shown"],
  ["late", "of them late"],
  ["relayed", "relayed"],
  ["duplicates", "duplicates dropped"],
  ["forged", "forgeries dropped"],
  ["overloaded", "dropped unchecked (overload)"],
];

/**
 * The line of `/stats`: messages sent, shown (and how many of those came late), relayed,
 * duplicates and forgeries dropped.
 *
 * @example
 * ```ts
 * import { statsLine } from "./chat_view.ts";
 * console.log(statsLine({ sent: 2, delivered: 5 })); // "sent 2, shown 5"
 * ```
 */
export function statsLine(stats: Partial<ChatStats>): string {
  return STATS_WORDS.filter(([name]) => stats[name] !== undefined)
    .map(([name, words]) => `${words} ${stats[name]}`).join(", ");
}
