/**
 * What a peer's page is sent: a snapshot when it opens (this peer, what it runs, the recent
 * messages), then, as they change, the state of the mesh (neighbours with their round trips and
 * what their peer exchange says of theirs), of the files (on offer, being fetched, being sent)
 * and the counters; and each message as it is shown. Plain JSON: the page puts every text from
 * it into the document as text, never as markup.
 *
 * @module
 */
import type { Peer } from "@meshtalk/core";
import type { Chat, ChatMessage } from "@meshtalk/chat";
import type { FileShare, FileShareEvents } from "@meshtalk/files";
import { BoundedMap } from "@meshtalk/core";

/** A peer as the page names it. */
export interface PagePeerName {
  id: string;
  nick: string;
}

/** A message as the page shows it. */
export interface PageMessage {
  id: string;
  from: PagePeerName;
  /** The peer a direct message is for, or null. */
  to: PagePeerName | null;
  text: string;
  /** When its author sent it (ms since epoch, by the author's clock). */
  sentAt: number;
  direct: boolean;
  /** It came later than it was said (see `ChatMessage.late`). */
  late: boolean;
  /** This peer wrote it. */
  own: boolean;
}

/** What the page gets first: enough to draw itself. */
export interface PageSnapshot {
  self: PagePeerName & { port: number };
  /** The apps this peer runs: the page shows their parts only. */
  features: { chat: boolean; files: boolean };
  /** The recent messages, oldest first. */
  messages: PageMessage[];
}

/** A neighbour, in the mesh's table and picture. */
export interface PageNeighbour extends PagePeerName {
  /** Where it listens, as seen from here. */
  address: string | null;
  /** The last heartbeat's round trip, in ms, once measured. */
  rttMs: number | null;
}

/** A download, running or just done. */
export interface PageTransfer {
  root: string;
  name: string;
  size: number;
  /** Verified bytes here. */
  bytes: number;
  /** Bytes per second: lately while running, on average once done. */
  rate: number;
  /** Peers it comes from now. */
  sources: number;
  /** Seconds left at the current rate, or null while nothing moves. */
  etaSeconds: number | null;
  done: boolean;
}

/** A file being sent to a peer, or sent lately. */
export interface PageUpload {
  root: string;
  name: string;
  to: PagePeerName;
  active: boolean;
  /** Once done: bytes sent and in how many seconds. */
  bytes: number | null;
  seconds: number | null;
}

/** A file or folder on offer in the mesh. */
export interface PageOffer {
  root: string;
  name: string;
  kind: "file" | "folder";
  size: number;
  /** Peers known to hold all of it. */
  holders: number;
  /** The peer that offered it first. */
  from: PagePeerName | null;
  state: "known" | "checking" | "downloading" | "seeding";
}

/** What changes while the page is open: sent again whenever it does. */
export interface PageLive {
  self: PagePeerName & { port: number };
  peers: PageNeighbour[];
  /** For each neighbour id: the peers its last peer exchange named as its own neighbours. */
  neighbourhood: Record<string, PagePeerName[]>;
  files: { offers: PageOffer[]; transfers: PageTransfer[]; uploads: PageUpload[] } | null;
  stats: PageStats;
}

/** The counters. */
export interface PageStats {
  /** The chat's, when this peer runs it. */
  chat: {
    sent: number;
    shown: number;
    relayed: number;
    duplicates: number;
    forged: number;
  } | null;
  /** Bytes read from and written to the peer's connections. */
  bytesIn: number;
  bytesOut: number;
}

/** What a {@linkcode PageState} reads. */
export interface PageSources {
  peer: Peer;
  chat?: Chat;
  share?: FileShare;
}

/** Finished downloads and uploads the page keeps showing. */
const KEEP_DONE = 10;
/** Messages a page gets when it opens (it keeps as many). */
const KEEP_MESSAGES = 500;

/**
 * The page's view of one peer, built from its parts; it follows the share's events to know what
 * was fetched and sent lately.
 *
 * @example
 * ```ts
 * import { startPeer } from "@meshtalk/core";
 * import { PageState } from "./web_state.ts";
 * const peer = await startPeer({ host: "127.0.0.1", log: () => {} });
 * const state = new PageState({ peer });
 * console.log(state.snapshot().features, state.live().peers); // { chat: false, files: false } []
 * state.close();
 * await peer.close();
 * ```
 */
export class PageState {
  readonly #sources: PageSources;
  readonly #messages = new BoundedMap<string, PageMessage>(KEEP_MESSAGES);
  readonly #done = new BoundedMap<string, PageTransfer>(KEEP_DONE);
  readonly #uploads = new Map<string, PageUpload>();
  readonly #sent = new BoundedMap<string, PageUpload>(KEEP_DONE);
  readonly #unsubscribe: (() => void)[] = [];

  /** Follows `sources.share`'s transfers, if it has one; starts from the chat's history. */
  constructor(sources: PageSources) {
    this.#sources = sources;
    for (const message of sources.chat?.history() ?? []) this.remember(message);
    const share = sources.share;
    if (!share) return;
    this.#unsubscribe.push(
      share.on("saved", (file) => {
        this.#done.delete(file.root);
        this.#done.set(file.root, {
          root: file.root,
          name: file.name,
          size: file.bytes,
          bytes: file.bytes,
          rate: file.seconds > 0 ? Math.round(file.fetched / file.seconds) : 0,
          sources: 0,
          etaSeconds: 0,
          done: true,
        });
      }),
      share.on("upload", (upload) => this.#uploaded(upload)),
    );
  }

  /** A peer's nickname: the newest the chat has seen, else its handshake's, else its id's start. */
  nickOf(id: string): string {
    const { peer, chat } = this.#sources;
    if (id === peer.id) return peer.nick;
    return chat?.knownPeers().get(id) ?? peer.peers().find((p) => p.id === id)?.nick ??
      id.slice(0, 8);
  }

  /** What a page gets when it opens. */
  snapshot(): PageSnapshot {
    const { chat, share } = this.#sources;
    return {
      self: this.#self(),
      features: { chat: chat !== undefined, files: share !== undefined },
      messages: [...this.#messages.values()],
    };
  }

  /**
   * `message` as the page shows it, kept for the pages opened later: every message shown here,
   * direct ones and this peer's own included (the chat's history holds only what is said to all).
   */
  remember(message: ChatMessage): PageMessage {
    const shown = this.#pageMessage(message);
    this.#messages.set(shown.id, shown);
    return shown;
  }

  #pageMessage(message: ChatMessage): PageMessage {
    const { peer } = this.#sources;
    return {
      id: message.id,
      from: { id: message.from.id, nick: message.from.nick },
      to: message.to ? { id: message.to, nick: this.nickOf(message.to) } : null,
      text: message.text,
      sentAt: message.sentAt,
      direct: message.direct,
      late: message.late,
      own: message.from.id === peer.id,
    };
  }

  /** The mesh, the files and the counters as they are now. */
  live(): PageLive {
    const { peer, chat, share } = this.#sources;
    const peers = peer.peers().map((info) => ({
      id: info.id,
      nick: this.nickOf(info.id),
      address: info.address,
      rttMs: info.rttMs === null ? null : Math.round(info.rttMs * 100) / 100,
    }));
    const neighbourhood: Record<string, PagePeerName[]> = {};
    for (const { id } of peers) {
      neighbourhood[id] = peer.neighboursOf(id).map((far) => ({ id: far, nick: this.nickOf(far) }));
    }
    const stats = chat?.stats();
    const traffic = peer.traffic();
    return {
      self: this.#self(),
      peers,
      neighbourhood,
      files: share ? this.#files(share) : null,
      stats: {
        chat: stats
          ? {
            sent: stats.sent,
            shown: stats.delivered,
            relayed: stats.relayed,
            duplicates: stats.duplicates,
            forged: stats.forged,
          }
          : null,
        bytesIn: traffic.bytesIn,
        bytesOut: traffic.bytesOut,
      },
    };
  }

  /** Stops following the share. */
  close(): void {
    for (const unsubscribe of this.#unsubscribe) unsubscribe();
  }

  #self(): PagePeerName & { port: number } {
    const { peer } = this.#sources;
    return { id: peer.id, nick: peer.nick, port: peer.port };
  }

  #files(share: FileShare): NonNullable<PageLive["files"]> {
    const files = share.files();
    const offers = files.map((file): PageOffer => ({
      root: file.root,
      name: file.name,
      kind: file.kind ?? "file",
      size: file.size,
      holders: file.holders ?? 0,
      from: file.origin ? { id: file.origin.id, nick: this.nickOf(file.origin.id) } : null,
      state: file.state,
    }));
    const running = files
      .filter((file) => file.state === "downloading" || file.state === "checking")
      .map((file): PageTransfer => ({
        root: file.root,
        name: file.name,
        size: file.size,
        bytes: file.bytes,
        rate: Math.round(file.rate),
        sources: file.sources,
        etaSeconds: file.rate > 0 ? Math.ceil((file.size - file.bytes) / file.rate) : null,
        done: false,
      }));
    // A file fetched again after it was done is shown once: running.
    const done = [...this.#done.values()].filter((t) => !running.some((r) => r.root === t.root));
    return {
      offers,
      transfers: [...running, ...done.reverse()],
      uploads: [...this.#uploads.values(), ...[...this.#sent.values()].reverse()],
    };
  }

  #uploaded(upload: FileShareEvents["upload"]): void {
    const key = `${upload.peer.id} ${upload.root}`;
    const entry: PageUpload = {
      root: upload.root,
      name: upload.name,
      to: { id: upload.peer.id, nick: this.nickOf(upload.peer.id) },
      active: upload.type === "start",
      bytes: upload.type === "start" ? null : upload.bytes,
      seconds: upload.type === "start" ? null : Math.round(upload.seconds * 100) / 100,
    };
    if (entry.active) {
      this.#uploads.set(key, entry);
    } else {
      this.#uploads.delete(key);
      this.#sent.delete(key);
      this.#sent.set(key, entry);
    }
  }
}
