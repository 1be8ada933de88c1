/**
 * What a typed chat line does: the commands carried out on the session's peer, chat and files.
 * What goes wrong is said, and the chat goes on.
 *
 * @module
 */
import type { Peer } from "@meshtalk/core";
import type { Chat, ChatMessage } from "@meshtalk/chat";
import { CHAT_HELP, type ChatCommand, parseChatCommand } from "./chat_commands.ts";
import type { ChatFiles } from "./chat_files.ts";
import { formatMessage, formatPeer, type Me, neighbourLines, statsLine } from "./chat_view.ts";
import type { Output } from "./output.ts";

/** What a typed line is carried out with. */
export interface Session {
  out: Output;
  peer: Peer;
  chat: Chat;
  files: ChatFiles;
  /** This peer, as message lines name it. */
  me: Me;
  quit: () => void;
  /** Told of each message this peer writes (its page shows them). */
  sent?: (message: ChatMessage) => void;
}

/** Who asked for a command: a line read at the prompt or from stdin, or the peer's page. */
export type Asker = "line" | "page";

/**
 * Carries out a typed line; what goes wrong is said, and the chat goes on.
 *
 * @example
 * ```ts ignore
 * await execute(session, "/peers");
 * ```
 */
export async function execute(session: Session, line: string): Promise<void> {
  try {
    const command = parseChatCommand(line);
    if (command) await perform(session, command);
  } catch (error) {
    session.out.error((error as Error).message);
  }
}

/**
 * Carries out a command; throws what goes wrong. `asker` says who asked: a line the terminal shows
 * already, or the page (its lines are shown on the terminal as sent).
 *
 * @example
 * ```ts ignore
 * await perform(session, { name: "nick", nick: "ada" }, "page");
 * ```
 */
export async function perform(
  { out, peer, chat, files, me, quit, sent: told }: Session,
  command: ChatCommand,
  asker: Asker = "line",
): Promise<void> {
  switch (command.name) {
    case "say": {
      const sent = chat.say(command.text);
      told?.(sent);
      // A terminal shows what was typed already; a script's lines are shown as sent.
      const typed = asker === "line" && Deno.stdin.isTerminal();
      if (!out.json && !typed) out.line(formatMessage(out, sent, me));
      break;
    }
    case "connect": {
      const { host, port, expectPeer } = command;
      const info = await peer.connect(host, port, { expectPeer });
      out.line(out.paint("2", `* connected to ${formatPeer(info)} at ${info.address}`));
      break;
    }
    case "disconnect": {
      const gone = await peer.disconnect(command.target);
      if (!gone) {
        out.error(`no neighbour matches "${command.target}"; see /peers`);
        break;
      }
      out.line(out.paint("2", `* disconnected from ${formatPeer(gone)}; it will not be redialed`));
      break;
    }
    case "peers": {
      const nicks = chat.knownPeers(); // nicknames seen on messages are the newest
      const list = peer.peers().map((info) => ({ ...info, nick: nicks.get(info.id) ?? info.nick }));
      out.event("peers", {
        peers: list.map(({ id, nick, address, rttMs }) => ({ id, nick, address, rttMs })),
      });
      for (const line of neighbourLines(list)) out.line(line);
      break;
    }
    case "nick":
      chat.setNick(command.nick);
      out.line(out.paint("2", `* you are now ${chat.nick}`));
      break;
    case "msg": {
      const sent = chat.direct(command.to, command.text);
      told?.(sent);
      if (!out.json) out.line(formatMessage(out, sent, me));
      break;
    }
    case "stats": {
      const stats = chat.stats();
      out.event("stats", { ...stats });
      if (!out.json) out.line(statsLine(stats));
      break;
    }
    case "history":
      for (const message of chat.history()) out.line(formatMessage(out, message, me));
      break;
    case "share":
      await files.share(command.path);
      break;
    case "files":
      files.list();
      break;
    case "get":
      await files.get(command.target);
      break;
    case "cancel":
      files.cancel(command.target);
      break;
    case "help":
      out.line(CHAT_HELP);
      break;
    case "quit":
      quit();
      break;
  }
}
