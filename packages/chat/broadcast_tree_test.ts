import assert from "node:assert/strict";
import { BroadcastTree, type TreeMessage } from "./broadcast_tree.ts";
import { StreamLog } from "./stream_log.ts";

type Item = { stream: string; n: number; hops: number };

/**
 * Peers joined by links that carry messages in order, one hop a turn: enough to watch a tree
 * form, break and heal without sockets or timers.
 */
class Mesh {
  readonly trees: BroadcastTree<Item>[] = [];
  readonly shown: Map<string, number>[] = [];
  /** Per peer: the messages it was given late. */
  readonly late: Set<string>[] = [];
  readonly links = new Set<string>();
  #queue: [to: number, from: number, message: TreeMessage<Item>][] = [];
  now = 0;
  frames = 0;

  constructor(count: number) {
    for (let i = 0; i < count; i++) {
      const shown = new Map<string, number>();
      this.shown.push(shown);
      const late = new Set<string>();
      this.late.push(late);
      this.trees.push(
        new BroadcastTree<Item>({
          log: new StreamLog(),
          send: (peers, message) => {
            for (const peer of peers) {
              this.frames++;
              this.#queue.push([Number(peer), i, message]);
            }
          },
          deliver: (item, _from, cameLate) => {
            const key = `${item.stream}#${item.n}`;
            shown.set(key, (shown.get(key) ?? 0) + 1);
            if (cameLate) late.add(key);
          },
          forward: (item) => item.hops > 1 ? { ...item, hops: item.hops - 1 } : null,
          now: () => this.now,
          graftAfterMs: 100,
        }),
      );
    }
  }

  link(a: number, b: number): void {
    this.links.add(`${Math.min(a, b)}-${Math.max(a, b)}`);
    this.trees[a].join(String(b));
    this.trees[b].join(String(a));
  }

  cut(a: number, b: number): void {
    this.links.delete(`${Math.min(a, b)}-${Math.max(a, b)}`);
    this.trees[a].leave(String(b));
    this.trees[b].leave(String(a));
  }

  /** Delivers everything in flight (and what it causes), ticking every 50 ms of model time. */
  settle(rounds = 200): void {
    for (let round = 0; round < rounds; round++) {
      while (this.#queue.length > 0) {
        const batch = this.#queue;
        this.#queue = [];
        for (const [to, from, message] of batch) {
          if (!this.links.has(`${Math.min(to, from)}-${Math.max(to, from)}`)) continue;
          this.trees[to].receive(String(from), message);
        }
      }
      this.now += 50;
      for (const tree of this.trees) tree.tick();
      if (this.#queue.length === 0 && round > 40) return;
    }
  }

  /** True when every peer can reach every other over the links. */
  connected(): boolean {
    const reached = new Set([0]);
    for (const peer of reached) {
      for (const link of this.links) {
        const [a, b] = link.split("-").map(Number);
        if (a === peer) reached.add(b);
        if (b === peer) reached.add(a);
      }
    }
    return reached.size === this.trees.length;
  }

  /** True when every peer but its author showed every message once. */
  everyoneOnce(items: Item[], except: (item: Item, peer: number) => boolean): boolean {
    return items.every((item) =>
      this.shown.every((shown, peer) =>
        except(item, peer) || shown.get(`${item.stream}#${item.n}`) === 1
      )
    );
  }
}

function ring(count: number, chords: [number, number][]): Mesh {
  const mesh = new Mesh(count);
  for (let i = 0; i < count; i++) mesh.link(i, (i + 1) % count);
  for (const [a, b] of chords) mesh.link(a, b);
  mesh.settle();
  return mesh;
}

const say = (author: number, n: number): Item => ({ stream: `p${author}.1`, n, hops: 32 });

Deno.test("a broadcast tree delivers every message once, and settles to about one copy a peer", () => {
  const mesh = ring(12, [[0, 6], [3, 9], [1, 7], [2, 10], [4, 8]]);
  const items: Item[] = [];
  for (let n = 1; n <= 30; n++) {
    const author = n % 12;
    const item = say(author, Math.ceil(n / 12));
    items.push(item);
    mesh.trees[author].publish(item);
    mesh.settle();
  }
  assert.ok(mesh.everyoneOnce(items, (item, peer) => item.stream === `p${peer}.1`));
  // Once settled, a message is pushed whole about once per peer.
  const before = mesh.trees.reduce((n, t) => n + t.stats().pushed, 0);
  mesh.trees[5].publish(say(5, 4));
  mesh.settle();
  const pushed = mesh.trees.reduce((n, t) => n + t.stats().pushed, 0) - before;
  assert.ok(pushed <= 12, `${pushed} whole copies for 11 peers`);
  // Each author's stream has a tree of its own: p5's spans the 12 peers with about 11 links.
  const eagerLinks = mesh.trees.reduce((n, t) => n + t.eagerFor("p5.1").size, 0) / 2;
  assert.ok(eagerLinks <= 13, `${eagerLinks} eager links of ${mesh.links.size}`);
});

Deno.test("when tree links die, announcements on lazy links repair it: nothing is lost", () => {
  const mesh = ring(10, [[0, 5], [2, 7], [4, 9]]);
  mesh.trees[0].publish(say(0, 1));
  mesh.settle();
  // Cut tree links (eager ones), as long as the mesh stays connected.
  let cuts = 0;
  for (const link of [...mesh.links]) {
    const [a, b] = link.split("-").map(Number);
    if (!mesh.trees[a].eagerFor("p0.1").has(String(b)) || cuts === 3) continue;
    mesh.links.delete(link);
    const connected = mesh.connected();
    mesh.links.add(link);
    if (!connected) continue;
    mesh.cut(a, b);
    cuts++;
  }
  assert.ok(cuts > 0);
  const items = [2, 3, 4, 5].map((n) => say(0, n));
  for (const item of items) mesh.trees[0].publish(item);
  mesh.settle();
  assert.ok(mesh.everyoneOnce(items, (_, peer) => peer === 0));
  assert.ok(mesh.trees.some((t) => t.stats().grafts > 0), "repaired by grafts");
});

Deno.test("after a partition heals, summaries bring every peer what the other side said, once, late", () => {
  const mesh = ring(8, [[0, 4]]);
  // Split {0,1,2,3} from {4,5,6,7}: cut 3-4, 7-0 and the chord 0-4.
  for (const [a, b] of [[3, 4], [7, 0], [0, 4]] as const) mesh.cut(a, b);
  const items = [say(1, 1), say(1, 2), say(6, 1), say(5, 1), say(2, 1)];
  for (const item of items) mesh.trees[Number(item.stream.slice(1, 2))].publish(item);
  mesh.settle();
  assert.equal(mesh.shown[4].size, 2, "the sides heard only their own side");
  // One link back, between peers whose other links did not change.
  mesh.link(3, 4);
  mesh.settle();
  assert.ok(mesh.everyoneOnce(items, (item, peer) => item.stream === `p${peer}.1`));
  assert.ok(mesh.trees.reduce((n, t) => n + t.stats().late, 0) > 0);
});

Deno.test("a message stops at its hop limit", () => {
  const mesh = new Mesh(5);
  for (let i = 0; i < 4; i++) mesh.link(i, i + 1);
  mesh.settle();
  mesh.trees[0].publish({ stream: "p0.1", n: 1, hops: 2 });
  mesh.settle();
  assert.deepEqual(mesh.shown.map((s) => s.size), [0, 1, 1, 0, 0]);
});

Deno.test("a hole no neighbour keeps is grafted five times, backing off, not for as long as it is missing; a new link still brings it", () => {
  let now = 0;
  const grafts: string[] = [];
  const shown: string[] = [];
  const tree = new BroadcastTree<Item>({
    log: new StreamLog(),
    send: (peers, message) => {
      if (message.t === "graft") grafts.push(`${peers} ${JSON.stringify(message.want)}`);
    },
    deliver: (item, _, late) => shown.push(`${item.stream}#${item.n}${late ? " late" : ""}`),
    forward: (item) => item,
    now: () => now,
  });
  tree.join("b");
  tree.receive("b", { t: "prune", streams: ["p9.1"] });
  // b had 1..3 of a stream, but keeps none of them any more (it is slow, or they went by fast):
  // it never answers a graft.
  tree.receive("b", { t: "ihave", have: [["p9.1", [[1, 3]]]] });
  const at: number[] = [];
  for (; now <= 40_000; now += 100) {
    const before = grafts.length;
    tree.tick();
    if (grafts.length > before) at.push(now);
  }
  assert.deepEqual(grafts, Array(5).fill('b [["p9.1",[1,2,3]]]'));
  assert.deepEqual(at, [200, 400, 800, 1600, 3200], "each try waits twice as long");
  assert.equal(tree.stats().abandoned, 3);
  // Given up asking, not counted as had: a summary answer on a new link brings it.
  tree.join("c");
  tree.receive("c", { t: "item", item: say(9, 2), late: true });
  assert.deepEqual(shown, ["p9.1#2 late"]);
});

Deno.test("a message said across a partition is late at every peer of the other side, also one that grafted it", () => {
  const mesh = new Mesh(3);
  mesh.link(1, 2);
  mesh.settle();
  // The link 1-2 carries announcements only (as when the tree reaches 2 some other way).
  mesh.trees[1].receive("2", { t: "prune", streams: ["p0.1"] });
  mesh.trees[2].receive("1", { t: "prune", streams: ["p0.1"] });
  mesh.trees[0].publish(say(0, 1)); // said on the other side, with no link to it
  mesh.settle();
  mesh.link(0, 1); // the heal: 1 gets it in answer to its summary, and announces it to 2
  mesh.settle();
  assert.ok(mesh.trees[2].stats().grafts > 0, "2 grafted it from 1");
  assert.ok(mesh.everyoneOnce([say(0, 1)], (_, peer) => peer === 0));
  assert.deepEqual(mesh.late.map((late) => [...late]), [[], ["p0.1#1"], ["p0.1#1"]]);
});

Deno.test("each author's stream settles to a tree of its own: several authors at once cost about one copy a peer each", () => {
  const mesh = ring(10, [[0, 5], [2, 7], [4, 9], [1, 6]]);
  const items: Item[] = [];
  // Four authors, interleaved, as fast as the links carry them.
  for (let n = 1; n <= 40; n++) {
    for (const author of [0, 3, 5, 8]) {
      const item = say(author, n);
      items.push(item);
      mesh.trees[author].publish(item);
    }
    mesh.settle(1);
  }
  mesh.settle();
  assert.ok(mesh.everyoneOnce(items, (item, peer) => item.stream === `p${peer}.1`));
  const before = mesh.trees.reduce((n, t) => n + t.stats().pushed, 0);
  for (const author of [0, 3, 5, 8]) mesh.trees[author].publish(say(author, 41));
  mesh.settle();
  const pushed = mesh.trees.reduce((n, t) => n + t.stats().pushed, 0) - before;
  assert.ok(pushed <= 4 * 10, `${pushed} whole copies for 4 messages to 9 peers each`);
  assert.equal(mesh.trees.reduce((n, t) => n + t.stats().grafts, 0), 0, "no tree flapped");
});

Deno.test("an announcement names exactly what the lazy link did not carry: runs of numbers per stream", () => {
  const sent: TreeMessage<Item>[] = [];
  const tree = new BroadcastTree<Item>({
    log: new StreamLog(),
    send: (_peers, message) => sent.push(message),
    deliver: () => {},
    forward: (item) => item,
    now: () => 0,
  });
  tree.join("b");
  tree.join("c");
  tree.receive("c", { t: "prune", streams: ["p1.1", "p2.1"] });
  for (const n of [1, 2, 3, 5, 6]) tree.receive("b", { t: "item", item: say(1, n), late: false });
  tree.receive("b", { t: "item", item: say(2, 7), late: false });
  sent.length = 0;
  tree.tick();
  assert.deepEqual(sent, [{ t: "ihave", have: [["p1.1", [[1, 3], [5, 6]]], ["p2.1", [[7, 7]]]] }]);
});

Deno.test("a lazy link made eager before its announcement went out still hears of what it missed", () => {
  const sent: [string, TreeMessage<Item>][] = [];
  const tree = new BroadcastTree<Item>({
    log: new StreamLog(),
    send: (peers, message) => peers.forEach((peer) => sent.push([peer, message])),
    deliver: () => {},
    forward: (item) => item,
    now: () => 0,
  });
  tree.join("b");
  tree.join("c");
  tree.receive("c", { t: "prune", streams: ["p1.1"] });
  tree.receive("b", { t: "item", item: say(1, 1), late: false }); // noted for c, not sent
  sent.length = 0;
  tree.receive("c", { t: "graft", want: [["p1.1", [7]]] }); // c asks for something else first
  assert.deepEqual(sent, [["c", { t: "ihave", have: [["p1.1", [[1, 1]]]] }]]);
});

Deno.test("grafts to two neighbours at once leave this peer on the tree: what one sends is not passed to the other, which has it", () => {
  const sent: [string, TreeMessage<Item>][] = [];
  let now = 0;
  const tree = new BroadcastTree<Item>({
    log: new StreamLog(),
    send: (peers, message) => peers.forEach((peer) => sent.push([peer, message])),
    deliver: () => {},
    forward: (item) => item,
    now: () => now,
    graftAfterMs: 200,
  });
  tree.join("a");
  tree.join("b");
  tree.join("c");
  for (const peer of ["a", "b"]) tree.receive(peer, { t: "prune", streams: ["p1.1"] });
  // a announces 1-2 first, b 1-3, then a 3: 1 and 2 are grafted from a, 3 from b.
  tree.receive("a", { t: "ihave", have: [["p1.1", [[1, 2]]]] });
  tree.receive("b", { t: "ihave", have: [["p1.1", [[1, 3]]]] });
  tree.receive("a", { t: "ihave", have: [["p1.1", [[3, 3]]]] });
  now = 200;
  sent.length = 0;
  tree.tick();
  assert.deepEqual(sent.map(([peer, message]) => [peer, message.t]).sort(), [
    ["a", "graft"],
    ["b", "graft"],
  ]);
  sent.length = 0;
  tree.receive("a", { t: "item", item: say(1, 1), late: false });
  tree.receive("a", { t: "item", item: say(1, 2), late: false });
  tree.receive("b", { t: "item", item: say(1, 3), late: false });
  // Only c, which announced none of them, is sent them; a and b, both eager now, are sent
  // nothing they would prune this link for.
  assert.deepEqual(
    sent.filter(([, message]) => message.t === "item").map(([peer, message]) => [
      peer,
      message.t === "item" ? message.item.n : 0,
    ]),
    [["c", 1], ["c", 2], ["c", 3]],
  );
  assert.deepEqual([...tree.eagerFor("p1.1")].sort(), ["a", "b", "c"]);
});
