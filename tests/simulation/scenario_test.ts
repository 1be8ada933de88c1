import assert from "node:assert/strict";
import { runScenario } from "./scenario.ts";

const small = { peers: 60, settleMs: 10_000, churnRounds: 2, partitionMs: 15_000, tailMs: 15_000 };

Deno.test("a run repeats exactly from its seed, and another seed makes another run", () => {
  const figures = (seed: number) => {
    const { wallSeconds: _, ...report } = runScenario({ ...small, seed });
    return report;
  };
  assert.deepEqual(figures(3), figures(3));
  assert.notDeepEqual(figures(3).counts, figures(4).counts);
});

Deno.test("a small run through churn and a partition: every line to every peer up, once", () => {
  const report = runScenario({ ...small, seed: 2 });
  assert.deepEqual(report.merges.map((m) => m.disruption), [
    "bootstrap",
    "churn 1",
    "churn 2",
    "partition",
  ]);
  assert.equal(report.merges[1].partsAtEnd, 7, "the six peers restarted, apart, and the rest");
  assert.equal(report.merges[3].partsAtEnd, 2);
  assert.ok(report.merges.every((m) => m.seconds !== null), "one mesh again after each");
  assert.ok(report.expected > 1000);
  assert.equal(report.deliveryRatio, 1);
  assert.equal(report.duplicatesShown, 0);
  assert.equal(report.partsAtEnd, 1);
});

Deno.test("a partition must outlast the heartbeat timeout: what it loses, only a closed connection may lose", () => {
  assert.throws(() => runScenario({ peers: 10, partitionMs: 5000 }), RangeError);
});
