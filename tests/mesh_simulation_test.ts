// The mesh at scale, in simulation: a thousand peers running the real upkeep, address books,
// peer exchange and broadcast tree over an in-memory network (tests/simulation/), through rounds
// of churn and a partition. Deterministic: the seed fixes every random choice.
import assert from "node:assert/strict";
import { formatReport } from "./simulation/report.ts";
import { runScenario } from "./simulation/scenario.ts";

/** Bounds, in simulated seconds, and why they are honest. */
const BOUNDS = {
  /**
   * A restarted peer runs upkeep within 1 s and dials the two best addresses its book kept; a
   * dial takes two round trips (under 12 ms). Only a peer whose picks were all killed in the same
   * round (1% for two picks) needs another round: 5 s is four such rounds in a row. Seen: 1.0-1.1 s.
   */
  afterChurn: 5,
  /**
   * A thousand peers at their target each explore a random known peer every 5-15 s: about a
   * hundred dials a second, half of them to the other side, besides the peers still refilling
   * the connections the cut closed. Seen: 0.1 s. (A mesh of a few peers could take an
   * exploring interval, 15 s.)
   */
  afterPartition: 5,
  /**
   * Frames of every kind per line shown. Most are announcements on lazy links: at one line a
   * second, below one per 100 ms tick, each line is announced once on every lazy link, so this
   * follows the mean degree (about 11.6 here). Seen: 10.1-10.3 over seeds 1-4.
   */
  framesPerDelivery: 12,
  /** Grafts per line shown (a graft storm would be many per line). Seen: 0.006-0.007. */
  graftsPerDelivery: 0.05,
  /**
   * Most connections a peer held at any time. A thousand peers join in 5 s, each through one or
   * two earlier ones, and learn of the same few early peers; were those dialed first by everyone,
   * they would sit at the limit of 64. Seen: 35-41.
   */
  peakConnections: 48,
  /** Dials refused by a peer at its connection limit (hubs). Seen: 0. */
  fullRefusals: 50,
};

Deno.test("a thousand simulated peers through churn and a partition: every line once to every peer up", () => {
  const report = runScenario({
    peers: 1000,
    seed: 1,
    joinEveryMs: 5,
    settleMs: 10_000,
    churnRounds: 3,
    churnFraction: 0.1,
    roundMs: 15_000,
    downMs: 5_000,
    partitionMs: 20_000,
    tailMs: 20_000,
    publishEveryMs: 1000,
  });
  console.log(formatReport(report));

  // What was asked of the mesh happened: churn split off the restarted peers, the partition
  // split the mesh in two and lost frames, and anti-entropy sent lines late.
  const churn = report.merges.filter((m) => m.disruption.startsWith("churn"));
  const partition = report.merges.find((m) => m.disruption === "partition");
  assert.equal(churn.length, 3);
  assert.ok(churn.every((m) => m.partsAtEnd > 50), "each round left the restarted peers apart");
  assert.equal(partition?.partsAtEnd, 2, "the partition cut the mesh in two");
  assert.ok(report.counts.lost > 0 && report.late > 0);
  assert.ok(report.expected > 50_000, `${report.expected} line-peer pairs to check`);

  assert.equal(report.deliveryRatio, 1, `missing: ${report.missing.join(" ")}`);
  assert.equal(report.duplicatesShown, 0);
  for (const merge of churn) {
    assert.ok(
      merge.seconds !== null && merge.seconds <= BOUNDS.afterChurn,
      `one mesh ${merge.seconds} s after ${merge.disruption}`,
    );
  }
  assert.ok(
    partition.seconds !== null && partition.seconds <= BOUNDS.afterPartition,
    `one mesh ${partition.seconds} s after the heal`,
  );
  assert.equal(report.partsAtEnd, 1);
  assert.ok(report.framesPerDelivery <= BOUNDS.framesPerDelivery, `${report.framesPerDelivery}`);
  const graftsPerDelivery = report.counts.frames.graft / report.deliveries;
  assert.ok(graftsPerDelivery <= BOUNDS.graftsPerDelivery, `${graftsPerDelivery} grafts a line`);
  assert.ok(report.peakDegree <= BOUNDS.peakConnections, `${report.peakDegree} connections`);
  assert.ok(report.counts.full <= BOUNDS.fullRefusals, `${report.counts.full} refused as full`);
});
