// The page of one meshtalk peer. Everything it shows comes from the peer process over one
// Server-Sent Events stream (`events`: snapshot, state, message, notice); what the user does goes
// back as small JSON posts (`api/say`, `api/nick`, `api/get`, `api/cancel`). Every text from the
// network is put in the page with textContent, never as HTML.
import { formatBytes } from "./bytes.js";
import { drawGraph } from "./graph.js";

// The token is in the address the peer printed; later requests carry it too (or the cookie the
// first load set, when the address is opened again without it).
const token = new URLSearchParams(location.search).get("token") ?? "";
const withToken = (path) => (token ? `${path}?token=${encodeURIComponent(token)}` : path);
const $ = (selector) => document.querySelector(selector);
const state = { self: null, places: new Map(), lastGraph: "", shown: new Set() };
const MAX_MESSAGES = 500;

function api(name, body) {
  return fetch(withToken(`api/${name}`), {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  }).then(async (response) => {
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(answer.error ?? `${response.status} ${response.statusText}`);
    return answer;
  });
}

function notice(text) {
  $("#status").textContent = text;
}

function el(name, text, className) {
  const node = document.createElement(name);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}

function short(id) {
  return id.slice(0, 8);
}

function showSelf(self) {
  state.self = self;
  $("#me").textContent = `${self.nick} (${short(self.id)}), port ${self.port}`;
}

/**
 * Puts one element per item in `container`, in order, making an element again only when what
 * its item shows changed: a button being clicked is not swapped for another under the pointer.
 */
function syncList(container, items, keyOf, render) {
  const old = new Map([...container.children].map((node) => [node.dataset.key, node]));
  container.replaceChildren(...items.map((item) => {
    const key = keyOf(item);
    const look = JSON.stringify(item);
    const kept = old.get(key);
    if (kept && kept.dataset.look === look) return kept;
    const node = render(item);
    node.dataset.key = key;
    node.dataset.look = look;
    return node;
  }));
}

function showMessage(message) {
  if (state.shown.has(message.id)) return;
  state.shown.add(message.id);
  const list = $("#messages");
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  const item = el("li", undefined, message.direct ? "direct" : "");
  item.dataset.id = message.id;
  item.append(el("span", new Date(message.sentAt).toTimeString().slice(0, 8), "time"));
  if (message.late) item.append(el("span", "[late]", "tag"));
  if (message.to) item.append(el("span", `[to ${message.to.nick}]`, "tag"));
  else if (message.direct) item.append(el("span", "[direct]", "tag"));
  item.append(el("span", message.own ? "you" : message.from.nick, "who"));
  if (!message.own) item.append(el("span", `(${short(message.from.id)})`, "time"));
  item.append(el("span", message.text, "text"));
  list.append(item);
  while (list.children.length > MAX_MESSAGES) {
    state.shown.delete(list.firstElementChild.dataset.id);
    list.firstElementChild.remove();
  }
  if (atBottom || message.own) list.scrollTop = list.scrollHeight;
}

function showPeers(peers, neighbourhood) {
  syncList($("#peers tbody"), peers, (peer) => peer.id, (peer) => {
    const row = el("tr");
    row.append(
      el("td", `${peer.nick} (${short(peer.id)})`),
      el("td", peer.address ?? "-"),
      el("td", peer.rttMs === null ? "-" : `${peer.rttMs.toFixed(2)} ms`),
    );
    return row;
  });
  const to = $("#to");
  const chosen = to.value;
  const everyone = { id: "", nick: "everyone" };
  syncList(to, [everyone, ...peers.map(({ id, nick }) => ({ id, nick }))], (p) => p.id, (p) => {
    const option = el("option", p.nick);
    option.value = p.id;
    return option;
  });
  to.value = peers.some((p) => p.id === chosen) ? chosen : "";
  drawMesh(peers, neighbourhood);
}

/** This peer in the middle, its neighbours, and the peers their peer exchange names. */
function drawMesh(peers, neighbourhood) {
  const nodes = [{ id: state.self.id, label: state.self.nick, kind: "self" }];
  const edges = [];
  const known = new Set([state.self.id]);
  for (const peer of peers) {
    nodes.push({ id: peer.id, label: peer.nick, kind: "neighbour" });
    known.add(peer.id);
    const rtt = peer.rttMs === null ? undefined : `${peer.rttMs.toFixed(1)} ms`;
    edges.push({ a: state.self.id, b: peer.id, label: rtt, kind: "near" });
  }
  const linked = new Set(edges.map((e) => `${e.a} ${e.b}`));
  for (const [neighbour, theirs] of Object.entries(neighbourhood)) {
    for (const far of theirs) {
      if (!known.has(far.id)) {
        nodes.push({ id: far.id, label: far.nick, kind: "far" });
        known.add(far.id);
      }
      // Two neighbours that name each other are one link, drawn once.
      if (linked.has(`${far.id} ${neighbour}`) || linked.has(`${neighbour} ${far.id}`)) continue;
      linked.add(`${neighbour} ${far.id}`);
      edges.push({ a: neighbour, b: far.id, kind: "far" });
    }
  }
  const key = JSON.stringify([nodes, edges]);
  if (key === state.lastGraph) return;
  state.lastGraph = key;
  state.places = drawGraph($("#graph"), { nodes, edges }, state.places);
}

function showOffers(offers) {
  syncList($("#offers tbody"), offers, (file) => file.root, (file) => {
    const row = el("tr");
    row.dataset.root = file.root;
    const action = el("td");
    if (file.state === "known") {
      const button = el("button", "Get");
      button.type = "button";
      button.addEventListener("click", () => {
        button.disabled = true;
        api("get", { file: file.root }).then(
          () => notice(`fetching ${file.name}`),
          (error) => {
            button.disabled = false;
            notice(error.message);
          },
        );
      });
      action.append(button);
    } else {
      action.textContent = file.state === "seeding" ? "have it" : "fetching";
    }
    row.append(
      el("td", file.kind === "folder" ? `${file.name}/` : file.name),
      el("td", formatBytes(file.size)),
      el("td", String(file.holders)),
      el("td", file.from ? file.from.nick : "-"),
      action,
    );
    return row;
  });
}

function showTransfers(transfers) {
  syncList($("#transfers"), transfers, (t) => t.root, (t) => {
    const item = el("li", undefined, t.done ? "done" : "");
    item.dataset.root = t.root;
    const bar = el("progress");
    bar.max = Math.max(1, t.size);
    bar.value = t.size === 0 ? 1 : t.bytes;
    const percent = t.size === 0 ? 100 : Math.floor((t.bytes / t.size) * 100);
    const from = `from ${t.sources} peer${t.sources === 1 ? "" : "s"}`;
    const how = t.done
      ? `done, ${formatBytes(t.rate)}/s on average`
      : `${formatBytes(t.rate)}/s ${from}, ETA ${
        t.etaSeconds === null ? "?" : `${t.etaSeconds} s`
      }`;
    const line = el(
      "div",
      `${t.name}: ${formatBytes(t.bytes)} of ${formatBytes(t.size)} (${percent}%), ${how}`,
    );
    line.className = "what";
    item.append(line, bar);
    if (!t.done) {
      const cancel = el("button", "Cancel", "quiet");
      cancel.type = "button";
      cancel.addEventListener("click", () => {
        cancel.disabled = true;
        api("cancel", { file: t.root }).catch((error) => notice(error.message));
      });
      item.append(cancel);
    }
    return item;
  });
}

function showUploads(uploads) {
  syncList($("#uploads"), uploads, (u) => `${u.to.id} ${u.root}`, (u) => {
    if (u.active) return el("li", `sending ${u.name} to ${u.to.nick}…`);
    const rate = u.seconds > 0 ? `, ${formatBytes(Math.round(u.bytes / u.seconds))}/s` : "";
    return el(
      "li",
      `sent ${u.name} to ${u.to.nick}: ${formatBytes(u.bytes)} in ${u.seconds} s${rate}`,
    );
  });
}

function showStats(stats) {
  const rows = [
    ...(stats.chat
      ? [
        ["messages sent", stats.chat.sent],
        ["messages shown", stats.chat.shown],
        ["relayed", stats.chat.relayed],
        ["duplicates dropped", stats.chat.duplicates],
        ["forgeries dropped", stats.chat.forged],
      ]
      : []),
    ["bytes up", formatBytes(stats.bytesOut)],
    ["bytes down", formatBytes(stats.bytesIn)],
  ];
  syncList($("#stats-list"), rows, ([name]) => name, ([name, value]) => {
    const row = el("div");
    row.append(el("dt", name), el("dd", String(value)));
    return row;
  });
}

function connect() {
  const events = new EventSource(withToken("events"));
  events.addEventListener("snapshot", (event) => {
    const snapshot = JSON.parse(event.data);
    showSelf(snapshot.self);
    $("#nick-text").value = snapshot.self.nick;
    $("#chat").hidden = !snapshot.features.chat;
    $("#files").hidden = !snapshot.features.files;
    $("#messages").replaceChildren();
    state.shown.clear();
    for (const message of snapshot.messages) showMessage(message);
    notice("live");
  });
  events.addEventListener("message", (event) => showMessage(JSON.parse(event.data)));
  events.addEventListener("state", (event) => {
    const live = JSON.parse(event.data);
    showSelf(live.self);
    showPeers(live.peers, live.neighbourhood);
    if (live.files) {
      showOffers(live.files.offers);
      showTransfers(live.files.transfers);
      showUploads(live.files.uploads);
    }
    showStats(live.stats);
  });
  events.addEventListener("notice", (event) => notice(JSON.parse(event.data).text));
  events.onerror = () => notice("reconnecting…");
}

$("#say").addEventListener("submit", (event) => {
  event.preventDefault();
  const input = $("#text");
  const text = input.value;
  if (!text.trim()) return;
  api("say", { text, to: $("#to").value || undefined }).then(
    () => (input.value = ""),
    (error) => notice(error.message),
  );
});

$("#nick").addEventListener("submit", (event) => {
  event.preventDefault();
  api("nick", { nick: $("#nick-text").value.trim() }).then(
    () => notice("nickname changed"),
    (error) => notice(error.message),
  );
});

connect();
