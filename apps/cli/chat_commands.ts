/**
 * What a line typed into chat asks for: a line to send, or a `/command` with its arguments. Only
 * the reading is here; chat.ts carries the commands out.
 *
 * @module
 */
import { parsePort } from "./options.ts";

/**
 * The commands, as `/help` and `chat --help` list them.
 *
 * @example
 * ```ts
 * import { CHAT_HELP } from "./chat_commands.ts";
 * console.log(CHAT_HELP.split("\n")[0]); // "commands:"
 * ```
 */
export const CHAT_HELP: string = helpTable("commands:", [
  ["<text>", "send a line to everyone"],
  ["/connect <host> <port> [id]", "connect to a peer (with id: only if it proves that id)"],
  ["/disconnect <port | host:port | id>", "drop a neighbour (it is not redialed)"],
  ["/peers", "list neighbours: id, nickname, address, round-trip time"],
  ["/nick <name>", "change your nickname (every peer is told; kept for next time)"],
  ["/msg <nick | id> <text>", "a direct message, shown only to that peer"],
  ["/history", "show recent messages, yours too"],
  ["/share <path>", "offer a file or folder to the mesh (and print its link)"],
  ["/files", "list what is on offer: number, name, size, peers, who offered it"],
  ["/get <number | name | link>", "fetch a file or folder into --out, every piece verified"],
  ["/cancel <number | name>", "stop a fetch; what was verified is kept for a later /get"],
  ["/stats", "messages sent, shown, relayed, duplicates and forgeries dropped"],
  ["/help", "this list"],
  ["/quit", "leave (also Ctrl-D)"],
]);

/**
 * A titled list of commands and what they do, the descriptions in one column.
 *
 * @example
 * ```ts
 * import { helpTable } from "./chat_commands.ts";
 * console.log(helpTable("commands:", [["/a", "one"], ["/bbb", "two"]]));
 * // commands:
 * //   /a    one
 * //   /bbb  two
 * ```
 */
export function helpTable(title: string, rows: [string, string][]): string {
  const width = Math.max(...rows.map(([syntax]) => syntax.length));
  return [title, ...rows.map(([syntax, what]) => `  ${syntax.padEnd(width)}  ${what}`)].join("\n");
}

/** A line typed into chat, read: what to do, and with what. */
export type ChatCommand =
  /** A line for everyone. */
  | { name: "say"; text: string }
  /** Dial a peer; with `expectPeer`, only if it proves that id. */
  | { name: "connect"; host: string; port: number; expectPeer?: string }
  /** Drop the neighbour `target` names (a port, `host:port` or a peer id). */
  | { name: "disconnect"; target: string }
  /** List the neighbours. */
  | { name: "peers" }
  /** Take the nickname `nick`. */
  | { name: "nick"; nick: string }
  /** A direct message to the peer `to` names (a nickname or a peer id). */
  | { name: "msg"; to: string; text: string }
  /** Show recent messages. */
  | { name: "history" }
  /** Offer the file or folder at `path`. */
  | { name: "share"; path: string }
  /** List what is on offer. */
  | { name: "files" }
  /** Fetch what `target` names: a number from `/files`, a name, a hash prefix or a link. */
  | { name: "get"; target: string }
  /** Stop fetching what `target` names. */
  | { name: "cancel"; target: string }
  /** Show the counters. */
  | { name: "stats" }
  /** Show the commands. */
  | { name: "help" }
  /** Leave. */
  | { name: "quit" };

/**
 * A line that asks for a command wrongly: its message says how to ask.
 *
 * @example
 * ```ts
 * import { ChatCommandError } from "./chat_commands.ts";
 * const error = new ChatCommandError("usage: /nick <name>");
 * console.log(error.name); // "ChatCommandError"
 * ```
 */
export class ChatCommandError extends Error {
  /** Builds the error. */
  constructor(message: string) {
    super(message);
    this.name = "ChatCommandError";
  }
}

/**
 * Reads a typed line: null for a blank one, else the command it asks for; throws a
 * {@linkcode ChatCommandError} for a wrong one. A line not starting with `/` is text to send;
 * words are separated by any run of spaces.
 *
 * @example
 * ```ts
 * import { parseChatCommand } from "./chat_commands.ts";
 * console.log(parseChatCommand("  hello  ")); // { name: "say", text: "hello" }
 * console.log(parseChatCommand("/connect 10.0.0.7:9000"));
 * // { name: "connect", host: "10.0.0.7", port: 9000, expectPeer: undefined }
 * ```
 */
export function parseChatCommand(line: string): ChatCommand | null {
  const text = line.trim();
  if (!text) return null;
  if (!text.startsWith("/")) return { name: "say", text };
  const [name, ...args] = text.split(/\s+/);
  switch (name) {
    case "/connect":
      return connect(args);
    case "/disconnect":
      if (args.length !== 1) {
        throw new ChatCommandError("usage: /disconnect <port | host:port | peer-id>");
      }
      return { name: "disconnect", target: args[0] };
    case "/nick":
      if (args.length !== 1) throw new ChatCommandError("usage: /nick <name>");
      return { name: "nick", nick: args[0] };
    case "/msg":
      if (args.length < 2) throw new ChatCommandError("usage: /msg <nick | id> <text>");
      return { name: "msg", to: args[0], text: args.slice(1).join(" ") };
    case "/share": {
      // The rest of the line, spaces and all: a path may hold them.
      const path = text.slice(name.length).trim();
      if (!path) throw new ChatCommandError("usage: /share <path of a file or folder>");
      return { name: "share", path };
    }
    case "/get":
    case "/cancel":
      if (args.length !== 1) {
        throw new ChatCommandError(
          name === "/get"
            ? "usage: /get <number | name | hash prefix | link>"
            : "usage: /cancel <number | name | hash prefix>",
        );
      }
      return { name: name.slice(1) as "get" | "cancel", target: args[0] };
    case "/files":
    case "/peers":
    case "/history":
    case "/stats":
    case "/help":
    case "/quit":
      return {
        name: name.slice(1) as "files" | "peers" | "history" | "stats" | "help" | "quit",
      };
    default:
      throw new ChatCommandError(`unknown command ${name}; /help lists them`);
  }
}

/** `/connect <host> <port> [id]`, or `/connect <host>:<port>`. */
function connect(args: string[]): ChatCommand {
  // `host:port` is split at its last colon before the port, so an IPv6 host keeps its colons.
  if (args.length === 1 && args[0].includes(":")) args = args[0].split(/:(?=\d+$)/);
  if (args.length !== 2 && args.length !== 3) {
    throw new ChatCommandError("usage: /connect <host> <port> [expected peer id]");
  }
  let port: number;
  try {
    port = parsePort(args[1]);
  } catch (error) {
    throw new ChatCommandError((error as Error).message);
  }
  return { name: "connect", host: args[0], port, expectPeer: args[2] };
}
