/**
 * A simulation run: peers join one by one, each knowing one or two earlier peers' addresses; the
 * mesh settles; rounds of churn kill a share of the peers and restart them (with their address
 * books, as peers.json keeps them, but a new stream and an empty log); then the peers are split
 * in two halves for a while and healed. Random live peers say a line now and then all along.
 * It reports whether every line reached every peer that was up from its saying to the end,
 * exactly once, what that cost, and how soon the mesh was one again after each disruption.
 *
 * @module
 */
import { AddressBook } from "../../packages/core/address_book.ts";
import { HEARTBEAT_TIMEOUT_MS, Network } from "./network.ts";
import { SeededRandom } from "./random.ts";
import type { Merge, Report } from "./report.ts";
import { addressOf, type SimItem, SimPeer } from "./sim_peer.ts";

/** What a run does, and when. Times are in simulated ms. */
export interface ScenarioOptions {
  /** Peers (default 1,000). */
  peers: number;
  /** Seed of every random choice (default 1). */
  seed: number;
  /** Time between two peers joining (default 10). */
  joinEveryMs: number;
  /** Time after the last join before the first round of churn (default 20,000). */
  settleMs: number;
  /** Rounds of churn (default 5). */
  churnRounds: number;
  /** Share of the peers killed in each round (default 0.1). */
  churnFraction: number;
  /** Time from one round of churn to the next (default 20,000). */
  roundMs: number;
  /** How long the killed peers stay down (default 5,000). */
  downMs: number;
  /** How long the partition after the churn lasts (default 20,000; 0: none). */
  partitionMs: number;
  /** Time after the heal (or the last round) to the end (default 30,000). */
  tailMs: number;
  /** Time between two lines said (default 1,000). */
  publishEveryMs: number;
  /** No line is said in this last stretch of the run, so that the last ones can arrive (default 10,000). */
  quietMs: number;
}

const DEFAULTS: ScenarioOptions = {
  peers: 1000,
  seed: 1,
  joinEveryMs: 10,
  settleMs: 20_000,
  churnRounds: 5,
  churnFraction: 0.1,
  roundMs: 20_000,
  downMs: 5_000,
  partitionMs: 20_000,
  tailMs: 30_000,
  publishEveryMs: 1000,
  quietMs: 10_000,
};

/** How often the mesh is checked for being one after a disruption. */
const PROBE_EVERY_MS = 100;

/**
 * Runs a scenario (defaults for any option not given) and reports on it.
 *
 * @example
 * ```ts
 * import { runScenario } from "./scenario.ts";
 * const report = runScenario({ peers: 30, churnRounds: 1, partitionMs: 0, tailMs: 10_000 });
 * console.log(report.deliveryRatio, report.duplicatesShown); // 1 0
 * ```
 */
export function runScenario(options: Partial<ScenarioOptions> = {}): Report {
  const o = { ...DEFAULTS, ...options };
  if (o.partitionMs > 0 && o.partitionMs <= HEARTBEAT_TIMEOUT_MS + 1000) {
    throw new RangeError(
      `a partition must outlast the heartbeat timeout (${HEARTBEAT_TIMEOUT_MS} ms)`,
    );
  }
  const random = new SeededRandom(o.seed);
  // The address book's backoff jitter draws from Math.random: seeded too, so a run repeats.
  const mathRandom = Math.random;
  Math.random = random.next;
  const started = performance.now();
  try {
    return new Run(o, random).report(started);
  } finally {
    Math.random = mathRandom;
  }
}

/** One run's state: the network, the timeline, and the tallies. */
class Run {
  readonly #o: ScenarioOptions;
  readonly #random: SeededRandom;
  readonly #net: Network;
  readonly #end: number;
  readonly #lineCount: number;
  /** Per line: when it was said. */
  readonly #saidAt: Float64Array;
  /** Per line: who said it. */
  readonly #author: Int32Array;
  /** Per peer and line: times the peer's current run showed the line. */
  readonly #shown: Uint8Array;
  /** Per peer: when its current run started. */
  readonly #upSince: Float64Array;
  readonly #merges: Merge[] = [];
  #awaiting: Merge | null = null;
  #lines = 0;
  #deliveries = 0;
  #late = 0;
  #duplicatesShown = 0;
  #redundantCopies = 0;

  constructor(o: ScenarioOptions, random: SeededRandom) {
    this.#o = o;
    this.#random = random;
    const net = this.#net = new Network(random);
    const joined = (o.peers - 1) * o.joinEveryMs;
    const churnAt = joined + o.settleMs;
    const partitionAt = churnAt + o.churnRounds * o.roundMs;
    const healAt = partitionAt + o.partitionMs;
    this.#end = healAt + o.tailMs;
    const lastLineAt = this.#end - o.quietMs;
    this.#lineCount = Math.max(0, Math.floor(lastLineAt / o.publishEveryMs));
    this.#saidAt = new Float64Array(this.#lineCount);
    this.#author = new Int32Array(this.#lineCount);
    this.#shown = new Uint8Array(o.peers * this.#lineCount);
    this.#upSince = new Float64Array(o.peers);

    for (let i = 0; i < o.peers; i++) net.at(i * o.joinEveryMs, () => this.#join(i));
    net.at(joined, () => this.#disrupted("bootstrap"));
    for (let round = 0; round < o.churnRounds; round++) {
      const at = churnAt + round * o.roundMs;
      net.at(at, () => this.#churn(round + 1, at + o.downMs));
    }
    if (o.partitionMs > 0) {
      net.at(partitionAt, () => this.#partition());
      net.at(healAt, () => {
        net.heal();
        this.#disrupted("partition");
      });
    }
    for (let line = 0; line < this.#lineCount; line++) {
      net.at((line + 1) * o.publishEveryMs, () => this.#say(line));
    }
  }

  report(started: number): Report {
    const net = this.#net;
    net.runUntil(this.#end);
    this.#stopAwaiting();
    const lines = this.#lineCount;
    let expected = 0;
    let delivered = 0;
    const missing: string[] = [];
    for (let peer = 0; peer < this.#o.peers; peer++) {
      if (!net.peers[peer]?.alive) continue;
      for (let line = 0; line < lines; line++) {
        if (this.#upSince[peer] > this.#saidAt[line] || this.#author[line] === peer) continue;
        expected++;
        if (this.#shown[peer * lines + line] > 0) delivered++;
        else if (missing.length < 10) missing.push(`${line}@p${peer}`);
      }
    }
    const degrees: number[] = [];
    for (const peer of net.peers) {
      if (!peer.alive) continue;
      degrees.push(peer.links.size);
      this.#redundantCopies += peer.tree.stats().duplicates;
    }
    degrees.sort((x, y) => x - y);
    const frames = Object.values(net.counts.frames).reduce((sum, n) => sum + n, 0);
    return {
      peers: this.#o.peers,
      seed: this.#o.seed,
      simulatedSeconds: this.#end / 1000,
      wallSeconds: (performance.now() - started) / 1000,
      lines: this.#lines,
      expected,
      delivered,
      deliveryRatio: expected === 0 ? 1 : delivered / expected,
      duplicatesShown: this.#duplicatesShown,
      missing,
      deliveries: this.#deliveries,
      late: this.#late,
      counts: net.counts,
      framesPerDelivery: frames / Math.max(1, this.#deliveries),
      redundantCopies: this.#redundantCopies,
      merges: this.#merges,
      partsAtEnd: net.components(),
      meanDegree: degrees.reduce((sum, n) => sum + n, 0) / Math.max(1, degrees.length),
      medianDegree: degrees[degrees.length >> 1] ?? 0,
      maxDegree: degrees[degrees.length - 1] ?? 0,
      peakDegree: net.peakDegree,
    };
  }

  #start(index: number, generation: number, book: AddressBook): SimPeer {
    const peer = new SimPeer({
      net: this.#net,
      index,
      generation,
      book,
      deliver: (peer, item, late) => this.#show(peer, item, late),
    });
    this.#upSince[index] = this.#net.now;
    this.#shown.fill(0, index * this.#lineCount, (index + 1) * this.#lineCount);
    this.#net.attach(peer);
    return peer;
  }

  #join(index: number): void {
    const peer = this.#start(index, 0, new AddressBook());
    if (index === 0) return;
    const first = this.#random.int(index);
    peer.connect(addressOf(first));
    const second = this.#random.int(index);
    if (this.#random.next() < 0.5 && second !== first) peer.connect(addressOf(second));
  }

  #churn(round: number, restartAt: number): void {
    this.#stopAwaiting();
    const net = this.#net;
    const live = net.peers.filter((peer) => peer.alive).map((peer) => peer.index);
    const killed = this.#random.sample(live, Math.round(this.#o.peers * this.#o.churnFraction));
    const books: AddressBook[] = [];
    for (const index of killed) {
      const peer = net.peers[index];
      this.#redundantCopies += peer.tree.stats().duplicates;
      // What peers.json held when it died: a restart reads it back.
      const book = new AddressBook();
      book.restore(peer.book.stored());
      books.push(book);
      net.kill(index);
    }
    net.at(restartAt, () => {
      killed.forEach((index, i) => this.#start(index, net.peers[index].generation + 1, books[i]));
      this.#disrupted(`churn ${round}`);
    });
  }

  #partition(): void {
    this.#stopAwaiting();
    const halves = new Uint8Array(this.#o.peers);
    const indices = Array.from({ length: this.#o.peers }, (_, i) => i);
    for (const index of this.#random.sample(indices, this.#o.peers >> 1)) halves[index] = 1;
    this.#net.partition((index) => halves[index] as 0 | 1);
  }

  #say(line: number): void {
    const live = this.#net.peers.filter((peer) => peer.alive);
    const author = live[this.#random.int(live.length)];
    this.#saidAt[line] = this.#net.now;
    this.#author[line] = author.index;
    this.#shown[author.index * this.#lineCount + line] = 1;
    this.#lines++;
    author.publish(line);
  }

  #show(peer: SimPeer, item: SimItem, late: boolean): void {
    this.#deliveries++;
    if (late) this.#late++;
    const cell = peer.index * this.#lineCount + item.index;
    if (this.#shown[cell] > 0) this.#duplicatesShown++;
    this.#shown[cell] = Math.min(255, this.#shown[cell] + 1);
  }

  /** A disruption ended now: watch for the mesh to be one again. */
  #disrupted(disruption: string): void {
    this.#stopAwaiting();
    const parts = this.#net.components();
    const merge: Merge = {
      disruption,
      endedAt: this.#net.now / 1000,
      partsAtEnd: parts,
      seconds: null,
    };
    this.#merges.push(merge);
    if (parts === 1) {
      merge.seconds = 0;
      return;
    }
    this.#awaiting = merge;
    const endedAt = this.#net.now;
    const probe = () => {
      if (this.#awaiting !== merge) return;
      if (this.#net.components() === 1) {
        merge.seconds = Math.round(this.#net.now - endedAt) / 1000;
        this.#awaiting = null;
      } else this.#net.at(this.#net.now + PROBE_EVERY_MS, probe);
    };
    this.#net.at(this.#net.now + PROBE_EVERY_MS, probe);
  }

  #stopAwaiting(): void {
    this.#awaiting = null;
  }
}
