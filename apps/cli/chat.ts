/**
 * `deno task chat <port> [<peer-host> <peer-port>]`: a chat peer on the command line.
 *
 * @module
 */
import { Command, Option } from "./command.ts";
import type * as readline from "node:readline";
import { type Address, aeadPath, formatAddress, type Peer, startPeer } from "@meshtalk/core";
import { chatApp, createChat } from "@meshtalk/chat";
import { createFileShare, filesApp } from "@meshtalk/files";
import { CHAT_HELP } from "./chat_commands.ts";
import { ChatFiles } from "./chat_files.ts";
import { execute, perform, type Session } from "./chat_session.ts";
import { formatMessage, formatPeer, type Me, messageEvent } from "./chat_view.ts";
import { showTransfers } from "./files_view.ts";
import {
  addDiscoveryOptions,
  type DiscoveryCliOptions,
  discoverySettings,
} from "./discovery_options.ts";
import { shortId } from "./format.ts";
import { checkExpectPeer, join } from "./join.ts";
import {
  collectAddress,
  defaultDataDir,
  parsePort,
  parseRate,
  parseWebAddress,
  runCommand,
  UsageError,
  userPath,
} from "./options.ts";
import { Output } from "./output.ts";
import { ProgressBars } from "./progress.ts";
import { onSignals, SIGNAL_EXIT_CODES } from "./signals.ts";
import { type PageCommand, startWeb, type Web, WEB_HELP } from "./web.ts";

interface ChatCliOptions extends DiscoveryCliOptions {
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
  out: string;
  maxUpload?: number;
  web?: Address;
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
    .option("--out <dir>", "where files fetched with /get are saved", "./downloads")
    .option(
      "--max-upload <MiB/s>",
      "most MiB per second of files sent, to all peers together",
      parseRate,
    )
    .option("--web <[host:]port>", WEB_HELP, parseWebAddress)
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
  addDiscoveryOptions(program);
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
      apps: [chatApp, filesApp],
      targetConnections: options.connections,
      discovery: discoverySettings(options),
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
  // Files over the same connections; in the chat an offer is fetched only when /get asks.
  const share = createFileShare(peer, {
    out: userPath(options.out),
    cacheDir: `${peer.dataDir}/manifests`,
    wants: () => false,
    uploadRate: (options.maxUpload ?? 0) * 2 ** 20,
  });
  const files = new ChatFiles({ share, peer, out, listenHost: options.host, nickOf: me.nickOf });
  const bars = new ProgressBars(out);
  showTransfers(share, out, bars);
  const session: Session = { out, peer, chat, files, me, quit: () => done.resolve(0) };
  let prompt: readline.Interface | null = null;

  const crypto = aeadPath();
  out.event("ready", { port: peer.port, id: peer.id, nick: peer.nick, crypto });
  out.line(
    out.paint("1", `meshtalk chat on port ${peer.port} as ${peer.nick} (${shortId(peer.id)})`) +
      out.paint("2", `  crypto: ${crypto}`) +
      (options.input ? "  /help for commands" : ""),
  );

  let web: Web | null = null;
  if (options.web) {
    try {
      // What the page asks is done as if typed, its lines shown here as sent.
      const asked = (command: PageCommand) => perform(session, command, "page");
      web = await startWeb({ address: options.web, peer, chat, share, out, run: asked });
      session.sent = (message) => web?.sent(message);
    } catch (error) {
      out.error(`chat: ${(error as Error).message}`);
      share.close();
      chat.close();
      await peer.close();
      await out.flushed();
      return 1;
    }
  }

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
      // The line editor (Node's readline) is loaded only for a terminal: a piped or relaying
      // peer never holds it.
      const { startPrompt } = await import("./chat_prompt.ts");
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
    prompt.close();
    out.draw("\n");
  }
  bars.clear();
  await web?.close();
  share.close();
  chat.close();
  await peer.close();
  log("bye");
  await out.flushed();
  return code;
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
