// The figures of a benchmark: medians over runs, ratios to what they are compared with, the
// markdown table every benchmark prints and the JSON it writes to bench/results/.
import { cpuModel } from "./proc_stats.ts";

/** What a figure is compared with, measured in the same run of the machine. */
export interface Baseline {
  name: string;
  /** Median of `runs`. */
  value: number;
  runs: number[];
}

/** One measured figure: the median of its runs, with every run kept. */
export interface Row {
  name: string;
  unit: string;
  /** Median of `runs`. */
  value: number;
  runs: number[];
  baseline?: Baseline;
  target?: string;
}

/**
 * The median (for an even count, the upper of the two middle values: always a measured one).
 *
 * @example
 * ```ts
 * import { median } from "./report.ts";
 * console.log(median([3, 1, 2])); // 2
 * ```
 */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/**
 * The value below which a fraction `q` of `sorted` (ascending) lies, nearest rank.
 *
 * @example
 * ```ts
 * import { quantile } from "./report.ts";
 * console.log(quantile([1, 2, 3, 4], 0.99)); // 4
 * ```
 */
export function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))];
}

/**
 * A row from every run's value of a figure (and of what it is compared with, if anything).
 *
 * @example
 * ```ts
 * import { figure } from "./report.ts";
 * const row = figure("p50", "ms", [3, 1, 2], { baseline: { name: "them", runs: [4, 4, 4] } });
 * console.log(row.value, row.baseline?.value); // 2 4
 * ```
 */
export function figure(
  name: string,
  unit: string,
  runs: number[],
  options: { baseline?: { name: string; runs: number[] }; target?: string } = {},
): Row {
  const row: Row = { name, unit, value: median(runs), runs };
  const baseline = options.baseline;
  if (baseline && baseline.runs.length > 0) {
    row.baseline = { name: baseline.name, value: median(baseline.runs), runs: baseline.runs };
  }
  if (options.target) row.target = options.target;
  return row;
}

/**
 * A number as the tables show it: three significant-ish digits, no more.
 *
 * @example
 * ```ts
 * import { formatNumber } from "./report.ts";
 * console.log(formatNumber(1234.5), formatNumber(12.345), formatNumber(0.01234)); // 1235 12.35 0.012
 * ```
 */
export function formatNumber(n: number): string {
  const size = Math.abs(n);
  return size >= 100 || n === 0 ? n.toFixed(0) : size >= 1 ? n.toFixed(2) : n.toFixed(3);
}

function withSpread(value: number, runs: number[], unit: string): string {
  const spread = runs.length > 1
    ? ` [${formatNumber(Math.min(...runs))}–${formatNumber(Math.max(...runs))}]`
    : "";
  return `${formatNumber(value)}${spread}${unit ? ` ${unit}` : ""}`;
}

/**
 * The markdown table of `rows`: measure | value | ratio to baseline | target. A value measured
 * more than once is its median with [min–max]; the ratio is of the medians.
 *
 * @example
 * ```ts
 * import { figure, markdownTable } from "./report.ts";
 * const table = markdownTable([figure("copy", "MiB/s", [200], { baseline: { name: "plain", runs: [400] } })]);
 * console.log(table.split("\n")[2]); // | copy | 200 MiB/s | 0.50 (plain: 400 MiB/s) |  |
 * ```
 */
export function markdownTable(rows: Row[]): string {
  const lines = ["| measure | value | ratio to baseline | target |", "|---|---|---|---|"];
  for (const row of rows) {
    const baseline = row.baseline;
    const ratio = baseline
      ? `${formatNumber(row.value / baseline.value)} (${baseline.name}: ${
        withSpread(baseline.value, baseline.runs, row.unit)
      })`
      : "";
    lines.push(
      `| ${row.name} | ${withSpread(row.value, row.runs, row.unit)} | ${ratio} | ${
        row.target ?? ""
      } |`,
    );
  }
  return lines.join("\n");
}

/**
 * The first line of every benchmark's output: what ran, when, and on which CPU.
 *
 * @example
 * ```ts
 * import { header } from "./report.ts";
 * console.log(header("meshtalk chat benchmark", "2 runs").startsWith("meshtalk chat")); // true
 * ```
 */
export function header(title: string, details: string): string {
  return `${title} (${new Date().toISOString()}, ${cpuModel()}, ${Deno.build.target}; ${details})`;
}

/**
 * Writes bench/results/<name>.json: the date, the CPU model, then `contents`. Returns its path.
 *
 * @example
 * ```ts ignore
 * import { writeResults } from "./report.ts";
 * await writeResults("example", { rows: [] });
 * ```
 */
export async function writeResults(
  name: string,
  contents: Record<string, unknown>,
): Promise<string> {
  const dir = new URL("./results/", import.meta.url);
  await Deno.mkdir(dir, { recursive: true });
  const out = new URL(`${name}.json`, dir);
  const data = { date: new Date().toISOString(), cpu: cpuModel(), ...contents };
  await Deno.writeTextFile(out, JSON.stringify(data, null, 2) + "\n");
  return out.pathname;
}
