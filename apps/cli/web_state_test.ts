import assert from "node:assert/strict";
import { startPeer } from "@meshtalk/core";
import { randomBytes, waitFor } from "@meshtalk/core/testing";
import { chatApp, type ChatMessage, createChat } from "@meshtalk/chat";
import { createFileShare, filesApp } from "@meshtalk/files";
import { PageState } from "./web_state.ts";

const LONG = 60_000;

/** A chat peer that shares files on request only, as the chat command runs it. */
async function startNode(dir: string, nick: string) {
  const peer = await startPeer({
    host: "127.0.0.1",
    nick,
    apps: [chatApp, filesApp],
    targetConnections: 0,
    log: () => {},
    handshakeTimeoutMs: 30_000,
  });
  const chat = createChat(peer, { log: () => {} });
  const share = createFileShare(peer, { out: `${dir}/${nick}-got`, wants: () => false });
  const state = new PageState({ peer, chat, share });
  return { peer, chat, share, state };
}

type Node = Awaited<ReturnType<typeof startNode>>;

async function withNodes(
  count: number,
  body: (nodes: Node[], dir: string) => void | Promise<void>,
) {
  const dir = await Deno.makeTempDir();
  const nodes: Node[] = [];
  try {
    for (const nick of ["ada", "bob", "cy"].slice(0, count)) nodes.push(await startNode(dir, nick));
    await body(nodes, dir);
  } finally {
    for (const { state, share, chat } of nodes) {
      state.close();
      share.close();
      chat.close();
    }
    await Promise.all(nodes.map(({ peer }) => peer.close()));
    await Deno.remove(dir, { recursive: true });
  }
}

async function link({ peer: from }: Node, { peer: to }: Node): Promise<void> {
  await from.connect("127.0.0.1", to.port);
  await waitFor(() => to.peers().some((p) => p.id === from.id), "the link both ways");
}

Deno.test("a page of a lone peer: itself, what it runs, nothing else yet", async () => {
  await withNodes(1, ([ada]) => {
    const snapshot = ada.state.snapshot();
    assert.deepEqual(snapshot, {
      self: { id: ada.peer.id, nick: "ada", port: ada.peer.port },
      features: { chat: true, files: true },
      messages: [],
    });
    assert.deepEqual(ada.state.live(), {
      self: snapshot.self,
      peers: [],
      neighbourhood: {},
      files: { offers: [], transfers: [], uploads: [] },
      stats: {
        chat: { sent: 0, shown: 0, relayed: 0, duplicates: 0, forged: 0 },
        bytesIn: 0,
        bytesOut: 0,
      },
    });
    // A peer that runs neither app: no chat and no files on its page.
    const bare = new PageState({ peer: ada.peer });
    assert.deepEqual(bare.snapshot().features, { chat: false, files: false });
    assert.equal(bare.live().files, null);
    assert.equal(bare.live().stats.chat, null);
    bare.close();
  });
});

Deno.test("the mesh as the page draws it: neighbours with round trips, and the ones they name", async () => {
  await withNodes(3, async ([ada, bob, cy]) => {
    await link(bob, ada);
    await link(cy, bob);
    // bob named ada to cy when they linked: cy's page draws ada behind bob.
    await waitFor(() => cy.state.live().neighbourhood[bob.peer.id]?.length === 1, "bob's word");
    const live = cy.state.live();
    assert.deepEqual(live.peers.map(({ id, nick, address }) => ({ id, nick, address })), [
      { id: bob.peer.id, nick: "bob", address: `127.0.0.1:${bob.peer.port}` },
    ]);
    // Ada has said nothing that cy saw: cy knows her id only, and the page names her by its start.
    const far = { id: ada.peer.id, nick: ada.peer.id.slice(0, 8) };
    assert.deepEqual(live.neighbourhood, { [bob.peer.id]: [far] });
    await cy.peer.ping(bob.peer.id);
    await waitFor(() => cy.state.live().peers[0].rttMs !== null, "a round trip");
    assert.ok(cy.state.live().peers[0].rttMs! >= 0);
    assert.ok(cy.state.live().stats.bytesIn > 0 && cy.state.live().stats.bytesOut > 0);
  });
});

Deno.test("messages as the page shows them: whose, to whom, and this peer's own", async () => {
  await withNodes(2, async ([ada, bob]) => {
    await link(bob, ada);
    const heard: ChatMessage[] = [];
    ada.chat.onMessage((m) => heard.push(m));
    bob.chat.say("<b>hi</b> ada");
    bob.chat.direct("ada", "just you");
    const own = ada.chat.say("hello");
    await waitFor(() => heard.length === 2, "bob's two messages");
    const [said, direct] = heard.map((m) => ada.state.remember(m));
    assert.deepEqual(
      { from: said.from, to: said.to, text: said.text, direct: said.direct, own: said.own },
      {
        from: { id: bob.peer.id, nick: "bob" },
        to: null,
        text: "<b>hi</b> ada",
        direct: false,
        own: false,
      },
    );
    assert.deepEqual(direct.to, { id: ada.peer.id, nick: "ada" });
    assert.equal(direct.direct, true);
    assert.equal(ada.state.remember(own).own, true);
    // A page opened now gets them all, the direct one too, each once.
    ada.state.remember(own);
    assert.deepEqual(ada.state.snapshot().messages.map((m) => m.text), [
      "<b>hi</b> ada",
      "just you",
      "hello",
    ]);
    assert.equal(ada.state.live().stats.chat!.sent, 1);
    assert.equal(ada.state.live().stats.chat!.shown, 2);
  });
});

Deno.test("files as the page shows them: the offer, the transfer done, the upload sent", async () => {
  await withNodes(2, async ([ada, bob], dir) => {
    await link(bob, ada);
    const bytes = randomBytes(2 * 2 ** 20 + 5);
    await Deno.writeFile(`${dir}/report.bin`, bytes);
    const manifest = await bob.share.offer(`${dir}/report.bin`);
    await waitFor(() => ada.state.live().files!.offers.length === 1, "the offer", LONG);
    assert.deepEqual(ada.state.live().files!.offers, [{
      root: manifest.root,
      name: "report.bin",
      kind: "file",
      size: bytes.length,
      holders: 1,
      from: { id: bob.peer.id, nick: "bob" },
      state: "known",
    }]);
    const saved = new Promise<void>((resolve) => ada.share.on("saved", () => resolve()));
    await ada.share.fetch(manifest.root);
    await saved;
    const { transfers, offers } = ada.state.live().files!;
    assert.equal(offers[0].state, "seeding");
    assert.equal(transfers.length, 1);
    const [done] = transfers;
    assert.deepEqual(
      { ...done, rate: 0 },
      {
        root: manifest.root,
        name: "report.bin",
        size: bytes.length,
        bytes: bytes.length,
        rate: 0,
        sources: 0,
        etaSeconds: 0,
        done: true,
      },
    );
    assert.ok(done.rate > 0);
    // Bob's page: what it sent, to whom, once the upload went idle or ended.
    await waitFor(
      () => bob.state.live().files!.uploads.some((u) => !u.active),
      "the upload to end",
      LONG,
    );
    const [upload] = bob.state.live().files!.uploads;
    assert.equal(upload.name, "report.bin");
    assert.deepEqual(upload.to, { id: ada.peer.id, nick: "ada" });
    assert.equal(upload.bytes, bytes.length);
  });
});
