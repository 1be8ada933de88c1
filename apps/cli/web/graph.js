// The mesh as a picture: this peer in the middle, its neighbours around it, and the peers their
// peer exchange names further out. A small force layout (springs on edges, repulsion between
// nodes) on an SVG: no library, so the page works offline and loads nothing from elsewhere.

const SVG = "http://www.w3.org/2000/svg";
// Nodes push each other apart as REPULSION / distance; an edge pulls its ends towards its length
// with SPRING per unit of stretch: a lone neighbour rests about 115 units from this peer.
const REPULSION = 400;
const SPRING = 0.1;

/**
 * Draws `graph` ({nodes: [{id, label, kind}], edges: [{a, b, label?, kind}]}) into `svg`,
 * keeping the places of nodes already drawn so that updates do not jump.
 */
export function drawGraph(svg, graph, previous = new Map()) {
  const nodes = graph.nodes.map((node, i) => {
    const old = previous.get(node.id);
    const angle = (i / Math.max(1, graph.nodes.length)) * Math.PI * 2;
    const radius = node.kind === "self" ? 0 : node.kind === "neighbour" ? 80 : 130;
    return {
      ...node,
      x: old?.x ?? Math.cos(angle) * radius,
      y: old?.y ?? Math.sin(angle) * radius,
    };
  });
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const edges = graph.edges.filter((e) => byId.has(e.a) && byId.has(e.b));
  layout(nodes, edges, byId);
  render(svg, nodes, edges, byId);
  return byId;
}

function layout(nodes, edges, byId) {
  for (let step = 0; step < 300; step++) {
    const heat = 1 - step / 300;
    const force = new Map(nodes.map((n) => [n.id, { x: 0, y: 0 }]));
    for (let i = 0; i < nodes.length; i++) {
      for (let j = i + 1; j < nodes.length; j++) {
        const a = nodes[i], b = nodes[j];
        const dx = a.x - b.x, dy = a.y - b.y;
        const d2 = Math.max(dx * dx + dy * dy, 1);
        const push = REPULSION / d2;
        force.get(a.id).x += dx * push;
        force.get(a.id).y += dy * push;
        force.get(b.id).x -= dx * push;
        force.get(b.id).y -= dy * push;
      }
    }
    for (const edge of edges) {
      const a = byId.get(edge.a), b = byId.get(edge.b);
      const dx = b.x - a.x, dy = b.y - a.y;
      const d = Math.max(Math.hypot(dx, dy), 1);
      const pull = (d - (edge.kind === "far" ? 60 : 80)) * SPRING;
      force.get(a.id).x += (dx / d) * pull;
      force.get(a.id).y += (dy / d) * pull;
      force.get(b.id).x -= (dx / d) * pull;
      force.get(b.id).y -= (dy / d) * pull;
    }
    for (const node of nodes) {
      if (node.kind === "self") {
        node.x = 0;
        node.y = 0;
        continue;
      }
      const f = force.get(node.id);
      node.x = clamp(node.x + clamp(f.x, -8, 8) * heat, -170, 170);
      node.y = clamp(node.y + clamp(f.y, -8, 8) * heat, -125, 120);
    }
  }
}

function render(svg, nodes, edges, byId) {
  svg.replaceChildren();
  for (const edge of edges) {
    const a = byId.get(edge.a), b = byId.get(edge.b);
    const line = element("line", { x1: a.x, y1: a.y, x2: b.x, y2: b.y, class: edge.kind });
    line.dataset.edge = `${edge.a} ${edge.b}`;
    svg.append(line);
    if (edge.label) {
      const text = element("text", { x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 - 3, class: "rtt" });
      text.textContent = edge.label;
      svg.append(text);
    }
  }
  for (const node of nodes) {
    const group = element("g", {});
    group.dataset.node = node.id;
    const circle = element("circle", { cx: node.x, cy: node.y, r: node.kind === "self" ? 9 : 7 });
    circle.setAttribute("class", node.kind);
    const title = element("title", {});
    title.textContent = `${node.label} (${node.id.slice(0, 8)})`;
    const label = element("text", { x: node.x, y: node.y + 19 });
    label.textContent = node.label;
    group.append(circle, title, label);
    svg.append(group);
  }
}

function element(name, attributes) {
  const el = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) el.setAttribute(key, String(value));
  return el;
}

function clamp(value, low, high) {
  return Math.min(high, Math.max(low, value));
}
