// The page of one meshtalk peer. Everything it shows comes from the peer process over one
// Server-Sent Events stream; what the user does goes back as small JSON posts. Every text from the
// network is put in the page with textContent, never as HTML.
import { drawGraph } from "./graph.js";

const token = new URLSearchParams(location.search).get("token") ?? "";
const $ = (selector) => document.querySelector(selector);
const state = { self: null, places: new Map(), peers: [], lastGraph: "" };

function api(path, body) {
  return fetch(`api/${path}?token=${encodeURIComponent(token)}`, {
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

function size(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) [value, unit] = [value / 1024, unit + 1];
  return `${value.toFixed(1)} ${units[unit]}`;
}

function short(id) {
  return id.slice(0, 8);
}

function showMessage(message) {
  const list = $("#messages");
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  const item = el("li", undefined, message.direct ? "direct" : "");
  item.dataset.id = message.id;
  item.append(el("span", new Date(message.sentAt).toTimeString().slice(0, 8), "time"));
  if (message.late) item.append(el("span", "[late]", "tag"));
  if (message.to) item.append(el("span", `[to ${message.to.nick}]`, "tag"));
  else if (message.direct) item.append(el("span", "[direct]", "tag"));
  item.append(el("span", message.own ? "you" : message.from.nick, "who"));
  if (!message.own) item.append(el("span", `(${short(message.from.id)}) `, "time"));
  item.append(el("span", message.text, "text"));
  list.append(item);
  while (list.children.length > 500) list.firstElementChild.remove();
  if (atBottom || message.own) list.scrollTop = list.scrollHeight;
}

function showPeers(peers, neighbourhood) {
  const body = $("#peers tbody");
  body.replaceChildren(...peers.map((peer) => {
    const row = el("tr");
    row.append(
      el("td", `${peer.nick} (${short(peer.id)})`),
      el("td", peer.address ?? "-"),
      el("td", peer.rttMs === null ? "-" : `${peer.rttMs.toFixed(2)} ms`),
    );
    return row;
  }));
  const to = $("#to");
  const chosen = to.value;
  to.replaceChildren(el("option", "everyone"));
  to.firstElementChild.value = "";
  for (const peer of peers) {
    const option = el("option", peer.nick);
    option.value = peer.id;
    to.append(option);
  }
  to.value = peers.some((p) => p.id === chosen) ? chosen : "";

  const nodes = [{ id: state.self.id, label: state.self.nick, kind: "self" }];
  const edges = [];
  const known = new Set([state.self.id]);
  for (const peer of peers) {
    nodes.push({ id: peer.id, label: peer.nick, kind: "neighbour" });
    known.add(peer.id);
    const rtt = peer.rttMs === null ? undefined : `${peer.rttMs.toFixed(1)} ms`;
    edges.push({ a: state.self.id, b: peer.id, label: rtt, kind: "near" });
  }
  for (const [neighbour, theirs] of Object.entries(neighbourhood)) {
    for (const far of theirs) {
      if (!known.has(far.id)) {
        nodes.push({ id: far.id, label: far.nick ?? short(far.id), kind: "far" });
        known.add(far.id);
      }
      if (far.id !== state.self.id) edges.push({ a: neighbour, b: far.id, kind: "far" });
    }
  }
  const key = JSON.stringify([nodes, edges]);
  if (key !== state.lastGraph) {
    state.lastGraph = key;
    state.places = drawGraph($("#graph"), { nodes, edges }, state.places);
  }
}

function showFiles(files) {
  const body = $("#offers tbody");
  body.replaceChildren(...files.offers.map((file) => {
    const row = el("tr");
    row.dataset.root = file.root;
    const action = el("td");
    if (file.state === "known") {
      const button = el("button", "Get");
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
      action.textContent = file.state === "seeding" ? "have it" : file.state;
    }
    row.append(
      el("td", file.name),
      el("td", size(file.size)),
      el("td", String(file.holders)),
      el("td", file.from ? file.from.nick : "-"),
      action,
    );
    return row;
  }));
  $("#transfers").replaceChildren(...files.transfers.map((t) => {
    const item = el("li");
    item.dataset.root = t.root;
    const bar = el("progress");
    bar.max = Math.max(1, t.size);
    bar.value = t.bytes;
    const eta = t.etaSeconds === null ? "?" : `${t.etaSeconds} s`;
    item.append(
      el(
        "div",
        `${t.name}: ${size(t.bytes)} of ${size(t.size)}, ${size(t.rate)}/s from ` +
          `${t.sources} peer${t.sources === 1 ? "" : "s"}, ETA ${eta}`,
      ),
      bar,
    );
    return item;
  }));
  $("#uploads").replaceChildren(
    ...files.uploads.map((u) =>
      el("li", `${u.name} to ${u.peer}: ${size(u.bytes)}, ${size(u.rate)}/s`)
    ),
  );
}

function showStats(stats) {
  $("#stats-list").replaceChildren(
    ...Object.entries(stats).flatMap(([name, value]) => [
      el("dt", name),
      el("dd", String(value)),
    ]),
  );
}

function connect() {
  const events = new EventSource(`events?token=${encodeURIComponent(token)}`);
  events.addEventListener("snapshot", (event) => {
    const snapshot = JSON.parse(event.data);
    state.self = snapshot.self;
    $("#me").textContent = `${snapshot.self.nick} (${
      short(snapshot.self.id)
    }), port ${snapshot.self.port}`;
    $("#nick-text").value = snapshot.self.nick;
    $("#chat").hidden = !snapshot.features.chat;
    $("#files").hidden = !snapshot.features.files;
    $("#messages").replaceChildren();
    for (const message of snapshot.messages) showMessage(message);
    notice("live");
  });
  events.addEventListener("message", (event) => showMessage(JSON.parse(event.data)));
  events.addEventListener("nick", (event) => {
    state.self.nick = JSON.parse(event.data).nick;
    $("#me").textContent = `${state.self.nick} (${short(state.self.id)}), port ${state.self.port}`;
  });
  events.addEventListener("state", (event) => {
    const live = JSON.parse(event.data);
    if (!state.self) return;
    showPeers(live.peers, live.neighbourhood);
    if (live.files) showFiles(live.files);
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
  api("nick", { nick: $("#nick-text").value }).catch((error) => notice(error.message));
});

connect();
