// The files benchmark: one file from one seeder, then from four, to one downloader, each a real
// `share` process on loopback; every piece verified. Against a plain Deno TCP copy of the same
// bytes, and against WebTorrent moving the same number of MiB from one seeder process to one
// downloader process (../shared/peers-bench, see bench/peers.ts), in the same run. Reports MiB/s,
// the ratios, and CPU seconds and peak RSS of each side (from the processes' `stats` events), as a
// table and in bench/results/files.json (with the CPU model and WebTorrent's raw records).
//
// Environment (all optional): BENCH_FILES_MIB, the file's size (default 1024 MiB);
// BENCH_FILES_ROUNDS, rounds of every transfer, the table showing medians (default 3);
// BENCH_FILES_DIR, where the files go instead of /dev/shm (to move a file larger than memory);
// FILES_BENCH_V8_FLAGS, V8 flags instead of those of `deno task share`; BENCH_VERBOSE=1, the
// processes' stderr; BENCH_PEERS_DIR, the installed peers-bench (default /tmp/peers-bench);
// BENCH_SKIP_PEERS=1, no WebTorrent runs.
import { plainCopy } from "./baseline.ts";
import { findPeersBench, webTorrent, type WebTorrentRecord } from "./peers.ts";
import { cpuSeconds } from "./proc_stats.ts";
import { figure, header, markdownTable, median, type Row, writeResults } from "./report.ts";

const MIB = Number(Deno.env.get("BENCH_FILES_MIB") ?? 1024);
const share = new URL("../apps/cli/share.ts", import.meta.url).pathname;
const V8_FLAGS = `--v8-flags=${Deno.env.get("FILES_BENCH_V8_FLAGS") ?? "--max-semi-space-size=1"}`;

type Event = Record<string, unknown> & { event: string };

/** Share processes not yet exited: killed if the benchmark fails part way. */
const running = new Set<Deno.ChildProcess>();

/** A `share` process, its JSON events collected. */
class ShareProcess {
  readonly events: Event[] = [];
  readonly child: Deno.ChildProcess;
  readonly #pump: Promise<void>;

  /** With `portable`, no `--allow-ffi`: Web Crypto's AES-GCM and hash-wasm's BLAKE3. */
  constructor(args: string[], portable = false) {
    const permissions = portable
      ? ["--allow-net", "--allow-read", "--allow-write", "--allow-env", "--allow-sys"]
      : ["-A"];
    const child = this.child = new Deno.Command(Deno.execPath(), {
      // The V8 flags of `deno task share`: what a user runs is what is measured.
      // No LAN discovery: the peers are the ones each run joins, as in every earlier run.
      args: ["run", ...permissions, V8_FLAGS, share, "--json", "--no-discovery", ...args],
      stdin: "null",
      stdout: "piped",
      stderr: Deno.env.get("BENCH_VERBOSE") ? "inherit" : "null",
    }).spawn();
    running.add(child);
    child.status.then(() => running.delete(child));
    this.#pump = (async () => {
      let pending = "";
      for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
        pending += chunk;
        let newline: number;
        while ((newline = pending.indexOf("\n")) >= 0) {
          const line = pending.slice(0, newline);
          pending = pending.slice(newline + 1);
          if (line.startsWith("{")) this.events.push(JSON.parse(line));
        }
      }
    })();
  }

  async waitFor(name: string, timeoutMs = 600_000): Promise<Event> {
    const deadline = performance.now() + timeoutMs;
    while (performance.now() < deadline) {
      const found = this.events.find((e) => e.event === name);
      if (found) return found;
      // It exited (a process that fails says so on stderr: BENCH_VERBOSE=1 shows it).
      if (!running.has(this.child) || this.events.some((e) => e.event === "stats")) {
        await this.#pump;
        if (this.events.find((e) => e.event === name)) continue;
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new Error(`no ${name} event; got ${JSON.stringify(this.events.slice(-5))}`);
  }

  /** CPU seconds it has used so far. */
  cpuSeconds(): number {
    return cpuSeconds(this.child.pid);
  }

  /** Waits for it to exit by itself (`--exit-when-done`); returns its `stats` event. */
  async exited(): Promise<Event> {
    await this.child.status;
    await this.#pump;
    return this.events.find((e) => e.event === "stats") ?? { event: "stats" };
  }

  /** Stops it (SIGTERM, if still running) and returns its `stats` event. */
  async stop(): Promise<Event> {
    try {
      this.child.kill("SIGTERM");
    } catch {
      // exited by itself
    }
    await this.child.status;
    await this.#pump;
    return this.events.find((e) => e.event === "stats") ?? { event: "stats" };
  }
}

const shm = await Deno.stat("/dev/shm").then((s) => s.isDirectory, () => false);
const filesDir = await Deno.makeTempDir({
  prefix: "meshtalk-files-bench-",
  dir: Deno.env.get("BENCH_FILES_DIR") ?? (shm ? "/dev/shm" : undefined),
});
const sourceFile = `${filesDir}/source.bin`;
{
  const file = await Deno.open(sourceFile, { write: true, create: true });
  const block = new Uint8Array(1 << 20);
  for (let i = 0; i < MIB; i++) {
    for (let at = 0; at < block.length; at += 65536) {
      crypto.getRandomValues(block.subarray(at, at + 65536));
    }
    await file.write(block);
  }
  file.close();
}

// Without --allow-all, Deno refuses every path under /dev (tmpfs included): the portable run's
// files are in the default temporary directory, a copy of the source among them.
const portableDir = await Deno.makeTempDir({ prefix: "meshtalk-files-bench-portable-" });
const portableSource = `${portableDir}/source.bin`;
await Deno.copyFile(sourceFile, portableSource);

interface Run {
  seeders: number;
  mibs: number;
  seconds: number;
  firstHashSeconds: number;
  downloader: Event;
  seederStats: Event[];
}

/**
 * `seederCount` seeders to one downloader; with `portable`, every process without `--allow-ffi`
 * (checked: their `ready` events must say so).
 */
async function transfer(seederCount: number, round: number, portable = false): Promise<Run> {
  const [dir, source] = portable ? [portableDir, portableSource] : [filesDir, sourceFile];
  const seeders: ShareProcess[] = [];
  let firstHashSeconds = 0;
  for (let i = 0; i < seederCount; i++) {
    const t0 = performance.now();
    // Each seeder has its own data dir, kept across rounds: the first start hashes the file,
    // later ones read the manifest back.
    const seeder = new ShareProcess([
      "--port",
      "0",
      "--seed-only",
      "--part",
      source,
      "--data-dir",
      `${dir}/seeder-${i}`,
    ], portable);
    await seeder.waitFor("ready");
    if (i === 0) firstHashSeconds = (performance.now() - t0) / 1000;
    seeders.push(seeder);
  }
  const out = `${dir}/out-${seederCount}-${round}`;
  const peers = await Promise.all(seeders.map((s) => s.waitFor("ready")));
  checkPaths(peers, portable);
  // A seeder's CPU is counted from here: its start (and the manifest of its first start) is not
  // part of the transfer.
  const cpuAtReady = seeders.map((s) => s.cpuSeconds());
  const downloader = new ShareProcess([
    "--port",
    "0",
    "--out",
    out,
    "--exit-when-done",
    "--data-dir",
    `${dir}/downloader`,
    ...peers.flatMap((ready) => ["--peer", `127.0.0.1:${ready.port}`]),
  ], portable);
  checkPaths([await downloader.waitFor("ready")], portable);
  const saved = await downloader.waitFor("saved");
  const downloaderStats = await downloader.exited();
  const seederStats = await Promise.all(seeders.map(async (s, i) => {
    const stats = await s.stop();
    return { ...stats, cpuSeconds: (stats.cpuSeconds as number) - cpuAtReady[i] };
  }));
  if (!(await sameBytes(source, saved.path as string))) throw new Error("the copy differs!");
  await Deno.remove(out, { recursive: true });
  const seconds = saved.seconds as number;
  return {
    seeders: seederCount,
    mibs: MIB / seconds,
    seconds,
    firstHashSeconds,
    downloader: downloaderStats,
    seederStats,
  };
}

/** Throws unless every process runs the paths the run is meant to measure. */
function checkPaths(ready: Event[], portable: boolean): void {
  const want = portable ? ["webcrypto", "wasm"] : ["openssl", "native"];
  for (const event of ready) {
    const paths = [event.crypto, event.blake3];
    if (paths.join() !== want.join()) {
      throw new Error(`a share process runs ${paths.join(" and ")}, not ${want.join(" and ")}`);
    }
  }
}

async function sameBytes(a: string, b: string): Promise<boolean> {
  const [fa, fb] = await Promise.all([Deno.open(a), Deno.open(b)]);
  try {
    const [ba, bb] = [new Uint8Array(1 << 20), new Uint8Array(1 << 20)];
    while (true) {
      const [na, nb] = await Promise.all([readFull(fa, ba), readFull(fb, bb)]);
      if (na !== nb) return false;
      if (na === 0) return true;
      for (let i = 0; i < na; i++) if (ba[i] !== bb[i]) return false;
    }
  } finally {
    fa.close();
    fb.close();
  }
}

async function readFull(file: Deno.FsFile, buffer: Uint8Array): Promise<number> {
  let at = 0;
  while (at < buffer.length) {
    const count = await file.read(buffer.subarray(at));
    if (count === null) break;
    at += count;
  }
  return at;
}

const ROUNDS = Number(Deno.env.get("BENCH_FILES_ROUNDS") ?? 3);
const peers = await findPeersBench();
if (peers.skipped) console.error(`files bench: ${peers.skipped}`);
const plain: number[] = [];
const one: Run[] = [];
const four: Run[] = [];
const portableOne: Run[] = [];
const torrents: WebTorrentRecord[] = [];
try {
  for (let round = 0; round < ROUNDS; round++) {
    plain.push(await plainCopy(MIB));
    one.push(await transfer(1, round));
    // Its files on the same file system as meshtalk's: the same work.
    if (peers.dir) torrents.push(await webTorrent(peers.dir, MIB, `${filesDir}/webtorrent`));
    four.push(await transfer(4, round));
    portableOne.push(await transfer(1, round, true));
  }
} finally {
  for (const child of running) child.kill("SIGKILL");
  await Promise.all([...running].map((child) => child.status));
  await Deno.remove(filesDir, { recursive: true });
  await Deno.remove(portableDir, { recursive: true });
}

const pick = (runs: Run[]) => runs.find((r) => r.mibs === median(runs.map((x) => x.mibs)))!;
const plainBaseline = { name: "plain copy", runs: plain };
const rows: Row[] = [
  figure(`plain Deno TCP copy, memory to memory, ${MIB} MiB`, "MiB/s", plain),
  figure("seeder's first start: manifest of the file (hash workers)", "MiB/s", [
    MIB / one[0].firstHashSeconds,
  ]),
];
for (const [label, runs] of [["1 seeder", one], ["4 seeders", four]] as const) {
  const run = pick(runs);
  rows.push(
    figure(`${label} to 1 downloader, every piece verified`, "MiB/s", runs.map((r) => r.mibs), {
      baseline: plainBaseline,
      target: label === "1 seeder" ? ">= 450 MiB/s, >= 3x WebTorrent" : ">= 1 seeder",
    }),
  );
  if (label === "1 seeder" && torrents.length) {
    rows.push(
      figure(
        "WebTorrent, 1 seeder to 1 downloader (direct), every piece SHA-1 checked",
        "MiB/s",
        torrents.map((t) => t.throughput_MiB_s),
        { baseline: plainBaseline },
      ),
      figure("1 seeder to 1 downloader, against WebTorrent's", "MiB/s", runs.map((r) => r.mibs), {
        baseline: { name: "WebTorrent", runs: torrents.map((t) => t.throughput_MiB_s) },
      }),
    );
  }
  // CPU and memory of the run with the median MiB/s.
  rows.push(
    figure(`${label}: downloader CPU`, "s", [run.downloader.cpuSeconds as number]),
    figure(`${label}: seeder CPU during the transfer (each)`, "s", [
      median(run.seederStats.map((s) => s.cpuSeconds as number)),
    ]),
    figure(`${label}: downloader peak RSS`, "MiB", [run.downloader.peakRssMiB as number], {
      target: "< 300",
    }),
    figure(`${label}: seeder peak RSS (largest)`, "MiB", [
      Math.max(...run.seederStats.map((s) => s.peakRssMiB as number)),
    ]),
  );
}
rows.push(
  figure(
    "1 seeder, portable paths (no --allow-ffi: Web Crypto AES-GCM, hash-wasm BLAKE3)",
    "MiB/s",
    portableOne.map((r) => r.mibs),
    // The code before the fast paths, the same hour, its files on disk too: 258 [195-270] MiB/s
    // (AMD EPYC, 2026-11-30; docs/ARCHITECTURE.md, "This round's figures").
    { baseline: plainBaseline, target: "no slower than before OpenSSL (258 MiB/s, AMD EPYC)" },
  ),
  figure("portable paths: downloader CPU", "s", [
    pick(portableOne).downloader.cpuSeconds as number,
  ]),
);
if (torrents.length) {
  rows.push(
    figure("WebTorrent: downloader CPU", "s", [median(torrents.map((t) => t.leecher_cpu_s))]),
    figure("WebTorrent: seeder CPU", "s", [median(torrents.map((t) => t.seeder_cpu_s))]),
    figure("WebTorrent: downloader peak RSS", "MiB", [
      median(torrents.map((t) => t.leecher_maxRss_MiB)),
    ]),
    figure("WebTorrent: seeder peak RSS", "MiB", [
      median(torrents.map((t) => t.seeder_maxRss_MiB)),
    ]),
  );
}

console.log(`\n${header("meshtalk files benchmark", `${MIB} MiB, ${ROUNDS} rounds, median`)}\n`);
console.log(markdownTable(rows));
console.log(
  `\nall runs, MiB/s: 1 seeder ${one.map((r) => r.mibs.toFixed(0)).join(", ")}; ` +
    `4 seeders ${four.map((r) => r.mibs.toFixed(0)).join(", ")}; ` +
    `portable ${portableOne.map((r) => r.mibs.toFixed(0)).join(", ")}; plain ${
      plain.map((p) => p.toFixed(0)).join(", ")
    }` +
    (torrents.length
      ? `; WebTorrent ${torrents.map((t) => t.throughput_MiB_s.toFixed(0)).join(", ")} ` +
        `(webtorrent ${torrents[0].webtorrent}, node ${torrents[0].node})`
      : ""),
);
if (peers.skipped) console.log(`\n${peers.skipped}`);
const out = await writeResults("files", {
  mib: MIB,
  rounds: ROUNDS,
  rows,
  one,
  four,
  portableOne,
  plain,
  peersBench: torrents,
  ...(peers.skipped ? { peersSkipped: peers.skipped } : {}),
});
console.log(`written to ${out}`);
