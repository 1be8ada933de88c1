// The topologies the chat benchmark wires its peers into, and distances on them.

/** An undirected edge between two peers, by index. */
export type Edge = [number, number];

/**
 * The mesh js-libp2p gossipsub's benchmark wires (`gossip-bench.mjs --topology mesh3 --seed 1`,
 * its JSONL's `params.edges`): a random 3-regular graph of 10 nodes and 15 edges, in which nodes
 * 3 and 9 are 3 hops from node 0, the publisher. meshtalk's mesh is this very graph, so both do
 * the same work; the chat benchmark checks it against each gossipsub run's edges.
 */
export const GOSSIPSUB_MESH3_SEED1: readonly Edge[] = [
  [5, 7],
  [4, 7],
  [2, 3],
  [2, 8],
  [1, 4],
  [1, 8],
  [2, 9],
  [0, 7],
  [3, 9],
  [4, 6],
  [6, 9],
  [5, 6],
  [0, 5],
  [1, 3],
  [0, 8],
];

/**
 * A chain of `nodes`: 0-1, 1-2, …
 *
 * @example
 * ```ts
 * import { chain } from "./graphs.ts";
 * console.log(chain(3)); // [[0, 1], [1, 2]]
 * ```
 */
export function chain(nodes: number): Edge[] {
  return Array.from({ length: nodes - 1 }, (_, i) => [i, i + 1] as Edge);
}

/**
 * Hops from `source` to every node (-1: unreachable).
 *
 * @example
 * ```ts
 * import { chain, distancesFrom } from "./graphs.ts";
 * console.log(distancesFrom(1, chain(4), 4)); // [1, 0, 1, 2]
 * ```
 */
export function distancesFrom(source: number, edges: readonly Edge[], nodes: number): number[] {
  const neighbours = Array.from({ length: nodes }, () => [] as number[]);
  for (const [a, b] of edges) {
    neighbours[a].push(b);
    neighbours[b].push(a);
  }
  const distance = new Array(nodes).fill(-1);
  distance[source] = 0;
  const queue = [source];
  while (queue.length) {
    const at = queue.shift()!;
    for (const next of neighbours[at]) {
      if (distance[next] < 0) {
        distance[next] = distance[at] + 1;
        queue.push(next);
      }
    }
  }
  return distance;
}

/**
 * The number of edges at each node.
 *
 * @example
 * ```ts
 * import { chain, degrees } from "./graphs.ts";
 * console.log(degrees(chain(3), 3)); // [1, 2, 1]
 * ```
 */
export function degrees(edges: readonly Edge[], nodes: number): number[] {
  const degree = new Array(nodes).fill(0);
  for (const [a, b] of edges) {
    degree[a]++;
    degree[b]++;
  }
  return degree;
}

/**
 * True if both lists hold the same undirected edges, in any order.
 *
 * @example
 * ```ts
 * import { sameEdges } from "./graphs.ts";
 * console.log(sameEdges([[0, 1], [1, 2]], [[2, 1], [1, 0]])); // true
 * ```
 */
export function sameEdges(a: readonly Edge[], b: readonly Edge[]): boolean {
  const key = ([x, y]: Edge) => `${Math.min(x, y)}-${Math.max(x, y)}`;
  const keys = new Set(a.map(key));
  return a.length === b.length && keys.size === a.length && b.every((edge) => keys.has(key(edge)));
}

/**
 * `count` nodes spread over the graph: `first`, then each time the node farthest from those
 * picked (the lowest index on a tie).
 *
 * @example
 * ```ts
 * import { chain, spreadNodes } from "./graphs.ts";
 * console.log(spreadNodes(chain(9), 9, 3, 0)); // [0, 8, 4]
 * ```
 */
export function spreadNodes(
  edges: readonly Edge[],
  nodes: number,
  count: number,
  first: number,
): number[] {
  const picked = [first];
  const nearest = distancesFrom(first, edges, nodes);
  while (picked.length < Math.min(count, nodes)) {
    let next = -1;
    for (let i = 0; i < nodes; i++) {
      if (!picked.includes(i) && (next < 0 || nearest[i] > nearest[next])) next = i;
    }
    picked.push(next);
    const from = distancesFrom(next, edges, nodes);
    for (let i = 0; i < nodes; i++) nearest[i] = Math.min(nearest[i], from[i]);
  }
  return picked;
}
