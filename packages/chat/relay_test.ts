import assert from "node:assert/strict";
import { waitFor } from "@meshtalk/core/testing";
import { link, LONG, type Node, settle, startNodes, stopNodes } from "./_nodes.ts";

/** Says one line from each of `speakers`, waiting for each to reach everyone on its side. */
async function speak(nodes: Node[], side: number[], speakers: number[], label: string) {
  const said: string[] = [];
  for (const [k, i] of speakers.entries()) {
    const text = `${label} ${k} from p${i}`;
    const before = side.map((j) => nodes[j].shown.length);
    nodes[i].chat.say(text);
    said.push(text);
    await waitFor(
      () => side.every((j, k) => j === i || nodes[j].shown.length > before[k]),
      `${text} on its side`,
      LONG,
    );
  }
  return said;
}

/** Asserts that `node` showed each text once; returns the messages of those texts. */
function eachOnce(node: Node, texts: string[], who: string) {
  for (const text of texts) {
    const copies = node.shown.filter((m) => m.text === text).length;
    assert.equal(copies, 1, `${who} showed "${text}" ${copies} times`);
  }
  return node.shown.filter((m) => texts.includes(m.text));
}

Deno.test("two peers with disjoint histories end equal: each gets what the other saw, once, late", async () => {
  const nodes = await startNodes(4);
  const [a, b, c, d] = nodes;
  try {
    await link(nodes, [[0, 1], [2, 3]]);
    const left = await speak(nodes, [0, 1], [0, 1, 0], "left");
    const right = await speak(nodes, [2, 3], [3, 2], "right");
    assert.equal(b.shown.some((m) => right.includes(m.text)), false, "apart, so far");
    // One link between b and c, whose own neighbours' links do not change.
    await link(nodes, [[1, 2]]);
    const all = [...left, ...right];
    await waitFor(
      () =>
        nodes.every((n, i) => n.shown.length === all.filter((t) => !t.endsWith(`p${i}`)).length),
      "every line everywhere",
      LONG,
    );
    await settle(nodes);
    for (
      const [node, own, other] of [[a, left, right], [b, left, right], [c, right, left], [
        d,
        right,
        left,
      ]] as const
    ) {
      const who = `p${nodes.indexOf(node)}`;
      const late = eachOnce(node, other, who);
      assert.ok(late.every((m) => m.late), `${who}: the other side's lines are marked late`);
      const mine = node.shown.filter((m) => m.from.id === node.peer.id);
      assert.deepEqual(mine, [], `${who} never shows its own`);
      eachOnce(node, own.filter((t) => !t.endsWith(who)), who);
    }
    // a and d are two links from the join: the lines they got travelled that far.
    assert.deepEqual(
      eachOnce(a, right, "p0").map((m) => [m.from.id, m.hops]).sort(),
      [[c.peer.id, 1], [d.peer.id, 2]].sort(),
      "c's lines came to a through b (1 relay), d's through c and b (2)",
    );
    const histories = nodes.map((n) => n.chat.history().map((m) => m.id).sort().join(","));
    assert.equal(new Set(histories).size, 1, "every history holds the same lines");
  } finally {
    await stopNodes(nodes);
  }
});

Deno.test("after a partition heals, every peer shows every line said on either side exactly once", async () => {
  // A ring of 6: 0-1-2-3-4-5-0. Cutting 2-3 and 5-0 leaves {0,1,2} and {3,4,5}.
  const nodes = await startNodes(6);
  try {
    await link(nodes, [[0, 1], [1, 2], [2, 3], [3, 4], [4, 5], [5, 0]]);
    const before = await speak(nodes, [0, 1, 2, 3, 4, 5], [0, 3], "before");
    await nodes[2].peer.disconnect(nodes[3].peer.id);
    await nodes[5].peer.disconnect(nodes[0].peer.id);
    await waitFor(
      () => nodes[3].peer.peers().length === 1 && nodes[0].peer.peers().length === 1,
      "the cut",
      LONG,
    );
    const sideA = await speak(nodes, [0, 1, 2], [0, 1, 2, 1], "during A");
    const sideB = await speak(nodes, [3, 4, 5], [4, 5, 3], "during B");
    // The heal: one link, between peers in the middle of each side (1 and 4), whose
    // neighbours' links never changed.
    await link(nodes, [[1, 4]]);
    const all = [...before, ...sideA, ...sideB];
    await waitFor(
      () =>
        nodes.every((n, i) => n.shown.length === all.filter((t) => !t.endsWith(`p${i}`)).length),
      "every line everywhere",
      LONG,
    );
    await settle(nodes);
    nodes.forEach((node, i) => {
      const others = all.filter((t) => !t.endsWith(`p${i}`));
      eachOnce(node, others, `p${i}`);
      assert.equal(node.shown.length, others.length, `p${i} showed nothing else`);
      const otherSide = i < 3 ? sideB : sideA;
      const late = node.shown.filter((m) => otherSide.includes(m.text));
      assert.ok(late.every((m) => m.late), `p${i}: the other side's lines are late`);
    });
  } finally {
    await stopNodes(nodes);
  }
});

Deno.test("the broadcast tree repairs itself when its links die: nothing is lost, nothing shown twice", async () => {
  // Two rings of 4 joined twice: enough cycles that tree links can die and the mesh stay whole.
  const nodes = await startNodes(8);
  const edges: [number, number][] = [
    [0, 1],
    [1, 2],
    [2, 3],
    [3, 0],
    [4, 5],
    [5, 6],
    [6, 7],
    [7, 4],
    [0, 4],
    [2, 6],
    [1, 5],
  ];
  try {
    await link(nodes, edges);
    await speak(nodes, [0, 1, 2, 3, 4, 5, 6, 7], [0, 5, 3], "shaping the tree");
    // Cut three tree links (eager ones), keeping every peer reachable.
    const cut: [number, number][] = [];
    for (const [i, j] of [[0, 1], [0, 4], [1, 5], [2, 6], [5, 6]] as const) {
      if (cut.length === 3) break;
      const rest = edges.filter((e) => !cut.some((c) => c[0] === e[0] && c[1] === e[1]));
      if (!connectedWithout(rest, [i, j], nodes.length)) continue;
      await nodes[i].peer.disconnect(nodes[j].peer.id);
      cut.push([i, j]);
    }
    assert.equal(cut.length, 3);
    const grafts = () => nodes.reduce((t, n) => t + n.chat.stats().grafts, 0);
    const before = grafts();
    const lines = await speak(nodes, [0, 1, 2, 3, 4, 5, 6, 7], [0, 7, 3, 4, 0], "after the cut");
    await settle(nodes);
    nodes.forEach((node, i) => eachOnce(node, lines.filter((t) => !t.endsWith(`p${i}`)), `p${i}`));
    assert.ok(grafts() > before, "lazy links were grafted into the tree");
  } finally {
    await stopNodes(nodes);
  }
});

/** True when the graph of `edges` without `gone` still joins all `count` peers. */
function connectedWithout(edges: [number, number][], gone: [number, number], count: number) {
  const rest = edges.filter(([a, b]) => !(a === gone[0] && b === gone[1]));
  const reached = new Set([0]);
  for (const peer of reached) {
    for (const [a, b] of rest) {
      if (a === peer) reached.add(b);
      if (b === peer) reached.add(a);
    }
  }
  return reached.size === count;
}
