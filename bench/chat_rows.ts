// The chat benchmark's figures: every run's samples, and the rows of its table, each of
// meshtalk's figures beside gossipsub's where both ran the same work.
import { figure, type Row } from "./report.ts";

/**
 * Every run's value of each figure, by key; gossipsub's under "gossipsub <key>".
 *
 * @example
 * ```ts
 * import { Samples } from "./chat_rows.ts";
 * const samples = new Samples();
 * samples.add("mesh p50", 4);
 * samples.add("mesh p50", 5);
 * console.log(samples.get("mesh p50")); // [4, 5]
 * ```
 */
export class Samples {
  readonly #values = new Map<string, number[]>();

  add(key: string, value: number): void {
    this.#values.set(key, [...this.get(key), value]);
  }

  /** Every run's value; empty if the figure was not measured. */
  get(key: string): number[] {
    return this.#values.get(key) ?? [];
  }
}

/** What the rows' names say about the runs. */
export interface ChatSettings {
  latencyRate: number;
  senders: number;
  batchLines: number;
  textBytes: number;
}

/** key, name, unit, gossipsub's key to compare with, target */
type Spec = [string, string, string, string?, string?];

function specs(label: string, settings: ChatSettings, hops: number): Spec[] {
  const { latencyRate, senders, batchLines, textBytes } = settings;
  const mesh = label === "mesh";
  const latencyTarget = mesh ? "ratio <= 0.75" : "no worse than before issue 13";
  const latency = `at ${latencyRate} msg/s, farthest peers (${hops} hops)`;
  const lines = `${textBytes}-byte lines, each to the 9 others`;
  // gossipsub's closed loop is run on the mesh only.
  const closedLoop = (what: string) => mesh ? `closed loop ${what}` : undefined;
  const rss = (when: string, key: string, against?: string): Spec[] => [
    [`${key}`, `${label}: RSS per peer ${when}, median`, "MiB", against, "<= 100"],
    [
      `${key} max`,
      `${label}: RSS per peer ${when}, largest`,
      "MiB",
      against && `${against} max`,
      "<= 100",
    ],
  ];
  return [
    [`${label} p50`, `${label}: latency p50 ${latency}`, "ms", `${label} p50`, latencyTarget],
    [`${label} p99`, `${label}: latency p99 ${latency}`, "ms", `${label} p99`, latencyTarget],
    ...rss("once connected (idle)", `${label} idle rss`, `${label} rss`),
    ...(mesh
      ? [
        [
          "unbatched msg/s",
          `mesh: throughput unbatched (${senders} senders, every line its own say), ${lines}`,
          "msg/s",
          "closed loop msg/s",
          "ratio >= 10",
        ],
        [
          "unbatched cpu",
          "mesh: CPU per delivery, all 10 processes (unbatched)",
          "µs",
          "closed loop cpu",
        ],
        ...rss("after the unbatched run", "unbatched rss", "closed loop rss"),
      ] satisfies Spec[]
      : []),
    [
      `${label} batched msg/s`,
      `${label}: throughput batched (1 sender, ${batchLines}-line writes), ${lines}`,
      "msg/s",
      closedLoop("msg/s"),
      mesh ? "ratio >= 10" : undefined,
    ],
    [
      `${label} batched cpu`,
      `${label}: CPU per delivery, all 10 processes (batched)`,
      "µs",
      closedLoop("cpu"),
    ],
    ...rss("after the batched run", `${label} batched rss`, closedLoop("rss")),
    [`${label} duplicates/say`, `${label}: duplicates dropped per say taken`, ""],
    [`${label} duplicates/line`, `${label}: duplicate copies per line shown`, ""],
    ...(mesh
      ? [[
        "mesh unbatched duplicates/say",
        "mesh: duplicates dropped per say taken (unbatched)",
        "",
      ]] satisfies Spec[]
      : []),
  ];
}

/**
 * The table's rows from the samples: each figure measured at least once, with gossipsub's as
 * its baseline where gossipsub ran.
 *
 * @example
 * ```ts
 * import { chatRows, Samples } from "./chat_rows.ts";
 * const samples = new Samples();
 * samples.add("mesh hops", 3);
 * samples.add("mesh p50", 5);
 * samples.add("gossipsub mesh p50", 8);
 * const [row] = chatRows(samples, { latencyRate: 20, senders: 4, batchLines: 250, textBytes: 200 });
 * console.log(row.value / row.baseline!.value); // 0.625
 * ```
 */
export function chatRows(samples: Samples, settings: ChatSettings): Row[] {
  const rows: Row[] = [];
  for (const label of ["chain", "mesh"]) {
    for (
      const [key, name, unit, against, target] of specs(
        label,
        settings,
        samples.get(`${label} hops`)[0],
      )
    ) {
      const runs = samples.get(key);
      if (runs.length === 0) continue;
      const theirs = against ? samples.get(`gossipsub ${against}`) : [];
      const baseline = theirs.length ? { name: "gossipsub", runs: theirs } : undefined;
      rows.push(figure(name, unit, runs, { baseline, target }));
    }
  }
  return rows;
}

/** What differs between meshtalk's runs and gossipsub's (from its first record), said once. */
export function comparisonNotes(
  record: Record<string, unknown>,
  settings: ChatSettings & { window: number },
): string[] {
  return [
    `gossipsub: ${JSON.stringify(record.versions)} on node ${record.node}, one node a process, ` +
    "TCP + Noise + Yamux, library defaults (signed messages, D=6, 1 s heartbeat, flood publish). " +
    "The same graphs as meshtalk's (the chain; the mesh is mesh3 seed 1 for both), the same " +
    `publisher (node 0), ${settings.textBytes}-byte messages.`,
    "Latency: gossipsub's is from publish() to the subscriber's handler, inside the node " +
    "processes; meshtalk's is from the driver's write to the sender's stdin to the driver reading " +
    "the line from a peer's --json stdout (two pipes and a JSON line more).",
    "gossipsub's RSS is read when its run ends: after 20 msg/s for the idle rows, after the " +
    "closed loop for the throughput rows. Its CPU per delivery spans its whole run (mesh ready to " +
    "report), meshtalk's the throughput run only. Its closed loop has one publisher with " +
    `--window ${settings.window}; meshtalk's unbatched run has ${settings.senders} senders ` +
    "sharing that window, each line its own say (signed alone, checked alone at every peer).",
  ];
}
