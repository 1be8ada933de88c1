/**
 * `deno task chat <port> [<peer-host> <peer-port>]`: a chat peer on the command line.
 *
 * @module
 */
import { Command, Option } from "commander";
import * as readline from "node:readline";
import process from "node:process";
import { type ConnectError, type Peer, startPeer } from "@meshtalk/core";
import { type Chat, chatApp, ChatError, type ChatMessage, createChat } from "@meshtalk/chat";
import {
  defaultDataDir,
  Output,
  parseHostPort,
  parsePort,
  UsageError,
  userPath,
} from "./options.ts";

const HELP = `commands:
  <text>                      send a line to everyone
  /connect <host> <port> [id] connect to a peer (with id: only if it proves that id)
  /disconnect <port | host:port | id>   drop a neighbour (it is not redialed)
  /peers                      list neighbours: id, nickname, address, round-trip time
  /nick <name>                change your nickname
  /msg <nick | id> <text>     a direct message, shown only to that peer
  /history                    show recent messages
  /stats                      messages sent, shown, relayed, duplicates and forgeries dropped
  /help                       this list
  /quit                       leave (also Ctrl-D)`;

interface ChatCliOptions {
  peer: { host: string; port: number }[];
  host: string;
  nick?: string;
  dataDir?: string;
  json: boolean;
  input: boolean;
  connections: number;
  expectPeer?: string;
}

/** Runs the chat command with `args`; resolves with the exit code. */
export async function main(args: string[]): Promise<number> {
  const program = new Command("chat")
    .description("meshtalk chat: every process is a peer; lines you type reach every peer once")
    .argument("<port>", "TCP port to listen on (0: any free port)", (v) => parsePort(v))
    .argument("[peer-host]", "a peer to join through")
    .argument("[peer-port]", "its port", (v) => parsePort(v, "peer port"))
    .option("--peer <host:port>", "another peer to join through (repeatable)", collect, [])
    .option("--host <address>", "address to listen on", "0.0.0.0")
    .option("--nick <name>", "your nickname")
    .option("--data-dir <dir>", "where your identity is kept (default: one per port)")
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
    .addHelpText("after", `\n${HELP}`)
    .exitOverride()
    .configureOutput({ writeErr: (text) => Deno.stderr.writeSync(new TextEncoder().encode(text)) });

  let port: number;
  let options: ChatCliOptions;
  try {
    program.parse(args, { from: "user" });
    const [listenPort, peerHost, peerPort] = program.processedArgs as [number, string?, number?];
    options = program.opts<ChatCliOptions>();
    port = listenPort;
    if (peerHost !== undefined) {
      if (peerPort === undefined) throw new UsageError(`missing the port of peer "${peerHost}"`);
      options.peer.unshift({ host: peerHost, port: peerPort });
    }
    if (options.expectPeer !== undefined) {
      if (!/^[0-9a-f]{32}$/.test(options.expectPeer)) {
        throw new UsageError(
          `--expect-peer needs a full peer id (32 lowercase hex characters), not "${options.expectPeer}"`,
        );
      }
      if (options.peer.length === 0) {
        throw new UsageError("--expect-peer needs a peer to join through");
      }
    }
  } catch (error) {
    const code = (error as { exitCode?: number }).exitCode;
    if (code === 0) return 0; // --help
    if (error instanceof UsageError) console.error(`chat: ${error.message}`);
    return 2;
  }
  return await run(port, options);
}

async function run(port: number, options: ChatCliOptions): Promise<number> {
  const out = new Output(options.json);
  let peer: Peer;
  try {
    peer = await startPeer({
      port,
      host: options.host,
      nick: options.nick,
      dataDir: options.dataDir !== undefined ? userPath(options.dataDir) : defaultDataDir(port),
      apps: [chatApp],
      targetConnections: options.connections,
      log: (line) => out.line(out.paint("2", `* ${line}`)),
    });
  } catch (error) {
    const message = error instanceof Deno.errors.AddrInUse
      ? `port ${port} is already in use; choose another`
      : (error as Error).message;
    out.error(`chat: ${message}`);
    return 1;
  }
  const chat = createChat(peer, { log: (line) => out.line(out.paint("2", `* ${line}`)) });
  const done = Promise.withResolvers<void>();
  let prompt: readline.Interface | null = null;

  out.event("ready", { port: peer.port, id: peer.id, nick: peer.nick });
  out.line(
    out.paint("1", `meshtalk chat on port ${peer.port} as ${peer.nick} (${peer.id.slice(0, 8)})`) +
      (options.input ? "  /help for commands" : ""),
  );

  chat.onMessage((message) => {
    out.event(message.direct ? "direct" : "message", messageEvent(message));
    if (!out.json) out.line(formatMessage(out, message));
  });
  peer.on("peer:connected", (info) => {
    out.event("peer-connected", { id: info.id, nick: info.nick, address: info.address });
    out.line(
      out.paint(
        "2",
        `* ${info.nick} (${info.id.slice(0, 8)}) joined from ${info.address ?? info.remoteAddress}`,
      ),
    );
  });
  let leaving = false;
  peer.on("peer:disconnected", ({ peer: info, reason }) => {
    if (leaving) return;
    out.event("peer-disconnected", { id: info.id, nick: info.nick, address: info.address, reason });
    out.line(out.paint("2", `* ${info.nick} (${info.id.slice(0, 8)}) left: ${reason}`));
  });

  const retries = new Set<ReturnType<typeof setTimeout>>();
  options.peer.forEach(({ host, port: peerPort }, i) => {
    const expectPeer = i === 0 ? options.expectPeer : undefined;
    // A pinned peer is dialed only with its pin: upkeep would dial the address unchecked.
    if (expectPeer === undefined) peer.addAddress(host, peerPort);
    joinWithRetries(out, peer, host, peerPort, retries, expectPeer);
  });

  const quit = () => done.resolve();
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
  for (const signal of signals) Deno.addSignalListener(signal, quit);

  if (options.input) {
    if (Deno.stdin.isTerminal() && !options.json) {
      prompt = interactive(out, peer, chat, quit);
    } else {
      // A script's lines should reach someone: wait for the first neighbour when told whom to
      // join (for at most 10 s), rather than broadcast the first lines to nobody.
      const joined = options.peer.length > 0 ? firstNeighbour(peer, 10_000) : Promise.resolve();
      readLines(async (line) => {
        await joined;
        await command(out, peer, chat, line, quit);
        // Read on only as fast as the network takes the lines: piped input can be endless.
        await chat.drained(256 * 1024);
      }).then(quit);
    }
  }

  await done.promise;
  // Every line written (at EOF, or before a /quit) goes out before the peer closes: lines still
  // waiting for their signature, and those queued for slow neighbours, for at most 5 s.
  await withinMs(chat.drained(), 5000);
  leaving = true;
  out.event("stats", { ...chat.stats() });
  for (const signal of signals) Deno.removeSignalListener(signal, quit);
  for (const timer of retries) clearTimeout(timer);
  if (prompt) {
    out.aroundWrites(() => {}, () => {}); // no prompt to redraw from here on
    prompt.close();
    Deno.stdout.writeSync(new TextEncoder().encode("\n"));
  }
  chat.close();
  await peer.close();
  out.line(out.paint("2", "* bye"));
  await out.flushed();
  return 0;
}

function interactive(out: Output, peer: Peer, chat: Chat, quit: () => void): readline.Interface {
  const rl = readline.createInterface({
    input: process.stdin,
    output: process.stdout,
    prompt: "> ",
  });
  // An incoming line clears the prompt, prints, and redraws the prompt with what was typed.
  out.aroundWrites(() => {
    readline.clearLine(process.stdout, 0);
    readline.cursorTo(process.stdout, 0);
  }, () => rl.prompt(true));
  let open = true;
  rl.on("line", async (line) => {
    await command(out, peer, chat, line, quit);
    if (open) rl.prompt(); // not after /quit: the prompt is closing
  });
  rl.on("close", () => {
    open = false;
    quit();
  });
  rl.prompt();
  return rl;
}

/**
 * Joins through a peer given on the command line, retrying with backoff (1 s doubling to 30 s)
 * until it answers once: also when `--connections 0` keeps upkeep from dialing it.
 */
function joinWithRetries(
  out: Output,
  peer: Peer,
  host: string,
  port: number,
  timers: Set<ReturnType<typeof setTimeout>>,
  expectPeer?: string,
): void {
  let delay = 1000;
  const attempt = () =>
    peer.connect(host, port, { expectPeer }).catch((error: ConnectError) => {
      if (error.reason === "closed" || error.reason === "self") return;
      if (error.reason === "wrong-peer") {
        // Not retried: the address answers, with someone else.
        out.error(`chat: refused ${host}:${port}: ${error.message}`);
        return;
      }
      if (delay === 1000) out.error(`chat: ${error.message}; retrying in the background`);
      const timer = setTimeout(() => {
        timers.delete(timer);
        attempt();
      }, delay);
      timers.add(timer);
      delay = Math.min(delay * 2, 30_000);
    });
  attempt();
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

async function command(
  out: Output,
  peer: Peer,
  chat: Chat,
  line: string,
  quit: () => void,
): Promise<void> {
  const text = line.trim();
  if (!text) return;
  if (!text.startsWith("/")) {
    try {
      const sent = chat.say(text);
      if (!out.json && !Deno.stdin.isTerminal()) out.line(formatMessage(out, sent));
    } catch (error) {
      out.error((error as Error).message);
    }
    return;
  }
  const [name, ...rest] = text.split(/\s+/);
  try {
    switch (name) {
      case "/connect": {
        if (rest.length === 1 && rest[0].includes(":")) {
          rest.splice(0, 1, ...rest[0].split(/:(?=\d+$)/));
        }
        if (rest.length !== 2 && rest.length !== 3) {
          throw new ChatError("usage: /connect <host> <port> [expected peer id]");
        }
        const info = await peer.connect(rest[0], parsePort(rest[1]), { expectPeer: rest[2] });
        out.line(
          out.paint("2", `* connected to ${info.nick} (${info.id.slice(0, 8)}) at ${info.address}`),
        );
        break;
      }
      case "/disconnect": {
        if (rest.length !== 1) {
          throw new ChatError("usage: /disconnect <port | host:port | peer-id>");
        }
        const gone = await peer.disconnect(rest[0]);
        if (!gone) throw new ChatError(`no neighbour matches "${rest[0]}"; see /peers`);
        out.line(
          out.paint(
            "2",
            `* disconnected from ${gone.nick} (${gone.id.slice(0, 8)}); it will not be redialed`,
          ),
        );
        break;
      }
      case "/peers": {
        const nicks = chat.knownPeers(); // nicknames seen on messages are the newest
        const list = peer.peers().map((info) => ({
          ...info,
          nick: nicks.get(info.id) ?? info.nick,
        }));
        out.event("peers", {
          peers: list.map(({ id, nick, address, rttMs }) => ({ id, nick, address, rttMs })),
        });
        if (list.length === 0) out.line("no neighbours yet: /connect <host> <port>");
        for (const info of list) {
          const rtt = info.rttMs === null ? "-" : `${info.rttMs.toFixed(2)} ms`;
          out.line(
            `${info.id.slice(0, 8)}  ${info.nick.padEnd(16)} ${
              (info.address ?? info.remoteAddress).padEnd(22)
            } ${rtt}`,
          );
        }
        break;
      }
      case "/nick": {
        if (rest.length !== 1) throw new ChatError("usage: /nick <name>");
        chat.setNick(rest[0]);
        out.line(out.paint("2", `* you are now ${chat.nick}`));
        break;
      }
      case "/msg": {
        if (rest.length < 2) throw new ChatError("usage: /msg <nick | id> <text>");
        const sent = chat.direct(rest[0], rest.slice(1).join(" "));
        if (!out.json) out.line(formatMessage(out, sent));
        break;
      }
      case "/stats": {
        const stats = chat.stats();
        out.event("stats", { ...stats });
        if (!out.json) {
          out.line(Object.entries(stats).map(([name, value]) => `${name} ${value}`).join(", "));
        }
        break;
      }
      case "/history":
        for (const message of chat.history()) out.line(formatMessage(out, message));
        break;
      case "/help":
        out.line(HELP);
        break;
      case "/quit":
        quit();
        break;
      default:
        throw new ChatError(`unknown command ${name}; /help lists them`);
    }
  } catch (error) {
    out.error((error as Error).message);
  }
}

function messageEvent(message: ChatMessage): Record<string, unknown> {
  return {
    id: message.id,
    from: message.from,
    text: message.text,
    hops: message.hops,
    sentAt: message.sentAt,
    history: message.history,
  };
}

function formatMessage(out: Output, message: ChatMessage): string {
  const time = new Date(message.sentAt).toTimeString().slice(0, 8);
  const hue = 31 + (parseInt(message.from.id.slice(0, 2), 16) % 6);
  const who = out.paint(`1;${hue}`, message.from.nick) +
    out.paint("2", ` (${message.from.id.slice(0, 8)})`);
  const tags = (message.history ? out.paint("2", "[history] ") : "") +
    (message.direct ? out.paint("35", "[direct] ") : "");
  return `${out.paint("2", time)} ${tags}${who}: ${message.text}`;
}

function collect(value: string, previous: { host: string; port: number }[]) {
  return [...previous, parseHostPort(value)];
}

function connectionCount(value: string, what: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 1000) {
    throw new UsageError(`${what} must be a number from 0 to 1000`);
  }
  return n;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
