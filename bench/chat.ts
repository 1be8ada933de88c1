// The chat over real processes: 10 `apps/cli/chat.ts` peers on loopback, each its own process
// with `--connections 0` (so the topology is exactly the one built) and its own data dir, driven
// through stdin and read through their `--json` stdout. Two topologies: a chain and a random
// connected mesh of degree ~3. Measures sustained throughput, latency at 20 msg/s, CPU time per
// delivery, duplicates and RSS. `deno run -A bench/chat.ts` prints a table and writes
// bench/results/chat.json; `chatBench()` returns the rows.
//
// Environment (all optional): CHAT_BENCH_N, messages of the throughput run (default 20000);
// CHAT_BENCH_LATENCY, messages sent at 20/s (default 400); CHAT_BENCH_WINDOW, most throughput lines
// written and not yet shown by every peer (default 2000; 0: no limit, see the throughput run);
// CHAT_BENCH_ONLY=chain|mesh, one topology; CHAT_BENCH_VERBOSE=1, progress every second on stderr;
// CHAT_BENCH_V8_FLAGS, V8 flags for every peer (default, as `deno task chat`:
// --max-semi-space-size=1,--optimize-for-size);
// CHAT_BENCH_PROF=<peer index>, that peer runs with --v8-flags=--prof (its isolate-*.log files,
// one per thread, land in the working directory: `node --prof-process <log>`).

import type { ChatStats } from "../packages/chat/mod.ts";

/** One measured figure. */
export interface Row {
  name: string;
  value: number;
  unit: string;
  target?: string;
}

const PEERS = 10;
const MESH_EDGES = 15;
const MESH_SEED = 0x6d657368;
const TEXT_BYTES = 200;
const N = Number(Deno.env.get("CHAT_BENCH_N") ?? 20_000);
const LATENCY_COUNT = Number(Deno.env.get("CHAT_BENCH_LATENCY") ?? 400);
const LATENCY_RATE = 20;
const WARMUP = 50;
const WINDOW = Number(Deno.env.get("CHAT_BENCH_WINDOW") ?? 2000);
const BATCH_LINES = 250;
const PROFILE_PEER = Deno.env.get("CHAT_BENCH_PROF");
const ONLY = Deno.env.get("CHAT_BENCH_ONLY");
const V8_FLAGS = Deno.env.get("CHAT_BENCH_V8_FLAGS") ??
  "--max-semi-space-size=1,--optimize-for-size";
const VERBOSE = Boolean(Deno.env.get("CHAT_BENCH_VERBOSE"));
const chatScript = new URL("../apps/cli/chat.ts", import.meta.url).pathname;
const encoder = new TextEncoder();

// Timeouts: every wait fails with a clear error instead of hanging.
const READY_MS = 15_000;
const CONNECT_MS = 20_000;
const WARMUP_MS = 15_000;
const LATENCY_TAIL_MS = 10_000;
const THROUGHPUT_MS = 75_000;
const EXIT_MS = 10_000;

/** The counters of a peer's `stats` event that the benchmark reads. */
type Stats = Pick<
  ChatStats,
  "sent" | "delivered" | "received" | "duplicates" | "relayed" | "framesSent"
>;

/** Receives the `message` lines of one process: the raw line and when the driver read it. */
type MessageSink = (line: string, at: number) => void;

const now = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** One chat peer process: its stdin, and its stdout and stderr read continuously. */
class ChatProcess {
  readonly index: number;
  readonly nick: string;
  readonly child: Deno.ChildProcess;
  readonly #stdin: WritableStreamDefaultWriter<Uint8Array>;
  readonly #pumps: Promise<void>[];
  port = 0;
  id = "";
  connected = 0;
  stats: Stats | null = null;
  exited = false;
  /** Problems seen on stdout: errors, disconnections, bad lines. */
  readonly problems: string[] = [];
  readonly stderrTail: string[] = [];
  onMessage: MessageSink | null = null;

  constructor(index: number, dataDir: string, peers: number[]) {
    this.index = index;
    this.nick = `p${index}`;
    const args = [
      "run",
      "-A",
      // The V8 flags of `deno task chat` unless told otherwise: what a user runs is measured.
      `--v8-flags=${PROFILE_PEER === String(index) ? "--prof," : ""}${V8_FLAGS}`,
      chatScript,
      "0",
      "--host",
      "127.0.0.1",
      "--json",
      "--connections",
      "0",
      "--no-discovery", // the topology is the benchmark's, not the LAN's
      "--data-dir",
      dataDir,
      "--nick",
      this.nick,
      ...peers.flatMap((port) => ["--peer", `127.0.0.1:${port}`]),
    ];
    this.child = new Deno.Command(Deno.execPath(), {
      args,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).spawn();
    this.child.status.then(() => this.exited = true);
    this.#stdin = this.child.stdin.getWriter();
    this.#pumps = [
      this.#lines(this.child.stdout, (line, at) => this.#onStdout(line, at)),
      this.#lines(this.child.stderr, (line) => {
        this.stderrTail.push(line);
        if (this.stderrTail.length > 20) this.stderrTail.shift();
      }),
    ];
  }

  get pid(): number {
    return this.child.pid;
  }

  /** What to add to an error about this process. */
  describe(): string {
    const problems = this.problems.slice(-5).join("; ");
    return `${this.nick} (pid ${this.pid}${this.exited ? ", exited" : ""})` +
      (problems ? `; problems: ${problems}` : "") +
      (this.stderrTail.length ? `; stderr: ${this.stderrTail.slice(-5).join(" | ")}` : "");
  }

  write(bytes: Uint8Array): Promise<void> {
    return this.#stdin.write(bytes);
  }

  /** Closes stdin (a clean exit for the chat command) and waits for the exit code. */
  async end(timeoutMs: number): Promise<number> {
    await this.#stdin.close().catch(() => {});
    const status = await withTimeout(
      this.child.status,
      timeoutMs,
      () => `${this.nick} to exit after stdin closed; ${this.describe()}`,
    );
    await withTimeout(Promise.all(this.#pumps), 2000, () => `${this.nick}'s output to end`);
    return status.code;
  }

  /** Kills the process if it still runs and waits for it. */
  async kill(): Promise<void> {
    if (!this.exited) {
      try {
        this.child.kill("SIGKILL");
      } catch {
        // gone already
      }
    }
    await this.#stdin.close().catch(() => {});
    await this.child.status;
    await Promise.race([Promise.all(this.#pumps), sleep(2000)]);
  }

  #onStdout(line: string, at: number): void {
    if (line.startsWith('{"event":"message"')) {
      if (this.onMessage) this.onMessage(line, at);
      return;
    }
    if (!line.startsWith("{")) return;
    let event: Record<string, unknown>;
    try {
      event = JSON.parse(line);
    } catch {
      this.problems.push(`unparsable line ${line.slice(0, 120)}`);
      return;
    }
    switch (event.event) {
      case "ready":
        this.port = event.port as number;
        this.id = event.id as string;
        break;
      case "peer-connected":
        this.connected++;
        break;
      case "peer-disconnected":
        this.connected--;
        this.problems.push(`peer-disconnected ${event.nick}: ${event.reason}`);
        break;
      case "error":
        this.problems.push(`error: ${event.message}`);
        break;
      case "stats":
        this.stats = event as unknown as Stats;
        break;
    }
  }

  async #lines(
    stream: ReadableStream<Uint8Array>,
    onLine: (line: string, at: number) => void,
  ): Promise<void> {
    const decoder = new TextDecoder();
    let pending = "";
    try {
      for await (const chunk of stream) {
        const at = now();
        pending += decoder.decode(chunk, { stream: true });
        let start = 0;
        let newline: number;
        while ((newline = pending.indexOf("\n", start)) >= 0) {
          onLine(pending.slice(start, newline), at);
          start = newline + 1;
        }
        pending = pending.slice(start);
      }
    } catch {
      // the process was killed
    }
    if (pending) onLine(pending, now());
  }
}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: () => string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`timed out after ${ms} ms waiting for ${what()}`)),
      ms,
    );
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `done` every 10 ms; fails with `what()` after `ms`, or at once if `broken()` says why. */
async function waitUntil(
  done: () => boolean,
  ms: number,
  what: () => string,
  broken: () => string | null = () => null,
): Promise<void> {
  const deadline = performance.now() + ms;
  while (!done()) {
    const why = broken();
    if (why) throw new Error(`while waiting for ${what()}: ${why}`);
    if (performance.now() > deadline) {
      throw new Error(`timed out after ${ms} ms waiting for ${what()}`);
    }
    await sleep(10);
  }
}

// Topologies. An edge [a, b] with a > b: peer a dials peer b (--peer), so peers start in order.

type Edge = [number, number];

function chain(): Edge[] {
  return Array.from({ length: PEERS - 1 }, (_, i) => [i + 1, i] as Edge);
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A random spanning tree, then random extra edges (no peer above degree 5) up to `edges`. */
function randomMesh(edges: number, seed: number): Edge[] {
  const random = mulberry32(seed);
  const pick = (n: number) => Math.floor(random() * n);
  const out: Edge[] = [];
  const degree = new Array(PEERS).fill(0);
  const has = new Set<string>();
  const add = (a: number, b: number) => {
    const [hi, lo] = a > b ? [a, b] : [b, a];
    out.push([hi, lo]);
    has.add(`${hi}-${lo}`);
    degree[hi]++;
    degree[lo]++;
  };
  for (let i = 1; i < PEERS; i++) {
    let j = pick(i);
    while (degree[j] >= 3) j = pick(i); // keep the tree from growing hubs
    add(i, j);
  }
  while (out.length < edges) {
    const a = pick(PEERS);
    const b = pick(PEERS);
    if (
      a === b || degree[a] >= 5 || degree[b] >= 5 || has.has(`${Math.max(a, b)}-${Math.min(a, b)}`)
    ) {
      continue;
    }
    add(a, b);
  }
  return out;
}

function distancesFrom(source: number, edges: Edge[]): number[] {
  const neighbours = Array.from({ length: PEERS }, () => [] as number[]);
  for (const [a, b] of edges) {
    neighbours[a].push(b);
    neighbours[b].push(a);
  }
  const distance = new Array(PEERS).fill(-1);
  distance[source] = 0;
  const queue = [source];
  while (queue.length) {
    const at = queue.shift()!;
    for (const next of neighbours[at]) {
      if (distance[next] < 0) {
        distance[next] = distance[at] + 1;
        queue.push(next);
      }
    }
  }
  return distance;
}

// /proc readings.

let clockTicks = 100;
async function readClockTicks(): Promise<void> {
  try {
    const { stdout, success } = await new Deno.Command("getconf", { args: ["CLK_TCK"] }).output();
    const value = Number(new TextDecoder().decode(stdout).trim());
    if (success && value > 0) clockTicks = value;
  } catch {
    // keep 100
  }
}

/** utime + stime of a process (all its threads), in seconds. */
function cpuSeconds(pid: number | "self"): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  // Fields after the command name, which is in parentheses and may hold spaces.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / clockTicks; // fields 14 and 15 of stat(5)
}

/** CPU time the whole machine spent busy (all cores, anything but idle and iowait), in seconds. */
function systemBusySeconds(): number {
  const fields = Deno.readTextFileSync("/proc/stat").split("\n")[0].trim().split(/\s+/).slice(1)
    .map(Number);
  const total = fields.slice(0, 8).reduce((a, b) => a + b, 0);
  return (total - fields[3] - fields[4]) / clockTicks;
}

function rssMiB(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

// Message lines.

/** A line of `text` bytes (ASCII) starting with `head`, newline included. */
function line(head: string): string {
  return head + "x".repeat(TEXT_BYTES - head.length) + "\n";
}

/** The number right after `"text":"<tag>` in a message line, or -1. */
function textNumber(raw: string, tag: string): number {
  const at = raw.indexOf(`"text":"${tag}`);
  if (at < 0) return -1;
  return parseInt(raw.slice(at + 8 + tag.length, at + 8 + tag.length + 12), 10);
}

function hopsOf(raw: string): number {
  const at = raw.indexOf('"hops":');
  return at < 0 ? -1 : parseInt(raw.slice(at + 7, at + 12), 10);
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))];
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

// One topology, start to finish.

interface TopologyResult {
  rows: Row[];
  notes: string[];
}

async function runTopology(
  label: string,
  edges: Edge[],
  sender: number,
  root: string,
): Promise<TopologyResult> {
  const rows: Row[] = [];
  const notes: string[] = [];
  const degree = new Array(PEERS).fill(0);
  for (const [a, b] of edges) {
    degree[a]++;
    degree[b]++;
  }
  const procs: ChatProcess[] = [];
  const others = () => procs.filter((p) => p.index !== sender);
  const broken = () => {
    const bad = procs.find((p) => p.exited || p.problems.length > 0);
    return bad ? `a peer failed: ${bad.describe()}` : null;
  };
  try {
    // Start the peers in order: each dials peers that are already listening (with
    // --connections 0 a failed dial is not retried).
    for (let i = 0; i < PEERS; i++) {
      const dials = edges.filter(([a]) => a === i).map(([, b]) => procs[b].port);
      const proc = new ChatProcess(i, `${root}/${label}-p${i}`, dials);
      procs.push(proc);
      await waitUntil(
        () => proc.port > 0,
        READY_MS,
        () => `${label} ${proc.describe()} ready`,
        broken,
      );
    }
    const setupStart = performance.now();
    await waitUntil(
      () => procs.every((p) => p.connected === degree[p.index]),
      CONNECT_MS,
      () =>
        `${label}: every peer's peer-connected events (have ${procs.map((p) => p.connected)}, ` +
        `want ${degree})`,
      broken,
    );
    const idleRss = procs.map((p) => rssMiB(p.pid));
    notes.push(
      `${label}: ${edges.length} edges (${edges.map(([a, b]) => `${b}-${a}`).join(" ")}), ` +
        `degrees ${degree.join(",")}, sender p${sender}; all connected ` +
        `${(performance.now() - setupStart).toFixed(0)} ms after the last peer was ready; ` +
        `RSS per peer once connected (idle) ${idleRss.map((r) => r.toFixed(0)).join(", ")} MiB`,
    );

    // Warm-up, which also finds the farthest peer by the `hops` its copies show.
    const hopsSeen = procs.map(() => [] as number[]);
    const warmCount = procs.map(() => 0);
    for (const p of others()) {
      p.onMessage = (raw) => {
        if (textNumber(raw, "W") < 0) return;
        warmCount[p.index]++;
        hopsSeen[p.index].push(hopsOf(raw));
      };
    }
    for (let i = 0; i < WARMUP; i++) {
      await procs[sender].write(encoder.encode(line(`W${i} `)));
      await sleep(5);
    }
    await waitUntil(
      () => others().every((p) => warmCount[p.index] >= WARMUP),
      WARMUP_MS,
      () => `${label}: warm-up messages at every peer (have ${warmCount})`,
      broken,
    );
    const distance = distancesFrom(sender, edges);
    // The farthest peer by the graph (ties: by the hops its warm-up copies showed). The first copy
    // of a message may take a longer path than the shortest, so hops alone can pick a nearer peer.
    const far = others().reduce((best, p) => {
      const h = median(hopsSeen[p.index]);
      const hb = median(hopsSeen[best.index]);
      return distance[p.index] > distance[best.index] ||
          (distance[p.index] === distance[best.index] && h > hb)
        ? p
        : best;
    });
    const farHops = median(hopsSeen[far.index]) + 1;
    if (farHops !== Math.max(...distance)) {
      notes.push(
        `${label}: the farthest peer (p${far.index}, ${distance[far.index]} hops away) saw its ` +
          `warm-up copies after ${farHops} hops (median): the first copy took a longer path`,
      );
    }

    // Latency at 20 msg/s, read at the farthest peer (and, for the notes, at every peer).
    const latencyAt = procs.map(() => [] as number[]);
    const latencyHops = procs.map(() => [] as number[]);
    for (const p of others()) {
      p.onMessage = (raw, at) => {
        const start = raw.indexOf('"text":"L');
        if (start < 0) return;
        const sentText = raw.slice(start + 9, start + 60).split(" ")[1];
        latencyAt[p.index].push(at - Number(sentText));
        latencyHops[p.index].push(hopsOf(raw));
      };
    }
    const latencyStart = performance.now();
    for (let i = 0; i < LATENCY_COUNT; i++) {
      const due = latencyStart + (i * 1000) / LATENCY_RATE;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      await procs[sender].write(encoder.encode(line(`L${i} ${now().toFixed(3)} `)));
      const why = broken();
      if (why) throw new Error(`${label} latency run: ${why}`);
    }
    await waitUntil(
      () => others().every((p) => latencyAt[p.index].length >= LATENCY_COUNT),
      LATENCY_TAIL_MS,
      () =>
        `${label}: latency messages at every peer (have ${
          others().map((p) => `${p.nick}:${latencyAt[p.index].length}`).join(" ")
        } of ${LATENCY_COUNT})`,
      broken,
    );
    const sortedLatency = [...latencyAt[far.index]].sort((a, b) => a - b);
    const hopsNote = `${median(latencyHops[far.index]) + 1} hops`;
    rows.push({
      name: `${label}: latency p50 at 20 msg/s, farthest peer (${hopsNote})`,
      value: quantile(sortedLatency, 0.5),
      unit: "ms",
    });
    rows.push({
      name: `${label}: latency p99 at 20 msg/s, farthest peer (${hopsNote})`,
      value: quantile(sortedLatency, 0.99),
      unit: "ms",
      target: "<= 5",
    });
    // p50 by distance: the intercept is the stdin and stdout ends, the slope the cost of a hop.
    const byHops = new Map<number, number[]>();
    for (const p of others()) {
      const hops = median(latencyHops[p.index]) + 1;
      byHops.set(hops, [...(byHops.get(hops) ?? []), ...latencyAt[p.index]]);
    }
    notes.push(
      `${label}: latency at the farthest peer (${far.nick}) min ${sortedLatency[0].toFixed(2)}, ` +
        `p90 ${quantile(sortedLatency, 0.9).toFixed(2)}, max ${
          sortedLatency[sortedLatency.length - 1].toFixed(2)
        } ms over ${LATENCY_COUNT} messages; p50 by hops: ${
          [...byHops].sort(([a], [b]) => a - b).map(([hops, values]) =>
            `${hops}: ${median(values).toFixed(2)} ms`
          ).join(", ")
        }`,
    );
    for (const p of procs) p.onMessage = null;
    await sleep(200);

    // Throughput: N lines into the sender's stdin in large batches, as fast as the pipe takes
    // them, but with at most WINDOW lines written and not yet shown by every peer. The chat
    // command reads stdin with no backpressure from its connections (chat.say never waits), so
    // an unbounded feed queues thousands of messages in front of the heartbeat pings and the
    // sender drops its neighbours as dead (CHAT_BENCH_WINDOW=0 reproduces it in the mesh).
    const got = procs.map(() => new Uint8Array(N));
    const counts = procs.map(() => 0);
    const finishedAt = procs.map(() => 0);
    let repeats = 0;
    let written = 0;
    let wakeWriter: (() => void) | null = null;
    const slowest = () => Math.min(...others().map((p) => counts[p.index]));
    for (const p of others()) {
      p.onMessage = (raw, at) => {
        const seq = textNumber(raw, "T");
        if (seq < 0 || seq >= N) return;
        if (got[p.index][seq]) {
          repeats++;
          return;
        }
        got[p.index][seq] = 1;
        if (++counts[p.index] === N) finishedAt[p.index] = at;
        if (wakeWriter && written - slowest() <= WINDOW - BATCH_LINES) {
          const wake = wakeWriter;
          wakeWriter = null;
          wake();
        }
      };
    }
    const batches: Uint8Array[] = [];
    for (let from = 0; from < N; from += BATCH_LINES) {
      let text = "";
      for (let i = from; i < Math.min(N, from + BATCH_LINES); i++) text += line(`T${i} `);
      batches.push(encoder.encode(text));
    }
    let stopWriting = false;
    const cpuBefore = procs.map((p) => cpuSeconds(p.pid));
    const driverBefore = cpuSeconds("self");
    const systemBefore = systemBusySeconds();
    const t0 = now();
    const writing = (async () => {
      for (const batch of batches) {
        while (WINDOW > 0 && written - slowest() > WINDOW - BATCH_LINES && !stopWriting) {
          const { promise, resolve } = Promise.withResolvers<void>();
          wakeWriter = resolve;
          await Promise.race([promise, sleep(100)]);
        }
        if (stopWriting) return;
        await procs[sender].write(batch);
        written = Math.min(N, written + BATCH_LINES);
      }
    })();
    const progress = VERBOSE
      ? setInterval(() => {
        console.error(
          `${label} ${((now() - t0) / 1000).toFixed(1)} s: written ${written}, ` +
            others().map((p) => `${p.nick}:${counts[p.index]}`).join(" "),
        );
      }, 1000)
      : undefined;
    let writeError: unknown = null;
    writing.catch((error) => writeError = error);
    try {
      await waitUntil(
        () => others().every((p) => counts[p.index] === N),
        THROUGHPUT_MS,
        () =>
          `${label}: ${N} messages at every peer (written ${written}; have ${
            others().map((p) => `${p.nick}:${counts[p.index]}`).join(" ")
          })`,
        () => writeError ? `writing to the sender failed: ${writeError}` : broken(),
      );
    } finally {
      stopWriting = true;
      clearInterval(progress);
    }
    const cpuAfter = procs.map((p) => cpuSeconds(p.pid));
    const driverCpu = cpuSeconds("self") - driverBefore;
    const systemCpu = systemBusySeconds() - systemBefore;
    const rss = procs.map((p) => rssMiB(p.pid));
    const t1 = Math.max(...finishedAt);
    const seconds = (t1 - t0) / 1000;
    await writing;
    const cpu = cpuAfter.reduce((sum, after, i) => sum + after - cpuBefore[i], 0);
    const deliveries = N * (PEERS - 1);
    rows.push({
      name: `${label}: throughput, ${TEXT_BYTES}-byte messages from one peer to the 9 others`,
      value: N / seconds,
      unit: "msg/s",
      target: label === "mesh" ? ">= 2000" : undefined,
    });
    rows.push({
      name: `${label}: CPU time per delivery, all 10 processes (throughput run)`,
      value: (cpu / deliveries) * 1e6,
      unit: "µs",
    });
    rows.push({
      name: `${label}: RSS per peer process, mean at the end of the throughput run`,
      value: rss.reduce((a, b) => a + b, 0) / rss.length,
      unit: "MiB",
      target: "<= 90",
    });
    notes.push(
      `${label}: throughput ${N} messages in ${seconds.toFixed(2)} s; CPU ${cpu.toFixed(2)} s ` +
        `over the 10 peers (${(cpu / seconds).toFixed(2)} cores busy; per peer ${
          cpuAfter.map((after, i) => (after - cpuBefore[i]).toFixed(1)).join(", ")
        } s), driver ${driverCpu.toFixed(2)} s; the whole machine ${
          (systemCpu / seconds).toFixed(2)
        } cores busy, of which ${
          ((systemCpu - cpu - driverCpu) / seconds).toFixed(2)
        } outside this benchmark; RSS per peer ${rss.map((r) => r.toFixed(0)).join(", ")} MiB` +
        (repeats ? `; ${repeats} messages shown twice` : ""),
    );
    for (const p of procs) p.onMessage = null;

    // Let stray duplicate copies land, then stop every peer: each prints its stats on exit.
    await sleep(300);
    const codes = await Promise.all(procs.map((p) => p.end(EXIT_MS)));
    if (codes.some((code) => code !== 0)) {
      throw new Error(`${label}: exit codes ${codes.join(",")}; ${procs.map((p) => p.describe())}`);
    }
    const stats = procs.map((p) => {
      if (!p.stats) throw new Error(`${label}: no stats event from ${p.describe()}`);
      return p.stats;
    });
    const sum = (key: keyof Stats) => stats.reduce((n, s) => n + s[key], 0);
    const sent = WARMUP + LATENCY_COUNT + N;
    if (sum("delivered") !== sent * (PEERS - 1) || stats[sender].sent !== sent) {
      notes.push(
        `${label}: WARNING: stats say sent ${stats[sender].sent}, delivered ${
          sum("delivered")
        }; expected ${sent} and ${sent * (PEERS - 1)}`,
      );
    }
    // Lines written together travel as one say (one signature, one copy per neighbour): the
    // flooding cost is per say, so duplicates are counted per say taken.
    rows.push({
      name: `${label}: duplicates dropped per say taken (all runs)`,
      value: sum("duplicates") / sum("received"),
      unit: "",
    });
    rows.push({
      name: `${label}: duplicate copies per message delivered (all runs)`,
      value: sum("duplicates") / sum("delivered"),
      unit: "",
    });
    notes.push(
      `${label}: stats summed over the peers (all runs): lines delivered ${
        sum("delivered")
      }, says taken ${sum("received")} (${
        (sum("delivered") / sum("received")).toFixed(1)
      } lines a say), duplicates ${sum("duplicates")}, relayed ${sum("relayed")}, copies sent ${
        sum("framesSent")
      }`,
    );
    return { rows, notes };
  } finally {
    await Promise.all(procs.map((p) => p.kill()));
  }
}

/** Runs both topologies; returns the rows (and prints nothing). */
export async function chatBench(notes: string[] = []): Promise<Row[]> {
  await readClockTicks();
  const root = await Deno.makeTempDir({ prefix: "meshtalk-chat-bench-" });
  try {
    const chainResult = ONLY === "mesh"
      ? { rows: [], notes: [] }
      : await runTopology("chain", chain(), 0, root);
    const mesh = randomMesh(MESH_EDGES, MESH_SEED);
    // The sender: a peer as far as any from some other peer, so latency crosses the diameter.
    const eccentricity = (i: number) => Math.max(...distancesFrom(i, mesh));
    let sender = 0;
    for (let i = 1; i < PEERS; i++) if (eccentricity(i) > eccentricity(sender)) sender = i;
    const meshResult = ONLY === "chain"
      ? { rows: [], notes: [] }
      : await runTopology("mesh", mesh, sender, root);
    notes.push(...chainResult.notes, ...meshResult.notes);
    return [...chainResult.rows, ...meshResult.rows];
  } finally {
    await Deno.remove(root, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) {
  const notes: string[] = [];
  const started = performance.now();
  const rows = await chatBench(notes);
  const fmt = (n: number) => n >= 100 ? n.toFixed(0) : n >= 1 ? n.toFixed(2) : n.toFixed(3);
  console.log(
    `\nmeshtalk chat benchmark (${
      new Date().toISOString()
    }, ${Deno.build.target}, ${navigator.hardwareConcurrency} cores, ${PEERS} peer processes, ` +
      `${((performance.now() - started) / 1000).toFixed(0)} s)\n`,
  );
  console.log("| measure | value | target |\n|---|---|---|");
  for (const row of rows) {
    console.log(`| ${row.name} | ${fmt(row.value)} ${row.unit} | ${row.target ?? ""} |`);
  }
  console.log("\nnotes:");
  for (const note of notes) console.log(`- ${note}`);
  console.log(
    "- js-libp2p gossipsub on these machines, for comparison: 131 msg/s sustained (chain 204), " +
      "p50 12 ms / p99 41 ms at 20 msg/s, 116 MiB RSS per node, ~1.1-1.7 ms CPU per delivery.",
  );
  await Deno.mkdir(new URL("./results/", import.meta.url), { recursive: true });
  const out = new URL("./results/chat.json", import.meta.url);
  await Deno.writeTextFile(
    out,
    JSON.stringify(
      { date: new Date().toISOString(), peers: PEERS, messages: N, rows, notes },
      null,
      2,
    ) + "\n",
  );
  console.log(`\nwritten to ${out.pathname}`);
}
