/**
 * `deno task chat <port> [<peer-host> <peer-port>]`: a chat peer on the command line.
 *
 * @module
 */
import { Command, Option } from "commander";
import type * as readline from "node:readline";
import { type Address, aeadPath, formatAddress, type Peer, startPeer } from "@meshtalk/core";
import { type Chat, chatApp, createChat } from "@meshtalk/chat";
import { CHAT_HELP, type ChatCommand, parseChatCommand } from "./chat_commands.ts";
import { startPrompt } from "./chat_prompt.ts";
import {
  formatMessage,
  formatPeer,
  type Me,
  messageEvent,
  neighbourLines,
  statsLine,
} from "./chat_view.ts";
import { shortId } from "./format.ts";
import { checkExpectPeer, join } from "./join.ts";
import {
  collectAddress,
  defaultDataDir,
  parsePort,
  runCommand,
  UsageError,
  userPath,
} from "./options.ts";
import { Output } from "./output.ts";
import { onSignals, SIGNAL_EXIT_CODES } from "./signals.ts";

interface ChatCliOptions {
  port: number;
  peer: Address[];
  host: string;
  nick?: string;
  dataDir?: string;
  json: boolean;
  input: boolean;
  connections: number;
  linesPerSay: number;
  expectPeer?: string;
}

/** The peers given on the command line are retried from 1 s, doubling to 30 s, while chat runs. */
const JOIN_BACKOFF = { baseMs: 1000, maxMs: 30_000, jitter: 0 };

/**
 * Runs the chat command with `args`, called `name` in its help; resolves with the exit code.
 *
 * @example
 * ```ts
 * import { main } from "./chat.ts";
 * console.log(await main(["70000"])); // 2: not a port
 * ```
 */
export async function main(args: string[], name = "chat"): Promise<number> {
  const program = new Command(name)
    .description("meshtalk chat: every process is a peer; lines you type reach every peer once")
    .argument("<port>", "TCP port to listen on (0: any free port)", (v) => parsePort(v))
    .argument("[peer-host]", "a peer to join through")
    .argument("[peer-port]", "its port", (v) => parsePort(v, "peer port"))
    .option("--peer <host:port>", "another peer to join through (repeatable)", collectAddress, [])
    .option("--host <address>", "address to listen on", "0.0.0.0")
    .option("--nick <name>", "your nickname")
    .option(
      "--data-dir <dir>",
      "where your identity, nickname and known peers are kept (default: one per port)",
    )
    .option(
      "--expect-peer <id>",
      "the peer id the peer you join through must prove (the first peer given); another is refused",
    )
    .option("--json", "one JSON event per line on stdout; human text on stderr", false)
    .option("--no-input", "relay only: read nothing from stdin, run until SIGINT or SIGTERM")
    .addOption(
      new Option(
        "--connections <n>",
        "neighbours to keep by dialing known peers (0: dial only the peers given)",
      ).default(4)
        .argParser((v) => connectionCount(v, "--connections")),
    )
    .addOption(
      new Option(
        "--lines-per-say <n>",
        "most lines written together that go under one signature (1: each line alone)",
      ).default(64).argParser(linesPerSay),
    )
    .addHelpText("after", `\n${CHAT_HELP}`);
  return await runCommand(program, args, () => {
    const [port, peerHost, peerPort] = program.processedArgs as [number, string?, number?];
    const options = { ...program.opts<Omit<ChatCliOptions, "port">>(), port };
    if (peerHost !== undefined) {
      if (peerPort === undefined) throw new UsageError(`missing the port of peer "${peerHost}"`);
      options.peer.unshift({ host: peerHost, port: peerPort });
    }
    checkExpectPeer(options.expectPeer, options.peer);
    return options;
  }, run);
}

/** What a typed line is carried out with. */
interface Session {
  out: Output;
  peer: Peer;
  chat: Chat;
  /** This peer, as message lines name it. */
  me: Me;
  quit: () => void;
}

async function run(options: ChatCliOptions): Promise<number> {
  const { port } = options;
  const out = new Output(options.json);
  const log = (line: string) => out.line(out.paint("2", `* ${line}`));
  let peer: Peer;
  try {
    peer = await startPeer({
      port,
      host: options.host,
      nick: options.nick,
      // One data dir per port, known once bound: two peers on port 0 get identities of their own.
      dataDir: options.dataDir !== undefined ? userPath(options.dataDir) : defaultDataDir,
      apps: [chatApp],
      targetConnections: options.connections,
      log,
    });
  } catch (error) {
    const message = error instanceof Deno.errors.AddrInUse
      ? `port ${port} is already in use; choose another`
      : (error as Error).message;
    out.error(`chat: ${message}`);
    return 1;
  }
  const chat = createChat(peer, { log, linesPerSay: options.linesPerSay });
  const done = Promise.withResolvers<number>();
  const me: Me = {
    id: peer.id,
    nickOf: (id) =>
      chat.knownPeers().get(id) ?? peer.peers().find((info) => info.id === id)?.nick ?? shortId(id),
  };
  const session: Session = { out, peer, chat, me, quit: () => done.resolve(0) };
  let prompt: readline.Interface | null = null;

  const crypto = aeadPath();
  out.event("ready", { port: peer.port, id: peer.id, nick: peer.nick, crypto });
  out.line(
    out.paint("1", `meshtalk chat on port ${peer.port} as ${peer.nick} (${shortId(peer.id)})`) +
      out.paint("2", `  crypto: ${crypto}`) +
      (options.input ? "  /help for commands" : ""),
  );

  chat.onMessage((message) => {
    out.event(message.direct ? "direct" : "message", messageEvent(message));
    if (!out.json) out.line(formatMessage(out, message, me));
  });
  peer.on("peer:connected", (info) => {
    out.event("peer-connected", { id: info.id, nick: info.nick, address: info.address });
    log(`${formatPeer(info)} joined from ${info.address ?? info.remoteAddress}`);
  });
  let leaving = false;
  peer.on("peer:disconnected", ({ peer: info, reason }) => {
    if (leaving) return;
    const nick = chat.knownPeers().get(info.id) ?? info.nick; // the newest, if it was renamed
    out.event("peer-disconnected", { id: info.id, nick, address: info.address, reason });
    log(`${formatPeer({ id: info.id, nick })} left: ${reason}`);
  });
  chat.onNick(({ id, nick, before, late }) => {
    out.event("nick", { id, nick, before, late });
    if (!late) log(`${before ?? shortId(id)} is now ${nick}`);
  });
  // A connection that failed is said by the peer's log for people; programs get an event.
  peer.on("error", ({ address, message }) => out.event("error", { address, message }));

  if (options.expectPeer === peer.id) {
    out.error(`chat: --expect-peer names this peer's own id (${shortId(peer.id)})`);
  }
  // Also when `--connections 0` keeps upkeep from dialing them: the peers given are joined.
  const joining = new AbortController();
  join(peer, options.peer, {
    expectPeer: options.expectPeer,
    backoff: JOIN_BACKOFF,
    signal: joining.signal,
    onRetry: (_, error, failures) => {
      // An endpoint of another protocol is named by the peer's log already, once.
      if (failures === 1 && error.reason !== "not-meshtalk") {
        out.error(`chat: ${error.message}; retrying in the background`);
      }
    },
    onGiveUp: (address, error) => {
      // The address answers, with someone else; or it is this very peer.
      if (error.reason === "wrong-peer") {
        out.error(`chat: refused ${formatAddress(address)}: ${error.message}`);
      } else if (error.reason === "self") {
        out.error(`chat: ${formatAddress(address)} is this peer itself`);
      }
    },
  });

  // Ctrl-C, at the prompt or not, and SIGTERM end the chat as cleanly as /quit, with their status.
  const signals = onSignals(done.resolve);

  if (options.input) {
    if (Deno.stdin.isTerminal() && !options.json) {
      prompt = startPrompt(session.out, (line) => execute(session, line), {
        onClose: session.quit,
        onInterrupt: () => done.resolve(SIGNAL_EXIT_CODES.SIGINT),
      });
    } else {
      // A script's lines should reach someone: wait for the first neighbour when told whom to
      // join (for at most 10 s), rather than broadcast the first lines to nobody.
      const joined = options.peer.length > 0 ? firstNeighbour(peer, 10_000) : Promise.resolve();
      readLines(async (line) => {
        await joined;
        await execute(session, line);
        // Read on only as fast as the network takes the lines: piped input can be endless.
        await chat.drained(256 * 1024);
      }).then(session.quit);
    }
  }

  const code = await done.promise;
  // Every line written (at EOF, or before a /quit) goes out before the peer closes: lines still
  // waiting for their signature, and those queued for slow neighbours, for at most 5 s.
  await withinMs(chat.drained(), 5000);
  leaving = true;
  out.event("stats", { ...chat.stats() });
  signals.remove();
  joining.abort();
  if (prompt) {
    out.aroundWrites(() => {}, () => {}); // no prompt to redraw from here on
    prompt.close();
    out.draw("\n");
  }
  chat.close();
  await peer.close();
  log("bye");
  await out.flushed();
  return code;
}

/** Carries out a typed line; what goes wrong is said, and the chat goes on. */
async function execute(session: Session, line: string): Promise<void> {
  try {
    const command = parseChatCommand(line);
    if (command) await perform(session, command);
  } catch (error) {
    session.out.error((error as Error).message);
  }
}

async function perform(
  { out, peer, chat, me, quit }: Session,
  command: ChatCommand,
): Promise<void> {
  switch (command.name) {
    case "say": {
      const sent = chat.say(command.text);
      // A terminal shows what was typed already; a script's lines are shown as sent.
      if (!out.json && !Deno.stdin.isTerminal()) out.line(formatMessage(out, sent, me));
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
    case "help":
      out.line(CHAT_HELP);
      break;
    case "quit":
      quit();
      break;
  }
}

/** Waits for `promise`, but no longer than `ms`. */
async function withinMs(promise: Promise<void>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([promise, new Promise<void>((resolve) => timer = setTimeout(resolve, ms))]);
  clearTimeout(timer);
}

function firstNeighbour(peer: Peer, timeoutMs: number): Promise<void> {
  if (peer.peers().length > 0) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      off();
      resolve();
    };
    const timer = setTimeout(done, timeoutMs);
    const off = peer.on("peer:connected", done);
  });
}

async function readLines(onLine: (line: string) => Promise<void>): Promise<void> {
  let pending = "";
  for await (const chunk of Deno.stdin.readable.pipeThrough(new TextDecoderStream())) {
    pending += chunk;
    let newline: number;
    while ((newline = pending.indexOf("\n")) >= 0) {
      await onLine(pending.slice(0, newline).replace(/\r$/, ""));
      pending = pending.slice(newline + 1);
    }
  }
  if (pending) await onLine(pending);
}

function linesPerSay(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > 64) {
    throw new UsageError("--lines-per-say must be a number from 1 to 64");
  }
  return n;
}

function connectionCount(value: string, what: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 1000) {
    throw new UsageError(`${what} must be a number from 0 to 1000`);
  }
  return n;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
