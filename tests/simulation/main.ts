/**
 * Runs a simulation by hand and prints its report, e.g.
 * `deno run -A tests/simulation/main.ts --peers 2000 --rounds 10`.
 *
 * Options (defaults as `runScenario`'s): --peers, --seed, --join-ms (time between two joins),
 * --settle-s, --rounds (of churn), --churn (share killed a round), --round-s, --down-s,
 * --partition-s (0: none), --tail-s, --publish-ms (time between two lines). What
 * tests/mesh_simulation_test.ts runs: `--join-ms 5 --settle-s 10 --rounds 3 --round-s 15
 * --tail-s 20`.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { formatReport } from "./report.ts";
import { runScenario, type ScenarioOptions } from "./scenario.ts";

/** Each option, the scenario field it sets, and by what its value is multiplied. */
const OPTIONS: [string, keyof ScenarioOptions, number][] = [
  ["peers", "peers", 1],
  ["seed", "seed", 1],
  ["join-ms", "joinEveryMs", 1],
  ["settle-s", "settleMs", 1000],
  ["rounds", "churnRounds", 1],
  ["churn", "churnFraction", 1],
  ["round-s", "roundMs", 1000],
  ["down-s", "downMs", 1000],
  ["partition-s", "partitionMs", 1000],
  ["tail-s", "tailMs", 1000],
  ["publish-ms", "publishEveryMs", 1],
];

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: Object.fromEntries(OPTIONS.map(([name]) => [name, { type: "string" }])),
  });
  const options: Partial<ScenarioOptions> = {};
  for (const [name, field, scale] of OPTIONS) {
    const value = values[name];
    if (typeof value !== "string") continue;
    const n = Number(value);
    if (!Number.isFinite(n)) throw new TypeError(`--${name} takes a number, not "${value}"`);
    options[field] = n * scale;
  }
  console.log(formatReport(runScenario(options)));
}
