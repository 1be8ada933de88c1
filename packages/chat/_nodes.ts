/**
 * Chat peers on loopback for the chat's tests: started and stopped together, linked by the
 * edges a test gives, and waited on until every copy sent has been received.
 *
 * @module
 */
import assert from "node:assert/strict";
import { type Peer, startPeer } from "@meshtalk/core";
import { waitFor } from "@meshtalk/core/testing";
import { type Chat, chatApp, type ChatMessage, type ChatOptions, createChat } from "./mod.ts";

/** Generous: arrival is waited for, never timed. */
export const LONG = 20_000;

/** A peer, its chat, everything the chat showed, and the summaries its peer received. */
export interface Node {
  peer: Peer;
  chat: Chat;
  shown: ChatMessage[];
  /** Summaries received: one from each neighbour as its link opens. */
  summaries: number;
  unsubscribe: () => void;
}

export async function startNodes(count: number, chatOptions: ChatOptions = {}): Promise<Node[]> {
  const settled = await Promise.allSettled(
    Array.from({ length: count }, (_, i) =>
      startPeer({
        host: "127.0.0.1",
        apps: [chatApp],
        nick: `p${i}`,
        targetConnections: 0,
        log: () => {},
        handshakeTimeoutMs: 30_000, // a loaded machine starts workers slowly
      })),
  );
  const peers = settled.flatMap((r) => r.status === "fulfilled" ? [r.value] : []);
  if (peers.length < count) {
    await Promise.all(peers.map((p) => p.close()));
    throw new Error("could not start every peer");
  }
  return peers.map((peer) => {
    const chat = createChat(peer, chatOptions);
    const node: Node = { peer, chat, shown: [], summaries: 0, unsubscribe: () => {} };
    chat.onMessage((message) => node.shown.push(message));
    // Watch the raw channel too: summaries are otherwise invisible when they bring nothing.
    node.unsubscribe = peer.app(chatApp).onMessage((body) => {
      if (body.type === "summary") node.summaries++;
    });
    return node;
  });
}

export async function stopNodes(nodes: Node[]): Promise<void> {
  for (const node of nodes) {
    node.chat.close();
    node.unsubscribe();
  }
  await Promise.all(nodes.map((node) => node.peer.close()));
}

const lists = (a: Node, b: Node) => a.peer.peers().some((info) => info.id === b.peer.id);

/**
 * Connects each edge `[i, j]` (i dials j), waits until both ends list each other, then until each
 * end has the other's summary, so that no answer to one is still on its way when the test starts
 * sending.
 */
export async function link(nodes: Node[], edges: [number, number][]): Promise<void> {
  const before = nodes.map((node) => node.summaries);
  const expected = nodes.map(() => 0);
  for (const [i, j] of edges) {
    expected[i]++;
    expected[j]++;
  }
  await Promise.all(edges.map(([i, j]) => nodes[i].peer.connect("127.0.0.1", nodes[j].peer.port)));
  await waitFor(
    () => edges.every(([i, j]) => lists(nodes[i], nodes[j]) && lists(nodes[j], nodes[i])),
    "both ends of every edge to list each other",
    LONG,
  );
  await waitFor(
    () => nodes.every((node, i) => node.summaries === before[i] + expected[i]),
    "every new neighbour's summary",
    LONG,
  );
}

/** Asserts each node's neighbours are exactly those the edges give it. */
export function assertTopology(nodes: Node[], edges: [number, number][]): void {
  nodes.forEach((node, i) => {
    const neighbours = edges.flatMap(([a, b]) => a === i ? [b] : b === i ? [a] : []);
    assert.deepEqual(
      node.peer.peers().map((info) => info.id).sort(),
      neighbours.map((n) => nodes[n].peer.id).sort(),
      `neighbours of p${i}`,
    );
  });
}

export const sum = (nodes: Node[], pick: (node: Node) => number) =>
  nodes.reduce((total, node) => total + pick(node), 0);

/**
 * Waits until every chat frame sent has been received and counted: each frame a chat sends
 * ends up either taken live or dropped as a duplicate at its receiver (no direct messages here).
 */
export async function settle(nodes: Node[]): Promise<void> {
  await waitFor(
    () =>
      sum(nodes, (n) => n.chat.stats().framesSent) ===
        sum(nodes, (n) => n.chat.stats().duplicates + n.chat.stats().received),
    "every frame sent to be received",
    LONG,
  );
}
