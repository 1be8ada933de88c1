/**
 * `deno task share [--port P] [--part FILE]... [--peer host:port]... [--get NAME|HASH]...`:
 * a file-sharing peer on the command line. It offers its parts, and fetches every announced file
 * it lacks (or those named by `--get`) from every peer that has it.
 *
 * @module
 */
import { Command, InvalidArgumentError } from "commander";
import { type ConnectError, type Peer, startPeer } from "@meshtalk/core";
import {
  checkFileName,
  createFileShare,
  filesApp,
  type FileShare,
  FileShareError,
  type FileStatus,
  type Manifest,
} from "@meshtalk/files";
import {
  defaultDataDir,
  Output,
  parseHostPort,
  parsePort,
  UsageError,
  userPath,
} from "./options.ts";

interface ShareCliOptions {
  port: number;
  host: string;
  part: string[];
  peer: { host: string; port: number }[];
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
  exitWhenDone: boolean;
  json: boolean;
}

/** How long `--peer`s are tried before the share gives up as unreachable. */
const JOIN_TIMEOUT_MS = 10_000;
/** With `--exit-when-done`: quiet time after the last announcement before "done" is believed. */
const SETTLE_MS = 1000;

/** Runs the share command with `args`; resolves with the exit code. */
export async function main(args: string[]): Promise<number> {
  const program = new Command("share")
    .description("meshtalk share: offer files, and fetch the ones peers announce, piece by piece")
    .option("--port <port>", "TCP port to listen on (0: any free port)", (v) => parsePort(v), 6881)
    .option("--host <address>", "address to listen on", "0.0.0.0")
    .option("--part <file>", "a file to offer (repeatable)", collectText, [])
    .option("--peer <host:port>", "a peer to join through (repeatable)", collectPeer, [])
    .option("--expect-peer <id>", "the peer id the first --peer must prove, or be refused")
    .option("--get <name|hash>", "fetch only this file (repeatable)", collectGet, [])
    .option("--out <dir>", "where fetched files are saved", "./downloads")
    .option("--data-dir <dir>", "where the identity and manifests are kept (default: per port)")
    .option("--nick <name>", "the name peers see")
    .option("--seed-only", "fetch nothing; only serve", false)
    .option("--max-upload <MiB/s>", "most MiB per second to send, to all peers together", rate)
    .option("--exit-when-done", "exit once every file fetched is saved", false)
    .option("--json", "one JSON event per line on stdout; human text on stderr", false)
    .exitOverride()
    .configureOutput({ writeErr: (text) => Deno.stderr.writeSync(new TextEncoder().encode(text)) });
  let options: ShareCliOptions;
  try {
    program.parse(args, { from: "user" });
    options = program.opts<ShareCliOptions>();
    // Paths are the user's, wherever `deno task` runs the command; messages show them as given.
    options.partPaths = options.part.map(userPath);
    options.outPath = userPath(options.out);
    if (options.dataDir !== undefined) options.dataDir = userPath(options.dataDir);
    if (program.args.length > 0) throw new UsageError(`unexpected argument "${program.args[0]}"`);
    if (options.seedOnly && (options.get.length > 0 || options.exitWhenDone)) {
      throw new UsageError(
        "--seed-only fetches nothing: it cannot be used with --get or --exit-when-done",
      );
    }
    if (options.expectPeer !== undefined) {
      if (!/^[0-9a-f]{32}$/.test(options.expectPeer)) {
        throw new UsageError(
          `--expect-peer needs a full peer id (32 lowercase hex characters), not "${options.expectPeer}"`,
        );
      }
      if (options.peer.length === 0) throw new UsageError("--expect-peer needs a --peer to check");
    }
    await checkParts(options.part, options.partPaths);
    if (!options.seedOnly) await checkOut(options.out, options.outPath);
  } catch (error) {
    const code = (error as { exitCode?: number }).exitCode;
    if (code === 0) return 0; // --help
    if (error instanceof UsageError) console.error(`share: ${error.message}`);
    return 2;
  }
  return await run(options);
}

async function run(options: ShareCliOptions): Promise<number> {
  const out = new Output(options.json);
  const dataDir = options.dataDir ?? defaultDataDir(options.port);
  let peer: Peer;
  try {
    peer = await startPeer({
      port: options.port,
      host: options.host,
      nick: options.nick,
      dataDir,
      apps: [filesApp],
      log: (line) => out.line(out.paint("2", `* ${line}`)),
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
      options.get.some((g) => g === manifest.name || manifest.root.startsWith(g)));
  const share = createFileShare(peer, {
    out: options.outPath,
    cacheDir: `${dataDir}/manifests`,
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
      pieces: manifest.pieces.length / 32,
      from: { id: from.id, nick: from.nick },
      origin,
    });
    out.line(
      out.paint("2", `* ${from.nick} announced ${manifest.name} (${mib(manifest.size)})`) +
        (wanted(manifest) ? "" : out.paint("2", " - not fetching it")),
    );
  });
  share.on("progress", (status) => {
    out.event("progress", progressEvent(status));
    bars.update(status);
  });
  share.on("saved", (file) => {
    savedRoots.add(file.root);
    bars.remove(file.root);
    out.event("saved", {
      name: file.name,
      path: file.path,
      hash: file.root,
      bytes: file.bytes,
      seconds: round(file.seconds),
      fetched: file.fetched,
      resumed: file.resumed,
    });
    out.line(
      file.fetched === 0 && file.resumed === file.bytes
        ? out.paint("32", `have ${file.name}`) +
          ` already (${mib(file.bytes)}, every piece verified) at ${file.path}`
        : out.paint("32", `saved ${file.name}`) +
          ` (${mib(file.bytes)}, every piece verified) to ${file.path} in ${
            round(file.seconds)
          } s` +
          (file.resumed > 0 ? `, ${mib(file.resumed)} of it resumed from disk` : ""),
    );
  });
  share.on("piece-rejected", (rejected) => {
    out.event("piece-rejected", {
      from: { id: rejected.from.id, nick: rejected.from.nick },
      name: rejected.name,
      piece: rejected.piece,
      reason: rejected.reason,
    });
    out.line(
      out.paint(
        "33",
        `* rejected piece ${rejected.piece} of ${rejected.name} from ${rejected.from.nick}: ${rejected.reason}`,
      ),
    );
  });
  share.on("error", ({ message, error }) => {
    out.error(`share: ${message}`);
    // A file that cannot be saved will not be done: waiting for it would be waiting forever.
    if (options.exitWhenDone && error instanceof FileShareError && error.code === "unwritable") {
      quit(1);
    }
  });

  const quit = (code: number) => done.resolve(code);
  const onSignal = () => quit(0);
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
  for (const signal of signals) Deno.addSignalListener(signal, onSignal);

  let code: number;
  try {
    for (const [i, path] of options.partPaths.entries()) {
      out.line(out.paint("2", `* hashing ${options.part[i]}`));
      const manifest = await share.offer(path);
      out.event("offer", { name: manifest.name, size: manifest.size, hash: manifest.root });
      out.line(
        `offering ${manifest.name} (${mib(manifest.size)}, ${
          manifest.pieces.length / 32
        } pieces) as ${manifest.root.slice(0, 16)}`,
      );
    }
    out.event("ready", { port: peer.port, id: peer.id });
    out.line(
      out.paint(
        "1",
        `meshtalk share on port ${peer.port} as ${peer.nick} (${peer.id.slice(0, 8)})`,
      ) +
        (options.seedOnly ? ", seeding only" : `, saving to ${options.out}`),
    );
    if (options.peer.length > 0) {
      joinAny(peer, options.peer, options.expectPeer).then((joined) => {
        if (joined === true) return;
        const tried = options.peer.map((p) => `${p.host}:${p.port}`).join(", ");
        out.error(
          joined === "wrong-peer"
            ? `share: refused ${tried.split(", ")[0]}: it is not peer ${options.expectPeer}`
            : `share: no peers reachable (tried ${tried})`,
        );
        quit(1);
      });
    }
    const doneCheck = options.exitWhenDone
      ? setInterval(() => {
        if (isDone(share, options, savedRoots, lastAnnounce)) quit(0);
      }, 100)
      : undefined;
    code = await done.promise;
    clearInterval(doneCheck);
  } catch (error) {
    out.error(`share: ${(error as Error).message}`);
    code = error instanceof FileShareError ? 2 : 1;
  }
  for (const signal of signals) Deno.removeSignalListener(signal, onSignal);
  bars.clear();
  share.close();
  await peer.close();
  out.event("stats", processStats());
  await out.flushed();
  return code;
}

/** CPU seconds and peak RSS of this process, where Linux's /proc tells them. */
function processStats(): { cpuSeconds?: number; peakRssMiB?: number } {
  try {
    // Fields 14 and 15 of /proc/self/stat, after the parenthesised command name: user and
    // system time in clock ticks (100 a second on Linux).
    const fields = Deno.readTextFileSync("/proc/self/stat").split(") ")[1].split(" ");
    const cpuSeconds = (Number(fields[11]) + Number(fields[12])) / 100;
    const status = Deno.readTextFileSync("/proc/self/status");
    const peakRssMiB = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
    return { cpuSeconds, peakRssMiB: Math.round(peakRssMiB * 10) / 10 };
  } catch {
    return {};
  }
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
    return options.get.every((g) =>
      files.some((f) => (f.name === g || f.root.startsWith(g)) && f.state === "seeding")
    );
  }
  return savedRoots.size > 0 && performance.now() - lastAnnounce > SETTLE_MS;
}

/**
 * Dials every peer given, retrying each for a while; resolves true once any answers. The first
 * must prove to be `expectPeer`, when given: if it is someone else, it is not retried, and when
 * no other answers either, this resolves "wrong-peer".
 */
function joinAny(
  peer: Peer,
  peers: { host: string; port: number }[],
  expectPeer?: string,
): Promise<true | false | "wrong-peer"> {
  const deadline = performance.now() + JOIN_TIMEOUT_MS;
  return new Promise((resolve) => {
    let failed = 0;
    let wrongPeer = false;
    for (const [i, { host, port }] of peers.entries()) {
      const expected = i === 0 ? expectPeer : undefined;
      // A pinned address is not handed to upkeep, which would dial it unpinned.
      if (expected === undefined) peer.addAddress(host, port);
      let delay = 250;
      const attempt = () =>
        peer.connect(host, port, { expectPeer: expected }).then(() => resolve(true), (
          error: ConnectError,
        ) => {
          wrongPeer ||= error.reason === "wrong-peer";
          if (
            error.reason === "closed" || error.reason === "wrong-peer" ||
            performance.now() + delay > deadline
          ) {
            if (++failed === peers.length) {
              resolve(peer.peers().length > 0 ? true : wrongPeer ? "wrong-peer" : false);
            }
            return;
          }
          setTimeout(attempt, delay);
          delay = Math.min(delay * 2, 2000);
        });
      attempt();
    }
  });
}

/** One line per file being fetched, redrawn in place on a terminal; log lines elsewhere. */
class ProgressBars {
  readonly #out: Output;
  readonly #files = new Map<string, FileStatus>();
  readonly #tty: boolean;
  #drawn = 0;
  #lastLog = 0;

  constructor(out: Output) {
    this.#out = out;
    this.#tty = !out.json && Deno.stdout.isTerminal();
    if (this.#tty) out.aroundWrites(() => this.#erase(), () => this.#draw());
  }

  update(status: FileStatus): void {
    if (status.state !== "downloading") return;
    this.#files.set(status.root, status);
    if (this.#tty) {
      this.#erase();
      this.#draw();
    } else if (!this.#out.json && performance.now() - this.#lastLog > 2000) {
      this.#lastLog = performance.now();
      for (const file of this.#files.values()) this.#out.line(describe(file));
    }
  }

  remove(root: string): void {
    this.#files.delete(root);
  }

  clear(): void {
    this.#erase();
    this.#files.clear();
  }

  #erase(): void {
    if (this.#drawn === 0) return;
    write(`\x1b[${this.#drawn}A\x1b[0J`);
    this.#drawn = 0;
  }

  #draw(): void {
    const width = 24;
    let text = "";
    for (const file of this.#files.values()) {
      const filled = Math.round((file.bytes / Math.max(1, file.size)) * width);
      text += `[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${describe(file)}\n`;
    }
    write(text);
    this.#drawn = this.#files.size;
  }
}

function describe(file: FileStatus): string {
  const percent = file.size === 0 ? 100 : Math.floor((file.bytes / file.size) * 100);
  const eta = file.rate > 0 ? `${Math.ceil((file.size - file.bytes) / file.rate)} s` : "?";
  return `${file.name}: ${percent}% (${mib(file.bytes)} of ${mib(file.size)}) ` +
    `${mib(file.rate)}/s from ${file.sources} peer${file.sources === 1 ? "" : "s"}, ETA ${eta}`;
}

function progressEvent(status: FileStatus): Record<string, unknown> {
  return {
    name: status.name,
    hash: status.root,
    bytes: status.bytes,
    size: status.size,
    pieces: status.pieces,
    have: status.have,
    rate: Math.round(status.rate),
    peers: status.sources,
  };
}

async function checkParts(parts: string[], paths: string[]): Promise<void> {
  for (const [i, path] of parts.entries()) {
    try {
      const info = await Deno.stat(paths[i]);
      if (!info.isFile) throw new Error("not a regular file");
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

function rate(value: string): number {
  const n = Number(value);
  if (!(n > 0) || !Number.isFinite(n)) {
    throw new InvalidArgumentError(`--max-upload must be a positive number, got "${value}"`);
  }
  return n;
}

function collectText(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function collectPeer(value: string, previous: { host: string; port: number }[]) {
  return [...previous, parseHostPort(value)];
}

function collectGet(value: string, previous: string[]): string[] {
  if (!/^[0-9a-f]{8,64}$/.test(value)) {
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

function mib(bytes: number): string {
  return bytes < 2 ** 20
    ? `${(bytes / 1024).toFixed(1)} KiB`
    : `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

function round(seconds: number): number {
  return Math.round(seconds * 100) / 100;
}

function write(text: string): void {
  const bytes = new TextEncoder().encode(text);
  let at = 0;
  while (at < bytes.length) at += Deno.stdout.writeSync(bytes.subarray(at));
}

if (import.meta.main) Deno.exit(await main(Deno.args));
