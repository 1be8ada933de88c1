/**
 * What a simulation run found, and how it is printed.
 *
 * @module
 */
import type { NetworkCounts } from "./network.ts";

/** How long the mesh took to be one again after one disruption. */
export interface Merge {
  /** What it was: `bootstrap` (the last peer joined), `churn 1`..., `partition`. */
  disruption: string;
  /** When it ended (the last join, the restarts, the heal), in simulated seconds. */
  endedAt: number;
  /** Parts the live peers made when it ended. */
  partsAtEnd: number;
  /** Seconds from its end to one component; null if the next disruption or the end came first. */
  seconds: number | null;
}

/** The figures of one run. Times are simulated seconds; `wallSeconds` is real time. */
export interface Report {
  /** Peers in the simulation. */
  peers: number;
  /** The seed: the same options and seed make the same run. */
  seed: number;
  /** Simulated time, in seconds. */
  simulatedSeconds: number;
  /** Real time the run took, in seconds. */
  wallSeconds: number;
  /** Lines said. */
  lines: number;
  /** (line, peer) pairs that should have shown: peers up from the line's saying to the end. */
  expected: number;
  /** Of those, the pairs where the peer showed the line (at least once). */
  delivered: number;
  /** `delivered / expected`. */
  deliveryRatio: number;
  /** Lines shown a second time by the same run of a peer, anywhere. */
  duplicatesShown: number;
  /** A few pairs that should have shown and did not, as `line@peer`, to look into. */
  missing: string[];
  /** Lines shown, by every run of every peer (history sent to restarted peers included). */
  deliveries: number;
  /** Of those, lines that came as answers to a summary (late). */
  late: number;
  /** What went over the wire, and what came of dials. */
  counts: NetworkCounts;
  /** Every frame sent, per line shown. */
  framesPerDelivery: number;
  /** Whole copies of lines received that were had already (the cost of eager links). */
  redundantCopies: number;
  /** How long the mesh took to be one again after each disruption. */
  merges: Merge[];
  /** Parts the live peers made at the end. */
  partsAtEnd: number;
  /** Mean connections per live peer at the end. */
  meanDegree: number;
  /** Median connections per live peer at the end. */
  medianDegree: number;
  /** Most connections of a live peer at the end. */
  maxDegree: number;
  /** Most connections any peer held at once, all run long. */
  peakDegree: number;
}

/**
 * The report as a table, for people.
 *
 * @example
 * ```ts
 * import { formatReport } from "./report.ts";
 * import { runScenario } from "./scenario.ts";
 * const report = runScenario({ peers: 20, churnRounds: 1, partitionMs: 0, tailMs: 10_000 });
 * console.log(formatReport(report).split("\n")[0]); // "peers                     20"
 * ```
 */
export function formatReport(report: Report): string {
  const { counts } = report;
  const frames = Object.values(counts.frames).reduce((sum, n) => sum + n, 0);
  const byKind = Object.entries(counts.frames).map(([kind, n]) => `${kind} ${n}`).join(", ");
  const rows: [string, string][] = [
    ["peers", `${report.peers}`],
    ["seed", `${report.seed}`],
    ["simulated", `${report.simulatedSeconds.toFixed(0)} s`],
    ["wall time", `${report.wallSeconds.toFixed(1)} s`],
    ["lines said", `${report.lines}`],
    [
      "delivery ratio",
      `${report.deliveryRatio.toFixed(4)} (${report.delivered} of ${report.expected} ` +
      `line-peer pairs, peers up from the saying to the end)`,
    ],
    ["duplicates shown", `${report.duplicatesShown}`],
    ["lines shown", `${report.deliveries} (${report.late} late, as history or after a heal)`],
    ["frames", `${frames} (${byKind})`],
    ["frames per delivery", report.framesPerDelivery.toFixed(2)],
    ["redundant copies", `${report.redundantCopies}`],
    ["grafts / prunes", `${counts.frames.graft} / ${counts.frames.prune}`],
    [
      "dials",
      `${counts.connected} connected, ${counts.duplicate} duplicate, ${counts.refused} refused ` +
      `(${counts.full} full), ${counts.timedOut} timed out`,
    ],
    ["frames lost", `${counts.lost} (cut by a partition, or to a dead peer)`],
    [
      "rebalancing",
      `${counts.rebalanced} redundant connections dropped, ${counts.redialed} of them made again`,
    ],
  ];
  for (const merge of report.merges) {
    const took = merge.seconds === null
      ? "not one before the next"
      : `${merge.seconds.toFixed(1)} s`;
    rows.push([
      `one mesh after ${merge.disruption}`,
      `${took} (${merge.partsAtEnd} parts at t=${merge.endedAt.toFixed(0)} s)`,
    ]);
  }
  rows.push(["parts at the end", `${report.partsAtEnd}`]);
  rows.push([
    "connections a peer",
    `mean ${
      report.meanDegree.toFixed(1)
    }, median ${report.medianDegree}, most ${report.maxDegree}` +
    ` (at the end); most at any time ${report.peakDegree}`,
  ]);
  if (report.missing.length > 0) rows.push(["missing (some)", report.missing.join(" ")]);
  const width = Math.max(...rows.map(([name]) => name.length)) + 2;
  return rows.map(([name, value]) => name.padEnd(width) + value).join("\n");
}
