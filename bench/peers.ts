// The peers to beat, run in the same benchmark as meshtalk on the same machine: js-libp2p
// gossipsub (`gossip-bench.mjs`) beside the chat, WebTorrent (`wt-bench.mjs`) beside the files.
// They live in ../shared/peers-bench (see its README.md), installed into a scratch copy, never
// into the project. BENCH_PEERS_DIR names that copy (default /tmp/peers-bench, used if it has
// node_modules); BENCH_SKIP_PEERS=1 skips them.
import type { Edge } from "./graphs.ts";

const DEFAULT_DIR = "/tmp/peers-bench";
const SOURCE_DIR = new URL("../../shared/peers-bench", import.meta.url).pathname;
/** Longest a peers-bench run may take before it is killed (their own runs allow 175 s). */
const RUN_MS = 300_000;

/** Where the installed peers-bench is, or why it is not run. */
export type PeersBench = { dir: string; skipped?: undefined } | {
  dir?: undefined;
  skipped: string;
};

/** The fields of a gossip-bench.mjs JSONL record the benchmarks read (the record is kept whole). */
export interface GossipRecord {
  label: string;
  params: { topology: string; edges: Edge[]; messages: number; rate: number };
  complete: boolean;
  maxHops: number;
  farthestNodes: number[];
  sustained_msgs_s: number;
  latency_farthest: { p50_ms: number; p99_ms: number };
  cpu_us_per_delivery: number;
  rss_MiB_node_median: number;
  rss_MiB_node_max: number;
  [field: string]: unknown;
}

/** The fields of a wt-bench.mjs JSONL record the benchmarks read (the record is kept whole). */
export interface WebTorrentRecord {
  label: string;
  throughput_MiB_s: number;
  sha256_ok: boolean;
  leecher_cpu_s: number;
  seeder_cpu_s: number;
  leecher_maxRss_MiB: number;
  seeder_maxRss_MiB: number;
  [field: string]: unknown;
}

/**
 * Finds the installed peers-bench: BENCH_PEERS_DIR, else /tmp/peers-bench, if it has
 * node_modules and `node` runs. Otherwise says why it is skipped and how to install it.
 *
 * @example
 * ```ts
 * import { findPeersBench } from "./peers.ts";
 * const found = await findPeersBench();
 * console.log(typeof (found.dir ?? found.skipped)); // "string"
 * ```
 */
export async function findPeersBench(): Promise<PeersBench> {
  if (Deno.env.get("BENCH_SKIP_PEERS") === "1") {
    return { skipped: "the peers to beat (gossipsub, WebTorrent) skipped: BENCH_SKIP_PEERS=1" };
  }
  const dir = Deno.env.get("BENCH_PEERS_DIR") || DEFAULT_DIR;
  const installed = await Deno.stat(`${dir}/node_modules`).then((s) => s.isDirectory, () => false);
  if (!installed) {
    return {
      skipped:
        `the peers to beat (gossipsub, WebTorrent) skipped: ${dir}/node_modules not found. ` +
        `Install them into a scratch copy (never into the project), then run again: ` +
        `rm -rf ${DEFAULT_DIR} && cp -r ${SOURCE_DIR} ${DEFAULT_DIR} && cd ${DEFAULT_DIR} && ` +
        `npm ci --ignore-scripts   (or set BENCH_PEERS_DIR to such a copy)`,
    };
  }
  try {
    const { success } = await new Deno.Command("node", { args: ["--version"], stdout: "null" })
      .output();
    if (!success) throw new Error("node --version failed");
  } catch (error) {
    return { skipped: `the peers to beat skipped: node does not run (${error})` };
  }
  return { dir };
}

/**
 * Runs `node gossip-bench.mjs <args>` in the peers-bench copy and returns its JSONL record.
 *
 * @example
 * ```ts ignore
 * import { gossipsub } from "./peers.ts";
 * const record = await gossipsub("/tmp/peers-bench", ["--topology", "chain", "--messages", "400", "--rate", "20"]);
 * console.log(record.latency_farthest.p50_ms);
 * ```
 */
export async function gossipsub(dir: string, args: string[]): Promise<GossipRecord> {
  return await runJsonl<GossipRecord>(dir, "gossip-bench.mjs", args);
}

/**
 * Runs `node wt-bench.mjs --size-mib <mib> --mode direct` in the peers-bench copy, its files in
 * `dataDir`, and returns its JSONL record.
 *
 * @example
 * ```ts ignore
 * import { webTorrent } from "./peers.ts";
 * console.log((await webTorrent("/tmp/peers-bench", 256, "/dev/shm/wt")).throughput_MiB_s);
 * ```
 */
export async function webTorrent(
  dir: string,
  mib: number,
  dataDir: string,
): Promise<WebTorrentRecord> {
  const record = await runJsonl<WebTorrentRecord>(dir, "wt-bench.mjs", [
    "--size-mib",
    String(mib),
    "--mode",
    "direct",
    "--data",
    dataDir,
  ]);
  if (!record.sha256_ok) {
    throw new Error(`WebTorrent's copy differs from the source: ${record.label}`);
  }
  return record;
}

async function runJsonl<T>(dir: string, script: string, args: string[]): Promise<T> {
  const jsonl = await Deno.makeTempFile({ prefix: "peers-bench-", suffix: ".jsonl" });
  const verbose = Boolean(Deno.env.get("BENCH_VERBOSE") || Deno.env.get("CHAT_BENCH_VERBOSE"));
  try {
    const child = new Deno.Command("node", {
      args: [script, ...args, "--jsonl", jsonl],
      cwd: dir,
      stdin: "null",
      stdout: "null",
      stderr: verbose ? "inherit" : "piped",
    }).spawn();
    const timer = setTimeout(() => child.kill("SIGKILL"), RUN_MS);
    const stderr = verbose ? Promise.resolve("") : new Response(child.stderr).text();
    const [status, errors] = await Promise.all([child.status, stderr]).finally(() =>
      clearTimeout(timer)
    );
    const command = `node ${script} ${args.join(" ")} (in ${dir})`;
    if (!status.success) {
      throw new Error(
        `${command} failed with exit code ${status.code}${
          status.signal ? ` (${status.signal})` : ""
        }:\n` +
          errors.split("\n").slice(-15).join("\n"),
      );
    }
    const lines = (await Deno.readTextFile(jsonl)).trim().split("\n").filter((l) => l);
    if (lines.length === 0) throw new Error(`${command} wrote no JSONL record`);
    return JSON.parse(lines[lines.length - 1]) as T;
  } finally {
    await Deno.remove(jsonl).catch(() => {});
  }
}
