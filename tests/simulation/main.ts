/**
 * Runs a simulation by hand and prints its report, e.g.
 * `deno run -A tests/simulation/main.ts --peers 2000 --rounds 10`.
 *
 * Options: --peers, --rounds (of churn), --churn (share killed a round), --partition-s (0: none),
 * --publish-ms (time between two lines), --seed.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { formatReport } from "./report.ts";
import { runScenario } from "./scenario.ts";

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      peers: { type: "string", default: "1000" },
      rounds: { type: "string", default: "5" },
      churn: { type: "string", default: "0.1" },
      "partition-s": { type: "string", default: "20" },
      "publish-ms": { type: "string", default: "1000" },
      seed: { type: "string", default: "1" },
    },
  });
  const report = runScenario({
    peers: Number(values.peers),
    churnRounds: Number(values.rounds),
    churnFraction: Number(values.churn),
    partitionMs: Number(values["partition-s"]) * 1000,
    publishEveryMs: Number(values["publish-ms"]),
    seed: Number(values.seed),
  });
  console.log(formatReport(report));
}
