/**
 * `deno task share [--port P] [--part FILE]... [--peer host:port]... [--get NAME|HASH]...`:
 * a file-sharing peer on the command line. It offers its parts, and fetches every announced file
 * it lacks (or those named by `--get`) from every peer that has it.
 *
 * @module
 */
import process from "node:process";
import { Command, InvalidArgumentError } from "./command.ts";
import {
  type Address,
  aeadPath,
  blake3Path,
  formatAddress,
  type Peer,
  startPeer,
} from "@meshtalk/core";
import {
  checkFileName,
  createFileShare,
  filesApp,
  type FileShare,
  FileShareError,
  type Manifest,
  parseLink,
  type ShareLink,
} from "@meshtalk/files";
import { formatBytes, shortId } from "./format.ts";
import {
  addDiscoveryOptions,
  type DiscoveryCliOptions,
  discoverySettings,
} from "./discovery_options.ts";
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
import {
  linkHost,
  names,
  notAnnounced,
  offerLink,
  pieceCount,
  showKept,
  showOffer,
  showTransfers,
  showWaiting,
} from "./files_view.ts";
import { onSignals } from "./signals.ts";
import { fileCommands, startWeb, type Web, WEB_HELP } from "./web.ts";

interface ShareCliOptions extends DiscoveryCliOptions {
  port: number;
  host: string;
  part: string[];
  peer: Address[];
  get: string[];
  out: string;
  dataDir?: string;
  nick?: string;
  expectPeer?: string;
  seedOnly: boolean;
  maxUpload?: number;
  /** The `--part`s and `--out`, absolute. */
  partPaths: string[];
  outPath: string;
  /** Share links to fetch (given as the argument or as `--get`): exactly what each names. */
  links: ShareLink[];
  exitWhenDone: boolean;
  json: boolean;
  web?: Address;
}

/** How long `--peer`s are tried before the share gives up as unreachable. */
const JOIN_TIMEOUT_MS = 10_000;
/** Within that time, each `--peer` is retried from 250 ms, doubling to 2 s. */
const JOIN_BACKOFF = { baseMs: 250, maxMs: 2000, jitter: 0 };
/** With `--exit-when-done`: quiet time after the last announcement before "done" is believed. */
const SETTLE_MS = 1000;
/** How often a `--get` that names nothing announced yet is said again. */
const WAITING_NOTICE_MS = 30_000;

/**
 * Runs the share command with `args`, called `name` in its help; resolves with the exit code.
 *
 * @example
 * ```ts
 * import { main } from "./share.ts";
 * console.log(await main(["--port", "70000"])); // 2: not a port
 * ```
 */
export async function main(args: string[], name = "share"): Promise<number> {
  const program = new Command(name)
    .description("meshtalk share: offer files, and fetch the ones peers announce, piece by piece")
    .option("--port <port>", "TCP port to listen on (0: any free port)", (v) => parsePort(v), 6881)
    .option("--host <address>", "address to listen on", "0.0.0.0")
    .argument("[link]", "a share link (meshtalk:…): fetch exactly that, save it, and exit")
    .option("--part <path>", "a file or folder to offer (repeatable)", collectText, [])
    .option("--peer <host:port>", "a peer to join through (repeatable)", collectAddress, [])
    .option("--expect-peer <id>", "the peer id the first --peer must prove, or be refused")
    .option("--get <name|hash|link>", "fetch only this file or folder (repeatable)", collectGet, [])
    .option("--out <dir>", "where fetched files are saved", "./downloads")
    .option("--data-dir <dir>", "where the identity and manifests are kept (default: per port)")
    .option("--nick <name>", "the name peers see")
    .option("--seed-only", "fetch nothing; only serve", false)
    .option("--max-upload <MiB/s>", "most MiB per second to send, to all peers together", parseRate)
    .option("--exit-when-done", "exit once every file fetched is saved", false)
    .option("--web <[host:]port>", WEB_HELP, parseWebAddress)
    .option("--json", "one JSON event per line on stdout; human text on stderr", false);
  addDiscoveryOptions(program);
  return await runCommand(program, args, async () => {
    const options = program.opts<ShareCliOptions>();
    // Paths are the user's, wherever `deno task` runs the command; messages show them as given.
    options.partPaths = options.part.map(userPath);
    options.outPath = userPath(options.out);
    if (options.dataDir !== undefined) options.dataDir = userPath(options.dataDir);
    if (program.args.length > 1) throw new UsageError(`unexpected argument "${program.args[1]}"`);
    // A link is read before anything is written: a bad one changes nothing on disk.
    const linkTexts = [...program.args, ...options.get.filter(isLink)];
    options.links = linkTexts.map(readLink);
    options.get = [
      ...options.get.filter((get) => !isLink(get)),
      ...options.links.map((l) => l.root),
    ];
    // A link fetches what it names, from whom it names, and is done once that is saved.
    if (options.links.length > 0) options.exitWhenDone = true;
    if (program.args.length > 0 && options.seedOnly) {
      throw new UsageError("--seed-only fetches nothing: it cannot be used with a link");
    }
    if (options.seedOnly && (options.get.length > 0 || options.exitWhenDone)) {
      throw new UsageError(
        "--seed-only fetches nothing: it cannot be used with --get or --exit-when-done",
      );
    }
    checkExpectPeer(options.expectPeer, options.peer);
    await checkParts(options.part, options.partPaths);
    if (!options.seedOnly) await checkOut(options.out, options.outPath);
    return options;
  }, run);
}

async function run(options: ShareCliOptions): Promise<number> {
  const out = new Output(options.json);
  const log = (line: string) => out.line(out.paint("2", `* ${line}`));
  let peer: Peer;
  try {
    peer = await startPeer({
      port: options.port,
      host: options.host,
      nick: options.nick,
      // One data dir per port, known once bound: two peers on port 0 get identities of their own.
      dataDir: options.dataDir ?? defaultDataDir,
      apps: [filesApp],
      discovery: discoverySettings(options),
      log,
    });
  } catch (error) {
    const message = error instanceof Deno.errors.AddrInUse
      ? `port ${options.port} is already in use; choose another`
      : (error as Error).message;
    out.error(`share: ${message}`);
    return 1;
  }
  const wanted = (manifest: Manifest) =>
    !options.seedOnly &&
    (options.get.length === 0 ||
      options.get.some((wanted) => names(wanted, manifest)));
  const share = createFileShare(peer, {
    out: options.outPath,
    cacheDir: `${peer.dataDir}/manifests`,
    wants: wanted,
    uploadRate: (options.maxUpload ?? 0) * 2 ** 20,
  });
  const bars = new ProgressBars(out);
  const done = Promise.withResolvers<number>();
  const savedRoots = new Set<string>();
  let lastAnnounce = performance.now();

  share.on("announce", ({ manifest, from, origin }) => {
    lastAnnounce = performance.now();
    out.event("announce", {
      name: manifest.name,
      size: manifest.size,
      hash: manifest.root,
      pieces: pieceCount(manifest),
      kind: manifest.files ? "folder" : "file",
      files: manifest.files?.length,
      from: { id: from.id, nick: from.nick },
      origin,
    });
    out.line(
      out.paint("2", `* ${from.nick} announced ${manifest.name} (${formatBytes(manifest.size)})`) +
        (wanted(manifest) ? "" : out.paint("2", " - not fetching it")),
    );
  });
  showTransfers(share, out, bars);
  // A connection that failed is said by the peer's log for people; programs get an event.
  peer.on("error", ({ address, message }) => out.event("error", { address, message }));
  share.on("saved", (file) => savedRoots.add(file.root));
  share.on("error", ({ error }) => {
    // A file that cannot be saved will not be done: waiting for it would be waiting forever.
    if (options.exitWhenDone && error instanceof FileShareError && error.code === "unwritable") {
      quit(1);
    }
  });

  const quit = (code: number) => done.resolve(code);
  let interrupted = false;
  const signals = onSignals((code) => {
    interrupted = true;
    quit(code);
  });

  let code: number;
  let web: Web | null = null;
  try {
    const host = linkHost(options.host);
    for (const [i, path] of options.partPaths.entries()) {
      log(`hashing ${options.part[i]}`);
      const manifest = await share.offer(path);
      showOffer(out, manifest, offerLink(manifest, { host, port: peer.port }, peer.id));
    }
    const [crypto, blake3] = [aeadPath(), await blake3Path()];
    out.event("ready", { port: peer.port, id: peer.id, crypto, blake3 });
    out.line(
      out.paint(
        "1",
        `meshtalk share on port ${peer.port} as ${peer.nick} (${shortId(peer.id)})`,
      ) +
        (options.seedOnly ? ", seeding only" : `, saving to ${options.out}`) +
        out.paint("2", `  crypto: ${crypto}, blake3: ${blake3}`),
    );
    if (options.web) {
      const asked = fileCommands(share, log);
      web = await startWeb({ address: options.web, peer, share, out, run: asked });
    }
    if (options.peer.length > 0) {
      join(peer, options.peer, {
        expectPeer: options.expectPeer,
        backoff: JOIN_BACKOFF,
        giveUpAfterMs: JOIN_TIMEOUT_MS,
      }).then((outcome) => {
        if (outcome === "joined") return;
        const tried = options.peer.map(formatAddress);
        out.error(
          outcome === "wrong-peer"
            ? `share: refused ${tried[0]}: it is not peer ${options.expectPeer}`
            : `share: no peers reachable (tried ${tried.join(", ")})`,
        );
        quit(1);
      });
    }
    for (const link of options.links) {
      // Dialed as the link says, pinned to its id; the fetch starts once the peer announces it.
      share.fetchLink(link).catch((error) => {
        out.error(`share: ${(error as Error).message}`);
        quit(1);
      });
    }
    const doneCheck = options.exitWhenDone
      ? setInterval(() => {
        if (isDone(share, options, savedRoots, lastAnnounce)) quit(0);
      }, 100)
      : undefined;
    // A --get that names nothing announced is said at once, and again now and then.
    const named = options.get.filter((get) => !options.links.some((link) => link.root === get));
    const tellWaiting = () => showWaiting(out, notAnnounced(named, share.files()));
    tellWaiting();
    const waitingNotice = setInterval(tellWaiting, WAITING_NOTICE_MS);
    code = await done.promise;
    clearInterval(doneCheck);
    clearInterval(waitingNotice);
  } catch (error) {
    out.error(`share: ${(error as Error).message}`);
    code = error instanceof FileShareError ? 2 : 1;
  }
  signals.remove();
  bars.clear();
  await web?.close();
  if (interrupted) showKept(out, share.files());
  share.close();
  await peer.close();
  out.event("stats", processStats());
  await out.flushed();
  return code;
}

/** CPU seconds and peak RSS of this process (Node's API: no permission needed, unlike /proc). */
function processStats(): { cpuSeconds: number; peakRssMiB: number } {
  const { user, system } = process.cpuUsage(); // µs
  const peakRssMiB = process.resourceUsage().maxRSS / 1024; // KiB
  return {
    cpuSeconds: Math.round((user + system) / 1e4) / 100,
    peakRssMiB: Math.round(peakRssMiB * 10) / 10,
  };
}

/** With `--exit-when-done`: every file asked for is saved, and nothing is still coming. */
function isDone(
  share: FileShare,
  options: ShareCliOptions,
  savedRoots: Set<string>,
  lastAnnounce: number,
): boolean {
  const files = share.files();
  if (files.some((f) => f.state === "downloading" || f.state === "checking")) return false;
  if (options.get.length > 0) {
    return options.get.every((g) => files.some((f) => names(g, f) && f.state === "seeding"));
  }
  return savedRoots.size > 0 && performance.now() - lastAnnounce > SETTLE_MS;
}

async function checkParts(parts: string[], paths: string[]): Promise<void> {
  for (const [i, path] of parts.entries()) {
    try {
      const info = await Deno.stat(paths[i]);
      if (info.isDirectory) {
        for await (const _ of Deno.readDir(paths[i])) break; // readable
        continue;
      }
      if (!info.isFile) throw new Error("not a regular file or folder");
      (await Deno.open(paths[i], { read: true })).close();
    } catch (error) {
      const reason = error instanceof Deno.errors.NotFound
        ? "no such file"
        : (error as Error).message;
      throw new UsageError(`cannot read ${path}: ${reason}`);
    }
  }
}

async function checkOut(given: string, dir: string): Promise<void> {
  try {
    await Deno.mkdir(dir, { recursive: true });
    const probe = `${dir}/.meshtalk-write-test-${Deno.pid}`;
    await Deno.writeFile(probe, new Uint8Array(0));
    await Deno.remove(probe);
  } catch (error) {
    throw new UsageError(
      `cannot write to the output directory ${given}: ${(error as Error).message}`,
    );
  }
}

function collectText(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function isLink(text: string): boolean {
  return /^meshtalk:/i.test(text.trim());
}

function readLink(text: string): ShareLink {
  try {
    return parseLink(text);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

function collectGet(value: string, previous: string[]): string[] {
  if (!isLink(value) && !/^[0-9a-f]{8,64}$/.test(value)) {
    try {
      checkFileName(value);
    } catch (error) {
      throw new InvalidArgumentError(
        `--get takes a file name or a root hash: ${(error as Error).message}`,
      );
    }
  }
  return [...previous, value];
}

if (import.meta.main) Deno.exit(await main(Deno.args));
