// The runs of the chat benchmark on a started ChatMesh: warm-up, latency at a steady rate, and
// throughput with a window of lines in flight. Every line is numbered and tallied: each must be
// shown exactly once at every other peer, or the run throws a DeliveryError.
import type { ChatMesh } from "./chat_mesh.ts";
import { now, sleep, waitUntil } from "./chat_process.ts";
import { DeliveryTally } from "./delivery_tally.ts";
import { cpuSeconds, systemBusySeconds } from "./proc_stats.ts";
import { median, quantile } from "./report.ts";

/** Bytes of every line's text, as gossipsub's benchmark sends 200-byte messages. */
export const TEXT_BYTES = 200;

/**
 * How long a line may be missing before it is called lost: longer than the broadcast tree waits
 * for a hole before it gives it up (30 s, packages/chat/broadcast_tree.ts), so a line repaired
 * late is late, not lost. A run fails when its last lines are not all shown this long after they
 * were written, or when no line is shown for this long.
 */
const LOST_MS = 45_000;
const THROUGHPUT_MS = 600_000;

const encoder = new TextEncoder();

/**
 * A line of TEXT_BYTES bytes: "<tag><sender>-<seq> ", the words in `extra`, padding, newline.
 *
 * @example
 * ```ts
 * import { line, TEXT_BYTES } from "./chat_runs.ts";
 * console.log(line("U", 3, 17).startsWith("U3-17 x"), line("U", 3, 17).length === TEXT_BYTES + 1); // true true
 * ```
 */
export function line(tag: string, sender: number, seq: number, extra = ""): string {
  const head = `${tag}${sender}-${seq} ${extra ? `${extra} ` : ""}`;
  return head + "x".repeat(TEXT_BYTES - head.length) + "\n";
}

/** A message line's text as `line` made it, read from the raw JSON event without parsing it. */
interface Tagged {
  sender: number;
  seq: number;
  /** The word after the head, if any. */
  extra: string;
}

/**
 * Reads the head of the text of a raw `message` event, if it starts with `tag`; null otherwise.
 *
 * @example
 * ```ts
 * import { readTagged } from "./chat_runs.ts";
 * console.log(readTagged('{"event":"message","text":"L0-5 123.5 xx","hops":1}', "L")); // { sender: 0, seq: 5, extra: "123.5" }
 * ```
 */
export function readTagged(raw: string, tag: string): Tagged | null {
  const at = raw.indexOf(`"text":"${tag}`);
  if (at < 0) return null;
  const start = at + 8 + tag.length;
  const dash = raw.indexOf("-", start);
  const space = raw.indexOf(" ", dash);
  if (dash < 0 || space < 0) return null;
  const next = raw.indexOf(" ", space + 1);
  return {
    sender: Number(raw.slice(start, dash)),
    seq: Number(raw.slice(dash + 1, space)),
    extra: next < 0 ? "" : raw.slice(space + 1, next),
  };
}

/**
 * Waits until `tally` is complete; on a failure, adds what each peer itself counts, which tells a
 * line the peer never showed from one the driver missed.
 */
async function waitForAll(
  mesh: ChatMesh,
  tally: DeliveryTally,
  ms: number,
  what: string,
  broken: () => string | null = mesh.broken,
): Promise<void> {
  try {
    await waitUntil(() => tally.complete(), ms, () => `${what} (${tally.missing()})`, broken);
  } catch (error) {
    const counts = await mesh.ownCounts().catch((e) => `(no counts: ${e})`);
    throw new Error(`${(error as Error).message}; the peers' own counts: ${counts}`);
  }
}

function hopsOf(raw: string): number {
  const at = raw.indexOf('"hops":');
  return at < 0 ? -1 : parseInt(raw.slice(at + 7, at + 12), 10);
}

/**
 * `count` lines from each of `senders`, one at a time, 5 ms apart, until every peer has shown
 * them all: the paths, the JIT and the connections' buffers warm before anything is measured.
 */
export async function warmUp(mesh: ChatMesh, senders: number[], count: number): Promise<void> {
  const tally = new DeliveryTally(mesh.procs.length, senders, count);
  for (const p of mesh.procs) {
    p.onMessage = (raw) => {
      const tagged = readTagged(raw, "W");
      if (tagged) tally.record(tagged.sender, p.index, tagged.seq);
    };
  }
  for (let i = 0; i < count; i++) {
    for (const sender of senders) {
      await mesh.write(sender, encoder.encode(line("W", sender, i)), 1);
    }
    await sleep(5);
  }
  await waitForAll(mesh, tally, LOST_MS, `${mesh.label}: warm-up lines at every peer`);
  tally.check(`${mesh.label} warm-up`);
  for (const p of mesh.procs) p.onMessage = null;
}

/** What a latency run measured. */
export interface LatencyResult {
  /** The peers farthest from the sender by the graph. */
  farthest: number[];
  /** Every latency at those peers, ms, ascending. */
  farthestLatencies: number[];
  p50: number;
  p99: number;
  notes: string[];
}

/**
 * `count` lines from `sender` at `rate` a second, each carrying its send time; latency is from
 * the write to the driver reading the line from a peer's stdout, at the peers farthest from the
 * sender (pooled, as gossipsub's benchmark pools its farthest nodes).
 */
export async function latencyRun(
  mesh: ChatMesh,
  sender: number,
  count: number,
  rate: number,
): Promise<LatencyResult> {
  const { label } = mesh;
  const distance = mesh.distancesFrom(sender);
  const farthestHops = Math.max(...distance);
  const farthest = mesh.others(sender).filter((p) => distance[p.index] === farthestHops)
    .map((p) => p.index);
  const tally = new DeliveryTally(mesh.procs.length, [sender], count);
  const latencies = mesh.procs.map(() => [] as number[]);
  const hops = mesh.procs.map(() => [] as number[]);
  for (const p of mesh.others(sender)) {
    p.onMessage = (raw, at) => {
      const tagged = readTagged(raw, "L");
      if (!tagged || !tally.record(tagged.sender, p.index, tagged.seq)) return;
      latencies[p.index].push(at - Number(tagged.extra));
      hops[p.index].push(hopsOf(raw) + 1); // a neighbour's copy shows hops 0
    };
  }
  const start = performance.now();
  for (let i = 0; i < count; i++) {
    const wait = start + (i * 1000) / rate - performance.now();
    if (wait > 0) await sleep(wait);
    await mesh.write(sender, encoder.encode(line("L", sender, i, now().toFixed(3))), 1);
    const why = mesh.broken();
    if (why) throw new Error(`${label} latency run: ${why}`);
  }
  await waitForAll(mesh, tally, LOST_MS, `${label}: latency lines at every peer`);
  tally.check(`${label} latency run`);
  for (const p of mesh.procs) p.onMessage = null;

  const sorted = farthest.flatMap((i) => latencies[i]).sort((a, b) => a - b);
  // p50 by distance: the intercept is the stdin and stdout ends, the slope the cost of a hop.
  const byDistance = new Map<number, number[]>();
  for (const p of mesh.others(sender)) {
    byDistance.set(distance[p.index], [
      ...(byDistance.get(distance[p.index]) ?? []),
      ...latencies[p.index],
    ]);
  }
  const farHops = median(farthest.flatMap((i) => hops[i]));
  const notes = [
    `${label}: latency at the farthest peers (${
      farthest.map((i) => `p${i}`).join(", ")
    }, ${farthestHops} hops from p${sender}) min ${sorted[0].toFixed(2)}, p90 ${
      quantile(sorted, 0.9).toFixed(2)
    }, max ${sorted[sorted.length - 1].toFixed(2)} ms over ${count} lines each; p50 by hops: ${
      [...byDistance].sort(([a], [b]) => a - b).map(([d, values]) =>
        `${d}: ${median(values).toFixed(2)} ms`
      ).join(", ")
    }` +
    (farHops !== farthestHops
      ? `; their first copies came over ${farHops} hops (median), not the shortest path`
      : ""),
  ];
  return {
    farthest,
    farthestLatencies: sorted,
    p50: quantile(sorted, 0.5),
    p99: quantile(sorted, 0.99),
    notes,
  };
}

/** How a throughput run feeds its senders. */
export interface ThroughputOptions {
  senders: number[];
  linesPerSender: number;
  /** Most of a sender's lines written and not yet shown by every other peer. */
  window: number;
  /** A sender is written to once its window has room for this many lines… */
  minWrite: number;
  /** …and is then given at most this many in one write. */
  maxWrite: number;
  /** Progress every second on stderr. */
  verbose?: boolean;
}

/** What a throughput run measured. */
export interface ThroughputResult {
  lines: number;
  seconds: number;
  /** Lines a second, each shown at every other peer. */
  linesPerSecond: number;
  /** CPU of all the peer processes over the run, per line shown at a peer. */
  cpuMicrosPerDelivery: number;
  /** RSS of each peer at the end, MiB. */
  rss: number[];
  notes: string[];
}

/**
 * Lines from every sender as fast as the peers show them, with at most `window` of a sender's
 * lines in flight: the chat command reads stdin with no backpressure from its connections
 * (chat.say never waits), so an unbounded feed queues thousands of says in front of the
 * heartbeat pings and the sender drops its neighbours as dead. Timed from the first write to
 * the last line shown at the last peer; the run throws if no line is shown for LOST_MS.
 */
export async function throughputRun(
  mesh: ChatMesh,
  tag: string,
  options: ThroughputOptions,
): Promise<ThroughputResult> {
  const { label, procs } = mesh;
  const { senders, linesPerSender, window, minWrite, maxWrite } = options;
  const tally = new DeliveryTally(procs.length, senders, linesPerSender);
  const written = new Map(senders.map((s) => [s, 0]));
  const wake = new Map<number, () => void>();
  let lastShownAt = now();
  const room = (sender: number) =>
    Math.min(
      window - (written.get(sender)! - tally.slowest(sender)),
      linesPerSender - written.get(sender)!,
    );
  for (const p of procs) {
    p.onMessage = (raw, at) => {
      const tagged = readTagged(raw, tag);
      if (!tagged || !tally.record(tagged.sender, p.index, tagged.seq)) return;
      lastShownAt = at;
      const waiting = wake.get(tagged.sender);
      if (waiting && room(tagged.sender) >= minWrite) {
        wake.delete(tagged.sender);
        waiting();
      }
    };
  }
  let stopWriting = false;
  const cpuBefore = procs.map((p) => cpuSeconds(p.pid));
  const driverBefore = cpuSeconds("self");
  const systemBefore = systemBusySeconds();
  const t0 = now();
  lastShownAt = t0;
  const writeAll = async (sender: number) => {
    while (written.get(sender)! < linesPerSender && !stopWriting) {
      const free = room(sender);
      if (free < Math.min(minWrite, linesPerSender - written.get(sender)!)) {
        const { promise, resolve } = Promise.withResolvers<void>();
        wake.set(sender, resolve);
        await Promise.race([promise, sleep(100)]);
        continue;
      }
      const from = written.get(sender)!;
      const count = Math.min(free, maxWrite);
      let text = "";
      for (let i = from; i < from + count; i++) text += line(tag, sender, i);
      written.set(sender, from + count);
      await mesh.write(sender, encoder.encode(text), count);
    }
  };
  const writing = Promise.all(senders.map(writeAll));
  let writeError: unknown = null;
  writing.catch((error) => writeError = error);
  const progress = options.verbose
    ? setInterval(() => {
      console.error(
        `${label} ${((now() - t0) / 1000).toFixed(1)} s: written ${
          [...written.values()].reduce((a, b) => a + b, 0)
        }, shown ${tally.shown()}`,
      );
    }, 1000)
    : undefined;
  try {
    await waitForAll(
      mesh,
      tally,
      THROUGHPUT_MS,
      `${label}: ${linesPerSender} lines of each of ${senders.length} senders at every peer`,
      () => {
        if (writeError) return `writing to a sender failed: ${writeError}`;
        if (now() - lastShownAt > LOST_MS) {
          return `no line shown for ${LOST_MS / 1000} s`;
        }
        return mesh.broken();
      },
    );
  } finally {
    stopWriting = true;
    clearInterval(progress);
  }
  const cpuAfter = procs.map((p) => cpuSeconds(p.pid));
  const driverCpu = cpuSeconds("self") - driverBefore;
  const systemCpu = systemBusySeconds() - systemBefore;
  const rss = mesh.rss();
  const seconds = (lastShownAt - t0) / 1000;
  await writing;
  for (const p of procs) p.onMessage = null;
  tally.check(`${label} throughput run`);

  const lines = linesPerSender * senders.length;
  const cpu = cpuAfter.reduce((sum, after, i) => sum + after - cpuBefore[i], 0);
  const notes = [
    `${label}: ${lines} lines from ${
      senders.map((s) => `p${s}`).join(", ")
    } (window ${window} lines each) in ${seconds.toFixed(2)} s; CPU ${
      cpu.toFixed(2)
    } s over the ${procs.length} peers (${(cpu / seconds).toFixed(2)} cores busy; per peer ${
      cpuAfter.map((after, i) => (after - cpuBefore[i]).toFixed(1)).join(", ")
    } s), driver ${driverCpu.toFixed(2)} s; the whole machine ${
      (systemCpu / seconds).toFixed(2)
    } cores busy, of which ${
      ((systemCpu - cpu - driverCpu) / seconds).toFixed(2)
    } outside this benchmark; RSS per peer after ${rss.map((r) => r.toFixed(0)).join(", ")} MiB`,
  ];
  return {
    lines,
    seconds,
    linesPerSecond: lines / seconds,
    cpuMicrosPerDelivery: (cpu / (lines * (procs.length - 1))) * 1e6,
    rss,
    notes,
  };
}
