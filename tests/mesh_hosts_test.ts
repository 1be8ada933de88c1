// The mesh across several hosts: real chat processes (apps/cli/chat.ts --json), each run in a
// network namespace this test makes (tests/_hosts.ts: hosts on two bridges joined by a trunk),
// through restarts, a partition and black-holed addresses. Every address lives only inside those
// namespaces. Needs root: without it, each test says why it was skipped.
import assert from "node:assert/strict";
import { writeAddressBook } from "../packages/core/address_book_file.ts";
import { Hosts } from "./_hosts.ts";
import { type Event, MeshProcess } from "./_process.ts";

/** Why these tests cannot run here, if they cannot. */
const skipped = await Hosts.available();
if (skipped) console.log(`mesh_hosts_test.ts: skipped: ${skipped}`);

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const isLine = (text: string) => (e: Event) => e.event === "message" && e.text === text;

/** One chat peer: where it runs, and its current run. */
interface Member {
  index: number;
  host: number;
  port: number;
  dataDir: string;
  /** The command line after the port (a peer to join through, if any). */
  join: string[];
  process: MeshProcess;
  id: string;
}

/**
 * Chat peers on hosts, `perHost` to a host (peer k on host floor(k / perHost), port 7000 +
 * k % perHost), each with its own data dir; ended, and the hosts removed, by {@linkcode run}.
 */
class HostMesh {
  readonly hosts: Hosts;
  readonly dir: string;
  readonly perHost: number;
  readonly members: Member[] = [];
  /** Every run of every peer, the killed ones too: each is waited for at the end. */
  readonly #runs: MeshProcess[] = [];

  private constructor(hosts: Hosts, dir: string, perHost: number) {
    this.hosts = hosts;
    this.dir = dir;
    this.perHost = perHost;
  }

  /** Runs `body` with `hostCount` fresh hosts, then ends every process and removes the hosts. */
  static async run(
    hostCount: number,
    perHost: number,
    body: (mesh: HostMesh) => Promise<void>,
  ): Promise<void> {
    const hosts = await Hosts.create(hostCount);
    const mesh = new HostMesh(
      hosts,
      await Deno.makeTempDir({ prefix: "meshtalk-hosts-" }),
      perHost,
    );
    try {
      await body(mesh);
    } finally {
      await Promise.all(mesh.#runs.map((process) => stop(process)));
      await hosts.close();
      await Deno.remove(mesh.dir, { recursive: true });
    }
  }

  hostOf(k: number): number {
    return Math.floor(k / this.perHost);
  }

  /** Where peer k listens. */
  addressOf(k: number): [string, number] {
    return [this.hosts.address(this.hostOf(k)), 7000 + (k % this.perHost)];
  }

  /** Starts peer k (joining through `through`, if given) and waits until it is ready. */
  async start(k: number, through?: number): Promise<Member> {
    const [, port] = this.addressOf(k);
    const join = through === undefined ? [] : this.addressOf(through).map(String);
    const member: Member = {
      index: k,
      host: this.hostOf(k),
      port,
      dataDir: `${this.dir}/p${k}`,
      join,
      process: null!,
      id: "",
    };
    this.members[k] = member;
    await this.#launch(member);
    return member;
  }

  /** SIGKILLs peer k. */
  async kill(k: number): Promise<void> {
    await this.members[k].process.kill("SIGKILL");
  }

  /** Starts peer k again, with the data dir, port and command line it had. */
  async restart(k: number): Promise<void> {
    await this.#launch(this.members[k]);
  }

  /** The ids peer k's current run is connected to, as its events tell. */
  neighbours(k: number): Set<string> {
    const ids = new Set<string>();
    for (const event of this.members[k].process.events) {
      if (event.event === "peer-connected") ids.add(event.id as string);
      if (event.event === "peer-disconnected") ids.delete(event.id as string);
    }
    return ids;
  }

  /** Every id peer k's current run was ever connected to. */
  everNeighbours(k: number): Set<string> {
    return new Set(
      this.members[k].process.events.filter((e) => e.event === "peer-connected").map((e) =>
        e.id as string
      ),
    );
  }

  /**
   * The parts peers `ks` make over the connections both ends hold (1: they are one mesh, whatever
   * peers outside `ks` do).
   */
  parts(ks: number[]): number {
    const byId = new Map(ks.map((k) => [this.members[k].id, k]));
    const root = new Map(ks.map((k) => [k, k]));
    const find = (k: number): number => root.get(k) === k ? k : find(root.get(k)!);
    for (const k of ks) {
      for (const id of this.neighbours(k)) {
        const other = byId.get(id);
        if (other === undefined || !this.neighbours(other).has(this.members[k].id)) continue;
        root.set(find(k), find(other));
      }
    }
    return new Set(ks.map(find)).size;
  }

  /**
   * Waits until peers `ks` are one mesh, and says how long that took (for people: nothing is
   * asserted of it); fails after `timeoutMs`, showing who holds whom.
   */
  async oneMesh(ks: number[], what: string, timeoutMs: number): Promise<void> {
    const started = Date.now();
    const deadline = started + timeoutMs;
    while (this.parts(ks) > 1) {
      if (Date.now() > deadline) {
        const table = ks.map((k) =>
          `p${k}: ${
            [...this.neighbours(k)].map((id) => `p${this.members.findIndex((m) => m?.id === id)}`)
              .join(" ")
          }`
        );
        throw new Error(
          `${what}: ${this.parts(ks)} parts after ${timeoutMs} ms\n${table.join("\n")}`,
        );
      }
      await delay(100);
    }
    console.log(`${what}: one mesh after ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }

  /** Peer k types `text`. */
  async say(k: number, text: string): Promise<void> {
    await this.members[k].process.type(text);
  }

  /** Waits until every peer of `ks` but the author shows line `text`, each within `timeoutMs`. */
  async heard(text: string, author: number, ks: number[], timeoutMs: number): Promise<void> {
    await Promise.all(
      ks.filter((k) => k !== author).map((k) =>
        this.members[k].process.waitFor(isLine(text), `p${k} to show "${text}"`, timeoutMs)
      ),
    );
  }

  /** The `message` events peer k's current run showed for line `text`. */
  shown(k: number, text: string): Event[] {
    return this.members[k].process.events.filter(isLine(text));
  }

  /** Waits until peer k has saved at least `count` addresses to its peers.json. */
  async saved(k: number, count: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (true) {
      const text = await Deno.readTextFile(`${this.members[k].dataDir}/peers.json`).catch(() =>
        "{}"
      );
      const peers = (JSON.parse(text).peers ?? []) as unknown[];
      if (peers.length >= count) return;
      if (Date.now() > deadline) {
        throw new Error(`p${k} saved ${peers.length} addresses, not ${count}, in ${timeoutMs} ms`);
      }
      await delay(250);
    }
  }

  async #launch(member: Member): Promise<void> {
    const { index: k, port, dataDir, join } = member;
    const process = new MeshProcess(
      "apps/cli/chat.ts",
      [String(port), "--json", "--nick", `p${k}`, "--data-dir", dataDir, ...join],
      { namespace: this.hosts.namespace(member.host) },
    );
    this.#runs.push(process);
    member.process = process;
    const ready = await process.waitFor((e) => e.event === "ready", `p${k} to be ready`, 30_000);
    member.id = ready.id as string;
  }
}

/** Ends a process: EOF on stdin, and SIGKILL if it has not exited 10 s later. */
async function stop(process: MeshProcess): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<"late">((resolve) => timer = setTimeout(() => resolve("late"), 10_000));
  try {
    const outcome = await Promise.race([process.end(), late]);
    if (outcome === "late") await process.kill("SIGKILL");
  } finally {
    clearTimeout(timer);
  }
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** 12 peers on 6 hosts, two on each; all join through peer 0. */
async function twelvePeers(mesh: HostMesh): Promise<number[]> {
  const all = range(12);
  await mesh.start(0);
  for (const k of all.slice(1)) await mesh.start(k, 0);
  await mesh.oneMesh(all, "the mesh as it formed", 30_000);
  return all;
}

Deno.test({
  name:
    "the bootstrap and three others SIGKILLed and restarted: one mesh again, and every line once",
  ignore: skipped !== null,
  async fn() {
    await HostMesh.run(6, 2, async (mesh) => {
      const all = await twelvePeers(mesh);
      // The bootstrap and one peer on each of three other hosts.
      const victims = [0, 3, 7, 10];
      // What they know of the mesh is on disk before they die.
      for (const k of victims) await mesh.saved(k, 6, 30_000);
      for (const k of victims) await mesh.kill(k);
      // The others make do without them first: they dial each other up to their targets, and
      // stop dialing there. (Restarted at once, they would be redialed at their old addresses.)
      const survivors = all.filter((k) => !victims.includes(k));
      await mesh.oneMesh(survivors, "the mesh without them", 30_000);
      await delay(8000);
      for (const k of victims) await mesh.restart(k);
      await mesh.oneMesh(all, "the mesh after the restarts", 30_000);

      for (const k of all) await mesh.say(k, `after the restarts, from p${k}`);
      for (const k of all) await mesh.heard(`after the restarts, from p${k}`, k, all, 20_000);
      await delay(1000); // time for a second copy to show, if one were coming
      for (const k of all) {
        for (const author of all.filter((a) => a !== k)) {
          const text = `after the restarts, from p${author}`;
          assert.equal(mesh.shown(k, text).length, 1, `p${k} shows "${text}" once`);
        }
      }
    });
  },
});

Deno.test({
  name: "a 20 s partition of half the hosts: each side one mesh, then one again, every line once",
  ignore: skipped !== null,
  async fn() {
    await HostMesh.run(6, 2, async (mesh) => {
      const all = await twelvePeers(mesh);
      const sides = [
        all.filter((k) => mesh.hostOf(k) < mesh.hosts.split),
        all.filter((k) => mesh.hostOf(k) >= mesh.hosts.split),
      ];
      const said: { text: string; author: number; side: number }[] = [];
      const cutAt = Date.now();
      const healAt = cutAt + 20_000;
      await mesh.hosts.partition(true);
      // Lines said on each side at once, and after the connections across the cut timed out
      // (10 s): each reaches its whole side while the cut lasts.
      for (const [when, sayAt] of [["early", 1000], ["late", 12_000]] as const) {
        await delay(cutAt + sayAt - Date.now());
        for (const side of [0, 1]) {
          for (const author of [sides[side][0], sides[side].at(-1)!]) {
            const text = `${when} in the cut, from p${author}`;
            said.push({ text, author, side });
            await mesh.say(author, text);
          }
        }
        for (const { text, author, side } of said.filter((s) => s.text.startsWith(when))) {
          await mesh.heard(text, author, sides[side], healAt - Date.now());
        }
      }
      for (const side of [0, 1]) {
        await mesh.oneMesh(sides[side], `side ${side} in the cut`, healAt - Date.now());
      }
      await delay(healAt - Date.now());
      await mesh.hosts.partition(false);
      await mesh.oneMesh(all, "the mesh after the heal", 30_000);
      for (const { text, author } of said) await mesh.heard(text, author, all, 30_000);
      await delay(1000); // time for a second copy to show, if one were coming

      let relayedLate = 0;
      for (const k of all) {
        const side = sides[0].includes(k) ? 0 : 1;
        for (const { text, author, side: from } of said.filter((s) => s.author !== k)) {
          const shown = mesh.shown(k, text);
          assert.equal(shown.length, 1, `p${k} shows "${text}" once`);
          const [line] = shown;
          if (from === side) continue;
          // Said across the cut: it came after the heal, in answer to a summary, and says so.
          assert.equal(line.late, true, `p${k} shows "${text}" as late`);
          // Its hops are how far it really travelled: from a peer that was never a neighbour of
          // its author, at least one relay.
          const hops = line.hops as number;
          assert.ok(Number.isInteger(hops) && hops >= 0 && hops < all.length, `${hops} hops`);
          if (!mesh.everNeighbours(k).has(mesh.members[author].id)) {
            assert.ok(hops >= 1, `p${k} shows "${text}", relayed to it, with ${hops} hops`);
            relayedLate++;
          }
        }
      }
      assert.ok(relayedLate > 0, "some late lines were relayed, not only passed by their author");
    });
  },
});

Deno.test({
  name: "a peer whose book holds black-holed addresses still joins a reachable peer",
  ignore: skipped !== null,
  async fn() {
    // Host 0: the peer that restarts. Hosts 1-4: black holes (what is sent there vanishes).
    // Host 5: a peer that answers.
    await HostMesh.run(6, 1, async (mesh) => {
      const reachable = await mesh.start(5);
      for (const host of [1, 2, 3, 4]) await mesh.hosts.blackhole(host);
      // Its book, as a run of it before saved it: three addresses on each black hole seen
      // lately, and the reachable peer seen longest ago, so that it is the last one upkeep tries.
      const dataDir = `${mesh.dir}/p0`;
      await Deno.mkdir(dataDir);
      const now = Date.now();
      const holes = [1, 2, 3, 4].flatMap((host) =>
        [7000, 7001, 7002].map((port) => ({
          host: mesh.hosts.address(host),
          port,
          lastSeenAt: now - 1000,
          failures: 0,
          blocked: false,
        }))
      );
      const [host, port] = mesh.addressOf(5);
      await writeAddressBook(`${dataDir}/peers.json`, [
        ...holes,
        { host, port, id: reachable.id, lastSeenAt: now - 60_000, failures: 0, blocked: false },
      ]);
      const peer = await mesh.start(0);
      const started = Date.now();
      await peer.process.waitFor(
        (e) => e.event === "peer-connected" && e.id === reachable.id,
        "the restarted peer to join the reachable one",
        20_000,
      );
      console.log(
        `joined the reachable peer after ${((Date.now() - started) / 1000).toFixed(1)} s`,
      );
      // The black holes were dialed, and did not answer.
      await peer.process.waitForStderr(/no answer within 3 s/, 10_000);
    });
  },
});
