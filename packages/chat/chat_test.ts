import assert from "node:assert/strict";
import { startPeer } from "@meshtalk/core";
import { waitFor } from "@meshtalk/core/testing";
import {
  type Chat,
  chatApp,
  ChatError,
  type ChatWireMessage,
  createChat,
  type NickChange,
} from "./mod.ts";
import { signedSay } from "./_testing.ts";
import {
  assertTopology,
  link,
  LONG,
  type Node,
  settle,
  startNodes,
  stopNodes,
  sum,
} from "./_nodes.ts";

/** A message sent by the test: by which node, with which id and text. */
interface Sent {
  from: number;
  id: string;
  text: string;
}

/** Sends `total` messages in rounds, interleaving `senders`, yielding between rounds. */
async function flood(nodes: Node[], senders: number[], total: number): Promise<Sent[]> {
  const sent: Sent[] = [];
  const perRound = 50;
  for (let round = 0; sent.length < total; round++) {
    for (let k = 0; k < perRound && sent.length < total; k++) {
      const from = senders[(round + k) % senders.length];
      const text = `message ${sent.length} from p${from}`;
      const message = nodes[from].chat.say(text);
      assert.equal(message.text, text);
      assert.equal(message.from.id, nodes[from].peer.id);
      sent.push({ from, id: message.id, text });
    }
    await new Promise((resolve) => setTimeout(resolve, 0)); // let relaying interleave
  }
  assert.equal(new Set(sent.map((m) => m.id)).size, total, "message ids are unique");
  return sent;
}

/** How many says carried `sent`: line `i` of a say has the id `<say id>.<i>`. */
const sayCount = (sent: Sent[]) => new Set(sent.map((m) => m.id.split(".")[0])).size;

/** Asserts every node showed every message of the others exactly once, live, and nothing else. */
function assertEachOnce(nodes: Node[], sent: Sent[]): void {
  nodes.forEach((node, i) => {
    const expected = new Map(sent.filter((m) => m.from !== i).map((m) => [m.id, m]));
    const counts = new Map<string, number>();
    for (const message of node.shown) counts.set(message.id, (counts.get(message.id) ?? 0) + 1);
    const repeated = [...counts].filter(([, n]) => n > 1);
    assert.deepEqual(repeated, [], `p${i} showed no message twice`);
    const unexpected = node.shown.filter((m) => !expected.has(m.id)).map((m) => m.text);
    assert.deepEqual(unexpected, [], `p${i} showed nothing but the others' messages`);
    const missing = [...expected.values()].filter((m) => !counts.has(m.id)).map((m) => m.text);
    assert.deepEqual(missing, [], `p${i} showed every message of the others`);
    assert.equal(node.shown.length, expected.size);
    for (const message of node.shown) {
      const original = expected.get(message.id)!;
      assert.equal(message.text, original.text);
      assert.equal(message.from.id, nodes[original.from].peer.id);
      assert.equal(message.from.nick, `p${original.from}`);
      assert.equal(message.direct, false);
      assert.equal(message.late, false);
    }
    const stats = node.chat.stats();
    assert.equal(stats.delivered, node.shown.length, `p${i} delivered what it showed`);
    assert.equal(stats.sent, sent.filter((m) => m.from === i).length, `p${i} sent`);
  });
}

/**
 * Once the tree has settled, a line from any sender reaches each other peer over exactly one
 * copy: N - 1 copies a say in all, and no duplicate.
 */
async function assertTreeSettled(nodes: Node[], senders: number[]): Promise<void> {
  const totals = () => {
    const stats = nodes.map((n) => n.chat.stats());
    return {
      framesSent: stats.reduce((t, s) => t + s.framesSent, 0),
      duplicates: stats.reduce((t, s) => t + s.duplicates, 0),
    };
  };
  const oneEach = async (round: string) => {
    for (const sender of senders) {
      const shown = nodes.map((n) => n.shown.length);
      nodes[sender].chat.say(`${round}, from p${sender}`);
      await waitFor(
        () => nodes.every((n, i) => i === sender || n.shown.length === shown[i] + 1),
        `the ${round} line from p${sender} everywhere`,
        LONG,
      );
    }
    await settle(nodes);
  };
  // A burst leaves the tree reshaping for a moment (links grafted where copies queued up): one
  // line from each sender lets that end.
  await oneEach("warm-up");
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const before = totals();
  await oneEach("settled");
  const after = totals();
  assert.equal(after.duplicates - before.duplicates, 0, "no duplicate once settled");
  assert.equal(
    after.framesSent - before.framesSent,
    senders.length * (nodes.length - 1),
    "one copy a peer once settled",
  );
}

/** A small deterministic generator (Numerical Recipes LCG): the same mesh on every run. */
function lcg(seed: number): (n: number) => number {
  let state = seed >>> 0;
  return (n) => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return Math.floor((state / 2 ** 32) * n);
  };
}

/** A connected random graph: a random spanning tree, then random extra edges up to `edges`. */
function randomMesh(count: number, edges: number, seed: number): [number, number][] {
  const random = lcg(seed);
  const order = Array.from({ length: count }, (_, i) => i);
  for (let i = count - 1; i > 0; i--) {
    const j = random(i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  const out: [number, number][] = [];
  const degree = new Array(count).fill(0);
  const has = (a: number, b: number) =>
    out.some(([x, y]) => (x === a && y === b) || (x === b && y === a));
  const add = (a: number, b: number) => {
    out.push([a, b]);
    degree[a]++;
    degree[b]++;
  };
  for (let k = 1; k < count; k++) {
    // Attach to an earlier node of degree under 3: there is one, a tree always has a leaf.
    const candidates = order.slice(0, k).filter((n) => degree[n] < 3);
    add(order[k], candidates[random(candidates.length)] ?? order[k - 1]);
  }
  for (let tries = 0; out.length < edges && tries < 10_000; tries++) {
    const a = random(count);
    const b = random(count);
    if (a === b || has(a, b) || degree[a] >= 4 || degree[b] >= 4) continue;
    add(a, b);
  }
  return out;
}

Deno.test("a ring of 5: 1,000 messages from 4 senders reach every other peer exactly once", async () => {
  const nodes = await startNodes(5);
  try {
    const edges: [number, number][] = [[0, 1], [1, 2], [2, 3], [3, 4], [4, 0]];
    await link(nodes, edges);
    assertTopology(nodes, edges);
    const sent = await flood(nodes, [0, 1, 2, 3], 1000);
    await waitFor(
      () => nodes.every((node, i) => node.shown.length >= sent.filter((m) => m.from !== i).length),
      "every message at every peer",
      LONG,
    );
    await settle(nodes);
    assertEachOnce(nodes, sent);
    // In a ring the first says go both ways round and meet: the link where they meet is pruned,
    // and the rest travel the 4 links of the tree left, once each: about 4 copies a say.
    const total = (pick: (s: ReturnType<Chat["stats"]>) => number) =>
      sum(nodes, (n) => pick(n.chat.stats()));
    const says = sayCount(sent);
    assert.ok(says < sent.length, "lines written together were sent together");
    assert.equal(total((s) => s.delivered), 4 * sent.length);
    assert.equal(total((s) => s.relayed), 4 * says);
    assert.equal(total((s) => s.framesSent), total((s) => s.received + s.duplicates));
    assert.ok(total((s) => s.prunes) > 0, "the cycle was cut back to a tree");
    await assertTreeSettled(nodes, [0, 1, 2, 3]);
  } finally {
    await stopNodes(nodes);
  }
});

Deno.test("a random mesh of 10: 1,000 messages from 5 senders reach every other peer exactly once", async () => {
  const edges = randomMesh(10, 15, 20240611);
  assert.equal(edges.length, 15);
  const nodes = await startNodes(10);
  try {
    await link(nodes, edges);
    assertTopology(nodes, edges);
    const sent = await flood(nodes, [0, 3, 5, 7, 9], 1000);
    await waitFor(
      () => nodes.every((node, i) => node.shown.length >= sent.filter((m) => m.from !== i).length),
      "every message at every peer",
      LONG,
    );
    await settle(nodes);
    assertEachOnce(nodes, sent);
    // A flood would send 2E - (N - 1) = 21 copies a say; once the tree settles, a say goes to
    // each of the 9 others once, along the tree, and is only announced on the other links.
    const total = (pick: (s: ReturnType<Chat["stats"]>) => number) =>
      sum(nodes, (n) => pick(n.chat.stats()));
    const says = sayCount(sent);
    assert.equal(total((s) => s.delivered), 9 * sent.length);
    assert.equal(total((s) => s.relayed), 9 * says);
    assert.equal(total((s) => s.framesSent), total((s) => s.received + s.duplicates));
    await assertTreeSettled(nodes, [0, 3, 5, 7, 9]);
  } finally {
    await stopNodes(nodes);
  }
});

Deno.test("a peer never shows its own message when a cycle brings it back", async () => {
  const nodes = await startNodes(2);
  const [a, b] = nodes;
  try {
    await link(nodes, [[0, 1]]);
    const own: ChatWireMessage[] = [];
    b.peer.app(chatApp).onMessage((body) => {
      if (body.type === "say") own.push(body);
    });
    const mine = a.chat.say("mine");
    await waitFor(() => own.length === 1 && b.shown.length === 1, "a's message at b", LONG);
    b.chat.say("yours");
    await waitFor(() => a.shown.length === 1, "b's message at a", LONG);
    // b echoes a's message back as if a cycle had brought it there.
    const wire = own[0];
    assert.equal(wire.id, mine.id);
    const before = a.chat.stats().duplicates;
    await b.peer.app(chatApp).send(a.peer.id, { type: "say", ...wire, hops: wire.hops - 1 });
    await waitFor(() => a.chat.stats().duplicates === before + 1, "the echo to be dropped", LONG);
    assert.deepEqual(a.shown.map((m) => m.text), ["yours"]);
    assert.equal(a.chat.stats().delivered, 1);
  } finally {
    await stopNodes(nodes);
  }
});

Deno.test("hop limit: with hops 2 in a chain, a message reaches the next 2 peers only", async () => {
  const nodes = await startNodes(5, { hops: 2 });
  try {
    const edges: [number, number][] = [[0, 1], [1, 2], [2, 3], [3, 4]];
    await link(nodes, edges);
    assertTopology(nodes, edges);
    const texts = (node: Node) => node.shown.map((m) => m.text);
    nodes[0].chat.say("from the end");
    await waitFor(
      () => texts(nodes[2]).includes("from the end"),
      "the message 2 hops away",
      LONG,
    );
    // Sent once p2 has shown (and so relayed, if it were going to) the first message: on each
    // link it travels behind any copy of the first, so once it is at p3 and p4, so would be the
    // first message had it been relayed past its hop limit.
    nodes[2].chat.say("from the middle");
    await waitFor(
      () => [0, 1, 3, 4].every((i) => texts(nodes[i]).includes("from the middle")),
      "the message from the middle everywhere",
      LONG,
    );
    await settle(nodes);
    assert.deepEqual(texts(nodes[0]), ["from the middle"]);
    assert.deepEqual(texts(nodes[1]), ["from the end", "from the middle"]);
    assert.deepEqual(texts(nodes[2]), ["from the end"]);
    assert.deepEqual(texts(nodes[3]), ["from the middle"], "3 hops away: not shown");
    assert.deepEqual(texts(nodes[4]), ["from the middle"], "4 hops away: not shown");
    assert.deepEqual(nodes[1].shown.map((m) => m.hops), [0, 0]);
    assert.deepEqual(nodes[2].shown.map((m) => m.hops), [1]);
    assert.deepEqual([nodes[0], nodes[3], nodes[4]].map((n) => n.shown[0].hops), [1, 0, 1]);
    assert.equal(nodes[2].chat.stats().relayed, 0, "p2 got the first message with no hop left");
    assert.equal(sum(nodes, (n) => n.chat.stats().duplicates), 0, "a chain has no cycle");
  } finally {
    await stopNodes(nodes);
  }
});

Deno.test("a direct message in a chain is shown at its recipient only", async () => {
  const nodes = await startNodes(3);
  const [a, b, c] = nodes;
  try {
    await link(nodes, [[0, 1], [1, 2]]);
    // c speaks first so that a learns c's nickname (used further down); a full id alone would do.
    c.chat.say("hello from p2");
    await waitFor(
      () => a.shown.length === 1 && b.shown.length === 1,
      "c's message at a and b",
      LONG,
    );
    const psst = a.chat.direct(c.peer.id, "psst");
    assert.equal(psst.direct, true);
    assert.equal(psst.from.id, a.peer.id);
    await waitFor(() => c.shown.length === 1, "c to show the direct message", LONG);
    assert.equal(c.shown[0].id, psst.id);
    assert.equal(c.shown[0].text, "psst");
    assert.equal(c.shown[0].direct, true);
    assert.equal(c.shown[0].from.id, a.peer.id);
    assert.equal(c.shown[0].hops, 1);
    // Said after c showed it, so on each link it travels behind anything c might have sent on
    // about it: once it is at a, any echo of the direct message would be too.
    c.chat.say("still here");
    await waitFor(
      () => a.shown.length === 2 && b.shown.length === 2,
      "c's second message at a and b",
      LONG,
    );
    assert.deepEqual(a.shown.map((m) => m.text), ["hello from p2", "still here"], "no echo at a");
    assert.deepEqual(
      b.shown.map((m) => m.text),
      ["hello from p2", "still here"],
      "b relays but does not show",
    );
    assert.equal(b.chat.stats().relayed, 3, "b relayed the direct message and c's two");
    assert.equal(b.chat.stats().delivered, 2);
    assert.equal(c.chat.stats().relayed, 0, "a direct message stops at its recipient");
    assert.ok(!b.chat.history().some((m) => m.text === "psst"), "not history for a relay");

    // By nickname: a knows c's from c's message, though c is not its neighbour.
    assert.equal(a.chat.knownPeers().get(c.peer.id), "p2");
    const byNick = a.chat.direct("p2", "by nick");
    await waitFor(() => c.shown.length === 2, "the message by nickname", LONG);
    assert.equal(c.shown[1].id, byNick.id);
    assert.equal(c.shown[1].direct, true);
    // By id prefix, to a neighbour.
    a.chat.direct(b.peer.id.slice(0, 8), "to b");
    await waitFor(() => b.shown.length === 3, "the message by id prefix", LONG);
    assert.equal(b.shown[2].text, "to b");
    assert.equal(b.shown[2].direct, true);

    const sent = a.chat.stats().sent;
    assert.throws(() => a.chat.direct("nobody", "lost"), ChatError);
    assert.equal(a.chat.stats().sent, sent, "nothing was sent");

    c.chat.say("bye from p2");
    await waitFor(() => a.shown.length === 3, "c's last message at a", LONG);
    assert.deepEqual(a.shown.map((m) => m.text), ["hello from p2", "still here", "bye from p2"]);
    assert.deepEqual(c.shown.map((m) => m.text), ["psst", "by nick"], "not the one to b");
    assert.deepEqual(
      b.shown.map((m) => m.text),
      ["hello from p2", "still here", "to b", "bye from p2"],
    );
  } finally {
    await stopNodes(nodes);
  }
});

Deno.test("a late joiner gets the recent messages once, in order, marked late", async () => {
  const nodes = await startNodes(3);
  const [a, b, c] = nodes;
  try {
    await link(nodes, [[0, 1]]);
    const earlier: string[] = [];
    for (let i = 0; i < 5; i++) {
      const [from, to] = i % 2 === 0 ? [a, b] : [b, a];
      const text = `earlier ${i}`;
      from.chat.say(text);
      earlier.push(text);
      await waitFor(() => to.shown.length === Math.floor(i / 2) + 1, `${text} to arrive`, LONG);
    }
    assert.equal(c.shown.length, 0);

    // c joins both: whichever answers its summary first sends the 5 messages; the other sends
    // what c still lacks when c's summary reaches it (all 5 again, or nothing).
    await link(nodes, [[2, 1], [2, 0]]);
    await waitFor(() => c.shown.length === 5, "the earlier messages at c", LONG);
    assert.deepEqual(c.shown.map((m) => m.text), earlier, "shown once each, in order");
    assert.ok(c.shown.every((m) => m.late && !m.direct));
    assert.equal(c.chat.stats().late, 5);
    assert.deepEqual(
      c.shown.map((m) => m.from.id),
      earlier.map((_, i) => (i % 2 === 0 ? a : b).peer.id),
    );
    assert.equal(c.chat.stats().delivered, 5);
    assert.deepEqual(c.chat.history().map((m) => m.text), earlier);

    const live = a.chat.say("live");
    await waitFor(() => c.shown.length === 6, "the live message at c", LONG);
    await settle(nodes);
    assert.equal(c.shown[5].id, live.id);
    assert.equal(c.shown[5].late, false);
    assert.equal(c.shown.filter((m) => m.id === live.id).length, 1);
    assert.equal(b.shown.filter((m) => m.id === live.id).length, 1);
    assert.equal(c.shown.length, 6);
    assert.equal(c.chat.stats().delivered, 6);
  } finally {
    await stopNodes(nodes);
  }
});

Deno.test("a new nickname reaches every peer at once, before its owner says anything", async () => {
  const nodes = await startNodes(3);
  const [a, b, c] = nodes;
  try {
    await link(nodes, [[0, 1], [1, 2]]);
    a.chat.say("before");
    await waitFor(() => c.shown.length === 1, "the first message", LONG);
    const changes = [b, c].map((node) => {
      const seen: NickChange[] = [];
      node.chat.onNick((change) => seen.push(change));
      return seen;
    });
    a.chat.setNick("zed");
    assert.equal(a.chat.nick, "zed");
    assert.equal(a.peer.nick, "zed");
    await waitFor(() => changes.every((seen) => seen.length === 1), "the rename everywhere", LONG);
    for (const seen of changes) {
      assert.deepEqual(seen, [{ id: a.peer.id, nick: "zed", before: "p0", late: false }]);
    }
    assert.equal(c.chat.knownPeers().get(a.peer.id), "zed");
    assert.equal(c.shown.length, 1, "a rename is not a message");
    // c resolves a, two hops away, by the new nickname, though a has said nothing since.
    const toZed = c.chat.direct("zed", "hi zed");
    await waitFor(() => a.shown.length === 1, "the direct message to zed", LONG);
    assert.equal(a.shown[0].id, toZed.id);
    assert.equal(a.shown[0].direct, true);
    const after = a.chat.say("after");
    assert.equal(after.from.nick, "zed");
    await waitFor(() => b.shown.length === 2, "the second message", LONG);
    assert.deepEqual(b.shown.map((m) => [m.text, m.from.nick]), [["before", "p0"], [
      "after",
      "zed",
    ]]);
    assert.equal(b.chat.stats().delivered, 2);
  } finally {
    await stopNodes(nodes);
  }
});

Deno.test("late answers carry no message past its hop limit; hops count from the author's limit", async () => {
  // p0 says something with a 2-hop limit; it stops at p2. p3 then joins p2, whose answer to its
  // summary must not hold it: the message had no hop left at p2.
  const nodes = await startNodes(4, { hops: 2 });
  try {
    await link(nodes, [[0, 1], [1, 2]]);
    nodes[0].chat.say("two hops only");
    await waitFor(() => nodes[2].shown.length === 1, "the message at p2", LONG);
    await link(nodes, [[2, 3]]);
    nodes[1].chat.say("later");
    await waitFor(
      () => nodes[3].shown.some((m) => m.text === "later"),
      "a live message at p3",
      LONG,
    );
    await settle(nodes);
    assert.deepEqual(nodes[3].shown.map((m) => m.text), ["later"]);
    assert.equal(nodes[2].shown[0].hops, 1, "one hop travelled, by the author's limit");
  } finally {
    await stopNodes(nodes);
  }
});

Deno.test("a direct message reaches a far peer by its full id before it ever spoke", async () => {
  const nodes = await startNodes(3);
  try {
    await link(nodes, [[0, 1], [1, 2]]);
    nodes[0].chat.direct(nodes[2].peer.id, "psst");
    await waitFor(() => nodes[2].shown.length === 1, "the direct message", LONG);
    assert.equal(nodes[2].shown[0].direct, true);
    assert.throws(() => nodes[0].chat.direct("", "to nobody"), ChatError);
  } finally {
    await stopNodes(nodes);
  }
});

Deno.test("a relay that alters or forges messages: no peer shows them, they are counted and logged once", async () => {
  const logs: string[] = [];
  const nodes = await startNodes(4, { log: (line) => logs.push(line) });
  const [a, m, b, c] = nodes;
  try {
    // a reaches c through m (the liar) and through b (honest).
    await link(nodes, [[0, 1], [1, 3], [0, 2], [2, 3]]);
    m.chat.close();
    const lies = m.peer.app(chatApp);
    let altered = 0;
    lies.onMessage((body, from) => {
      if (body.type !== "say") return;
      altered++;
      lies.broadcast(
        { ...body, lines: [`${body.lines[0]} (pay mallory)`], hops: body.hops - 1 },
        from.id,
      );
      // And one made up in a's name, with a's key but no signature of a's (a number of a's
      // stream not had yet: a copy of one had is dropped as a duplicate, unchecked).
      lies.broadcast({
        ...body,
        id: crypto.randomUUID().replaceAll("-", ""),
        lines: ["forged"],
        n: body.n + 1000,
      });
      // And one under m's own key that claims a as its origin.
      lies.broadcast({
        ...body,
        id: crypto.randomUUID().replaceAll("-", ""),
        key: m.peer.publicKey,
        n: body.n + 2000,
      });
    });
    for (let i = 0; i < 5; i++) {
      a.chat.say(`message ${i}`);
      await a.chat.drained(); // five says, not one of five lines
    }
    await waitFor(() => c.shown.length === 5, "the honest copies at c", LONG);
    // Each of a's messages reached m and became two forgeries towards c, and an altered copy.
    await waitFor(() => c.chat.stats().forged >= 10, "c to drop the forgeries", LONG);
    assert.ok(altered >= 5);
    for (const node of [a, b, c]) {
      const texts = node.shown.map((msg) => msg.text);
      assert.ok(texts.every((t) => /^message \d$/.test(t)), `p${nodes.indexOf(node)}: ${texts}`);
    }
    assert.deepEqual(c.shown.map((msg) => msg.from.id), Array(5).fill(a.peer.id));
    assert.equal(b.chat.stats().forged, 0, "b is not next to m");
    const forgedLines = logs.filter((l) => l.includes("signature does not match its origin"));
    assert.equal(forgedLines.length, 1, "logged once, by c; the rest are counted");
    assert.match(forgedLines[0], /relayed by p1/);
  } finally {
    await stopNodes(nodes);
  }
});

Deno.test("a say marked late is checked like any other: a forged one is dropped", async () => {
  const nodes = await startNodes(2);
  const [a, b] = nodes;
  try {
    await link(nodes, [[0, 1]]);
    const wire = await signedSay(b.peer, { lines: ["late but genuine"] });
    const forged = { ...wire, lines: ["late and forged"], n: wire.n + 1 };
    const channel = b.peer.app(chatApp);
    await channel.send(a.peer.id, { type: "say", ...forged, late: true });
    await channel.send(a.peer.id, { type: "say", ...wire, late: true });
    await waitFor(() => a.shown.length === 1, "the genuine late say", LONG);
    await waitFor(() => a.chat.stats().forged === 1, "the forged one dropped", LONG);
    assert.equal(a.shown[0].text, "late but genuine");
    assert.equal(a.shown[0].late, true);
  } finally {
    await stopNodes(nodes);
  }
});

Deno.test("lines written together travel as one say, within its limits, and are shown one by one in order", async () => {
  const nodes = await startNodes(2);
  const [a, b] = nodes;
  try {
    await link(nodes, [[0, 1]]);
    const long = "x".repeat(1500);
    const written = [
      ...Array.from({ length: 100 }, (_, i) => a.chat.say(`line ${i}`)),
      a.chat.say(long),
      a.chat.say(long),
      a.chat.say(long), // 4,500 characters: more than one say holds
    ];
    await waitFor(() => b.shown.length === written.length, "every line at b", LONG);
    assert.deepEqual(b.shown.map((m) => m.text), written.map((m) => m.text));
    assert.deepEqual(b.shown.map((m) => m.id), written.map((m) => m.id));
    const clocks = b.shown.map((m) => m.clock);
    assert.ok(clocks.every((c, i) => i === 0 || c > clocks[i - 1]), "clocks rise line by line");
    // At most 64 lines or 4,000 characters a say.
    const says = new Map<string, number>();
    for (const { id } of written) {
      const sayId = id.split(".")[0];
      says.set(sayId, (says.get(sayId) ?? 0) + 1);
    }
    const sizes = [...says.values()];
    assert.ok(sizes.every((n) => n <= 64), `lines per say: ${sizes}`);
    assert.ok(sizes.length >= 3 && sizes.length < written.length, `lines per say: ${sizes}`);
    assert.equal(b.chat.stats().received, says.size);
    assert.equal(b.chat.stats().delivered, written.length);
    // A line written alone is sent alone, at once.
    await a.chat.drained();
    const alone = a.chat.say("alone");
    await waitFor(() => b.shown.length === written.length + 1, "the line written alone", LONG);
    assert.equal(b.shown.at(-1)!.id, alone.id);
    assert.ok(!alone.id.includes("."));
  } finally {
    await stopNodes(nodes);
  }
});

Deno.test("a say with no lines, or with more text than one message may hold, is dropped even when its origin signed it", async () => {
  const logs: string[] = [];
  const nodes = await startNodes(2, { log: (line) => logs.push(line) });
  const [a, b] = nodes;
  try {
    await link(nodes, [[0, 1]]);
    const signed = (lines: string[]) => signedSay(a.peer, { lines });
    const channel = a.peer.app(chatApp);
    await channel.send(b.peer.id, { type: "say", ...await signed([]) });
    await channel.send(b.peer.id, {
      type: "say",
      ...await signed(["y".repeat(3000), "z".repeat(1001)]),
    });
    await channel.send(b.peer.id, { type: "say", ...await signed(["fine", "also fine"]) });
    await waitFor(() => b.shown.length === 2, "the well-formed say at b", LONG);
    assert.deepEqual(b.shown.map((m) => m.text), ["fine", "also fine"]);
    assert.equal(b.chat.stats().forged, 2);
    assert.equal(logs.length, 1, "logged once");
  } finally {
    await stopNodes(nodes);
  }
});

Deno.test("a line written after a message was shown has a higher clock, even while the previous say is being signed", async () => {
  const nodes = await startNodes(2);
  const [a, b] = nodes;
  try {
    await link(nodes, [[0, 1]]);
    // Hold a's signing, as a slow signature would: lines written meanwhile wait, unsigned.
    const sign = a.peer.sign.bind(a.peer);
    const gate = Promise.withResolvers<void>();
    a.peer.sign = async (bytes: Uint8Array) => {
      await gate.promise;
      return sign(bytes);
    };
    a.chat.say("a0"); // being signed
    await new Promise((resolve) => setTimeout(resolve, 0));
    a.chat.say("a1"); // waits for a0's signature, unsigned
    for (let i = 0; i < 5; i++) b.chat.say(`b${i}`);
    await waitFor(() => a.shown.length === 5, "b's lines at a", LONG);
    const seen = a.shown.at(-1)!.clock;
    const reply = a.chat.say("reply to b4");
    assert.ok(reply.clock > seen, `reply clock ${reply.clock} after seeing ${seen}`);
    gate.resolve();
    await waitFor(() => b.shown.length === 3, "a's lines at b", LONG);
    assert.deepEqual(b.shown.map((m) => m.text), ["a0", "a1", "reply to b4"]);
    assert.ok(b.shown[2].clock > b.shown[1].clock && b.shown[2].clock > seen);
    assert.ok(!reply.id.includes("."), "the reply did not join a1's say: a new say");
  } finally {
    await stopNodes(nodes);
  }
});

Deno.test("a signed say with a clock past 2^52 is dropped, and everyone goes on chatting", async () => {
  const logs: string[] = [];
  const nodes = await startNodes(3, { log: (line) => logs.push(line) });
  const [m, a, b] = nodes;
  try {
    await link(nodes, [[0, 1], [1, 2]]);
    const wire = await signedSay(m.peer, {
      lines: ["tick", "tock"],
      clock: Number.MAX_SAFE_INTEGER - 1, // a legal uint; a receiver's clock would pass 2^53
    });
    m.peer.app(chatApp).broadcast({ type: "say", ...wire });
    await waitFor(() => a.chat.stats().forged === 1, "a to drop it", LONG);
    a.chat.say("hello from a");
    await waitFor(() => b.shown.length === 1, "a's say at b", LONG);
    assert.equal(b.shown[0].text, "hello from a");
    b.chat.say("hello from b");
    await waitFor(() => a.shown.length === 1, "b's say at a", LONG);
    assert.match(logs.join("\n"), /no honest author writes/);
  } finally {
    await stopNodes(nodes);
  }
});

Deno.test("a message handler that throws neither stops the flood nor the messages after it", async () => {
  const logs: string[] = [];
  const nodes = await startNodes(4, { log: (line) => logs.push(line) });
  const [a, b, c, d] = nodes;
  try {
    await link(nodes, [[0, 1], [1, 3], [2, 1]]); // a - b - d, and c - b
    b.chat.onMessage((message) => {
      if (message.text.startsWith("boom")) throw new Error("handler bug");
    });
    a.chat.say("boom 1"); // a's key is new at b: checked on the queued path
    await waitFor(() => d.shown.length === 1, "boom 1 at d", LONG);
    c.chat.say("from c");
    await waitFor(() => d.shown.length === 2, "c's say at d", LONG);
    a.chat.say("boom 2"); // a's key is known now: checked in the turn it arrives
    await waitFor(() => d.shown.length === 3, "boom 2 at d", LONG);
    a.chat.say("after");
    await waitFor(() => d.shown.length === 4, "a's last say at d", LONG);
    assert.deepEqual(d.shown.map((m) => m.text), ["boom 1", "from c", "boom 2", "after"]);
    assert.deepEqual(b.shown.map((m) => m.text), ["boom 1", "from c", "boom 2", "after"]);
    assert.ok(logs.some((line) => /a chat message handler failed: handler bug/.test(line)));
  } finally {
    await stopNodes(nodes);
  }
});

Deno.test("a writer of long lines that awaits drained(256 KiB) after each keeps within its neighbour's queue limit", async () => {
  const options = { host: "127.0.0.1", apps: [chatApp], targetConnections: 0, log: () => {} };
  const a = await startPeer({ ...options, nick: "a", maxQueuedBytes: 8 * 2 ** 20 });
  const b = await startPeer({ ...options, nick: "b" });
  const writer = createChat(a, { log: () => {} });
  const reader = createChat(b, { log: () => {} });
  let shown = 0;
  reader.onMessage(() => shown++);
  const lost: string[] = [];
  a.on("peer:disconnected", ({ reason }) => lost.push(reason));
  try {
    await a.connect("127.0.0.1", b.port);
    await waitFor(() => b.peers().length === 1, "b to see a");
    const line = "€".repeat(4000); // 12,000 bytes of UTF-8 a line
    const total = 1500;
    for (let i = 0; i < total && lost.length === 0; i++) {
      writer.say(line);
      await writer.drained(256 * 1024);
    }
    await writer.drained();
    await waitFor(() => shown === total || lost.length > 0, "every line, or a disconnect", LONG);
    assert.deepEqual(lost, [], "never dropped as not reading");
    assert.equal(shown, total);
  } finally {
    writer.close();
    reader.close();
    await Promise.all([a.close(), b.close()]);
  }
});
