// A topology of chat peer processes on loopback: started in order, each dialing the peers it
// has an edge to, checked connected; at the end stopped cleanly, with every peer's own counters
// checked against the lines the benchmark wrote (exactly once at every other peer).
import { ChatProcess, sleep, type Stats, waitUntil } from "./chat_process.ts";
import { DeliveryError } from "./delivery_tally.ts";
import { degrees, distancesFrom, type Edge } from "./graphs.ts";
import { rssMiB } from "./proc_stats.ts";

const READY_MS = 15_000;
const CONNECT_MS = 20_000;
const EXIT_MS = 10_000;
/** After the last run: time for stray copies to land before the peers stop and count. */
const SETTLE_MS = 300;

/** How to start a mesh's peers. */
export interface ChatMeshOptions {
  /** Names the mesh in errors and notes: "chain", "mesh". */
  label: string;
  edges: readonly Edge[];
  peers: number;
  /** Each peer gets its own data dir under this one (p0, p1, …): one root per mesh. */
  root: string;
  v8Flags: string;
  /** This peer runs with `--prof` too (its isolate logs land in the working directory). */
  profilePeer?: number;
  /** `--lines-per-say` of every peer; the command's default if not given. */
  linesPerSay?: number;
}

/**
 * Chat peer processes wired as `edges`, all connected once `start` resolves. `write` is how a
 * run says lines (the mesh counts them for the final check); `finish` stops the peers and checks
 * their counters; `kill` always ends them.
 *
 * @example
 * ```ts ignore
 * import { ChatMesh } from "./chat_mesh.ts";
 * import { chain } from "./graphs.ts";
 * const mesh = await ChatMesh.start({ label: "chain", edges: chain(3), peers: 3, root: "/tmp/m", v8Flags: "" });
 * try {
 *   await mesh.finish();
 * } finally {
 *   await mesh.kill();
 * }
 * ```
 */
export class ChatMesh {
  readonly label: string;
  readonly edges: readonly Edge[];
  readonly procs: ChatProcess[] = [];
  readonly degree: number[];
  /** RSS of each peer once all were connected, MiB. */
  idleRss: number[] = [];
  /** Milliseconds from the last peer ready to every connection up. */
  connectMs = 0;
  readonly #written: number[];

  private constructor(label: string, edges: readonly Edge[], peers: number) {
    this.label = label;
    this.edges = edges;
    this.degree = degrees(edges, peers);
    this.#written = new Array(peers).fill(0);
  }

  /** Starts the peers in index order (each dials the lower-indexed peers it has an edge to). */
  static async start(options: ChatMeshOptions): Promise<ChatMesh> {
    const { label, edges, peers } = options;
    const mesh = new ChatMesh(label, edges, peers);
    try {
      // With --connections 0 a failed dial is not retried: dial only peers already listening.
      for (let i = 0; i < peers; i++) {
        const dials = edges.filter(([a, b]) => Math.max(a, b) === i)
          .map(([a, b]) => mesh.procs[Math.min(a, b)].port);
        const proc = new ChatProcess({
          index: i,
          dataDir: `${options.root}/p${i}`,
          dials,
          v8Flags: options.profilePeer === i ? `--prof,${options.v8Flags}` : options.v8Flags,
          linesPerSay: options.linesPerSay,
        });
        mesh.procs.push(proc);
        await waitUntil(
          () => proc.port > 0,
          READY_MS,
          () => `${label} ${proc.describe()} ready`,
          mesh.broken,
        );
      }
      const setupStart = performance.now();
      await waitUntil(
        () => mesh.procs.every((p) => p.connected === mesh.degree[p.index]),
        CONNECT_MS,
        () =>
          `${label}: every peer's peer-connected events (have ${
            mesh.procs.map((p) => p.connected)
          }, want ${mesh.degree})`,
        mesh.broken,
      );
      mesh.connectMs = performance.now() - setupStart;
      mesh.idleRss = mesh.procs.map((p) => rssMiB(p.pid));
      return mesh;
    } catch (error) {
      await mesh.kill();
      throw error;
    }
  }

  /** Why the mesh cannot go on (a peer exited, or reported an error or a disconnection), or null. */
  readonly broken = (): string | null => {
    const bad = this.procs.find((p) => p.exited || p.problems.length > 0);
    return bad ? `a peer failed: ${bad.describe()}` : null;
  };

  /** Hops from peer `from` to every peer. */
  distancesFrom(from: number): number[] {
    return distancesFrom(from, this.edges, this.procs.length);
  }

  /** Every peer but `index`. */
  others(index: number): ChatProcess[] {
    return this.procs.filter((p) => p.index !== index);
  }

  /** Writes `text` (`lines` newline-ended lines) to peer `index`'s stdin: it says them. */
  write(index: number, text: Uint8Array, lines: number): Promise<void> {
    this.#written[index] += lines;
    return this.procs[index].write(text);
  }

  /**
   * What the peers themselves count, when the driver misses lines: each asked for its stats
   * (`/stats`, which says nothing), the peers whose count of lines shown differs from the lines
   * written to the others so far, e.g. "p9 shows 1830 of 1850 (stats {…})".
   */
  async ownCounts(): Promise<string> {
    const asked = this.procs.filter((p) => !p.exited);
    for (const p of asked) p.stats = null;
    const request = new TextEncoder().encode("/stats\n");
    await Promise.all(asked.map((p) => p.write(request).catch(() => {})));
    await waitUntil(() => asked.every((p) => p.stats), 2000, () => "stats").catch(() => {});
    const written = this.#written.reduce((a, b) => a + b, 0);
    const counts = asked.map((p) => {
      const expected = written - this.#written[p.index];
      const shown = p.stats?.delivered;
      if (shown === expected) return "";
      // The whole event: what the peer dropped (forged, overloaded) and relayed tells more.
      const { event: _, ...all } = (p.stats ?? {}) as Record<string, unknown>;
      return `p${p.index} shows ${shown ?? "?"} of ${expected} (stats ${JSON.stringify(all)})`;
    }).filter((count) => count);
    return counts.length ? counts.join(", ") : "every peer shows every line written to the others";
  }

  /** Current RSS of every peer, MiB. */
  rss(): number[] {
    return this.procs.map((p) => rssMiB(p.pid));
  }

  /**
   * Stops every peer cleanly (stdin closed) and reads the stats each prints on exit. Throws a
   * DeliveryError unless each peer sent exactly the lines written to it and the peers together
   * showed each line once at every other peer.
   */
  async finish(): Promise<Stats[]> {
    await sleep(SETTLE_MS);
    for (const p of this.procs) p.onMessage = null;
    const codes = await Promise.all(this.procs.map((p) => p.end(EXIT_MS)));
    if (codes.some((code) => code !== 0)) {
      throw new Error(
        `${this.label}: exit codes ${codes.join(",")}; ${this.procs.map((p) => p.describe())}`,
      );
    }
    const stats = this.procs.map((p) => {
      if (!p.stats) throw new Error(`${this.label}: no stats event from ${p.describe()}`);
      return p.stats;
    });
    const wrongSent = stats.findIndex((s, i) => s.sent !== this.#written[i]);
    if (wrongSent >= 0) {
      throw new DeliveryError(
        `${this.label}: p${wrongSent} says it sent ${stats[wrongSent].sent} lines; ` +
          `${this.#written[wrongSent]} were written to it`,
      );
    }
    const written = this.#written.reduce((a, b) => a + b, 0);
    const expected = written * (this.procs.length - 1);
    const delivered = stats.reduce((n, s) => n + s.delivered, 0);
    if (delivered !== expected) {
      throw new DeliveryError(
        `${this.label}: the peers showed ${delivered} lines in all; ${written} lines written, ` +
          `each to be shown once at ${this.procs.length - 1} peers, make ${expected} ` +
          `(${delivered > expected ? "some shown twice" : "some missing"})`,
      );
    }
    return stats;
  }

  /** Kills every peer still running and waits for them. */
  async kill(): Promise<void> {
    await Promise.all(this.procs.map((p) => p.kill()));
  }
}
