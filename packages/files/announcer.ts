/**
 * How files become known across the mesh: a peer that holds a file announces it to its
 * neighbours, who check the manifest and its signature, record the holder in their catalog and
 * pass the announcement on, hop by hop; a new neighbour hears of every file known here.
 *
 * @module
 */
import { type AppChannel, bytesEqual, type Peer, type PeerInfo } from "@meshtalk/core";
import { Catalog, type CatalogLimits, type KnownFile } from "./catalog.ts";
import { FileShareError } from "./errors.ts";
import {
  checkManifest,
  checkManifestSignature,
  type Manifest,
  type ManifestSignature,
  signingBytes,
} from "./manifest.ts";
import {
  ANNOUNCE_HOPS,
  type Announcement,
  announcement,
  type FilesSchema,
  readAnnouncement,
} from "./wire.ts";

/** How often a full catalog is reported, at most. */
const FULL_REPORT_MS = 60_000;

/**
 * What came of an announcement that was taken in.
 *
 * @example
 * ```ts
 * import type { Announced } from "./announcer.ts";
 * const manifest = { name: "a.txt", size: 1, pieceSize: 16384, pieces: new Uint8Array(32), root: "ab".repeat(32) };
 * const signature = { origin: "them", key: new Uint8Array(32), sig: new Uint8Array(64) };
 * const taken: Announced = { file: { manifest, signature, holders: new Map([["them", null]]) }, isNew: true };
 * ```
 */
export interface Announced {
  /** The file, as the catalog knows it. */
  file: KnownFile;
  /** True when the file was not known before. */
  isNew: boolean;
}

/**
 * Announces the files this peer holds, and takes in those of others.
 *
 * @example
 * ```ts
 * import { startPeer } from "@meshtalk/core";
 * import { filesApp } from "./wire.ts";
 * import { Announcer } from "./announcer.ts";
 * const peer = await startPeer({ apps: [filesApp], log: () => {} });
 * const announcer = new Announcer(peer, peer.app(filesApp));
 * const manifest = { name: "a.txt", size: 1, pieceSize: 16384, pieces: new Uint8Array(32), root: "ab".repeat(32) };
 * announcer.announceHeld(manifest, await announcer.signatureFor(manifest));
 * console.log(announcer.catalog.get(manifest.root)?.signature.origin === peer.id); // true
 * await peer.close();
 * ```
 */
export class Announcer {
  /** The files known here. */
  readonly catalog: Catalog;
  readonly #peer: Pick<Peer, "id" | "publicKey" | "sign">;
  readonly #channel: AppChannel<FilesSchema>;
  #fullReportedAt = -Infinity;

  /** An announcer for `peer`, over its files app `channel`, with an empty catalog. */
  constructor(
    peer: Pick<Peer, "id" | "publicKey" | "sign">,
    channel: AppChannel<FilesSchema>,
    limits?: CatalogLimits,
  ) {
    this.#peer = peer;
    this.#channel = channel;
    this.catalog = new Catalog(peer.id, limits);
  }

  /**
   * The signature to announce a file this peer offers under: the first announcer's, when the
   * file is known already, else a new one by this peer.
   */
  async signatureFor(manifest: Manifest): Promise<ManifestSignature> {
    return this.catalog.get(manifest.root)?.signature ?? {
      origin: this.#peer.id,
      key: this.#peer.publicKey,
      sig: await this.#peer.sign(signingBytes(manifest.root)),
    };
  }

  /**
   * This peer holds the whole file: recorded, and said to every neighbour, under the signature
   * the catalog has for it (`signature` is for a file not known yet).
   */
  announceHeld(manifest: Manifest, signature?: ManifestSignature): void {
    const self = this.#peer.id;
    const first = this.catalog.get(manifest.root)?.signature ?? signature;
    if (!first) throw new TypeError(`${manifest.name} is not known: announce it with a signature`);
    this.catalog.add(manifest, first, self, null);
    this.catalog.markSeen(manifest.root, self);
    this.#channel.broadcast(announcement(manifest, first, self, null, ANNOUNCE_HOPS));
  }

  /**
   * Takes in an announcement from the neighbour `from`: checks it, records its holder and passes
   * it on (once the neighbours' queues have room: big manifests passed on in a burst must not
   * overflow them). Returns null when nothing came of it (handled before, or about this peer).
   * Throws a {@linkcode FileShareError} when it is refused: a bad or forged manifest, or a full
   * catalog (said once a minute; ignored quietly in between).
   */
  async receive(body: Announcement, from: PeerInfo): Promise<Announced | null> {
    const { root, holder } = body;
    if (this.catalog.seen(root, holder) || holder === this.#peer.id) return null;
    const { manifest, signature } = readAnnouncement(body);
    try {
      await checkManifest(manifest);
      // A signature seen before was checked then.
      const known = this.catalog.get(root)?.signature;
      if (!known || !bytesEqual(known.sig, body.sig) || !bytesEqual(known.key, body.key)) {
        await checkManifestSignature(manifest, signature);
      }
    } catch (error) {
      const code = error instanceof FileShareError ? error.code : "bad-manifest";
      throw new FileShareError(code, `${(error as Error).message} (announced by ${nameOf(from)})`);
    }
    this.catalog.markSeen(root, holder);
    // The holder's address as seen from here is best when it is our neighbour.
    const address = from.id === holder ? from.address : body.address ?? null;
    const isNew = !this.catalog.get(root);
    if (!this.catalog.add(manifest, signature, holder, address)) return this.#full(body, from);
    const file = this.catalog.get(root)!;
    if (body.hops > 1) {
      // The core drops a neighbour with too much queued for it.
      await this.#channel.drained();
      const relayed = announcement(manifest, file.signature, holder, address, body.hops - 1);
      this.#channel.broadcast(relayed, from.id);
    }
    return { file, isNew };
  }

  /**
   * Tells a new neighbour of every known file, once each, with one holder, each send waiting for
   * room in its queue: manifests can be large, and a burst of them would overflow it. Stops when
   * `stopped()` turns true; rejects when the neighbour leaves.
   */
  async introduce(peerId: string, stopped: () => boolean = () => false): Promise<void> {
    for (const { manifest, signature } of this.catalog.files()) {
      if (stopped()) return;
      const [holder, address] = this.catalog.holderToTell(manifest.root)!;
      if (holder === peerId) continue;
      const body = announcement(manifest, signature, holder, address, ANNOUNCE_HOPS);
      await this.#channel.send(peerId, body);
    }
  }

  /** Announcements cost memory here: a peer announcing without end must not exhaust it. */
  #full(body: Announcement, from: PeerInfo): null {
    const now = performance.now();
    if (now - this.#fullReportedAt <= FULL_REPORT_MS) return null;
    this.#fullReportedAt = now;
    throw new FileShareError(
      "catalog-full",
      `ignoring new announcements (${body.name} from ${nameOf(from)} among them): ` +
        `${this.catalog.size} files are known already, the most kept`,
    );
  }
}

/**
 * A peer as the user knows it: its nick and the start of its id.
 *
 * @example
 * ```ts
 * import { nameOf } from "./announcer.ts";
 * console.log(nameOf({ nick: "ada", id: "4f1c2e3d".repeat(4) })); // "ada 4f1c2e3d"
 * ```
 */
export function nameOf(peer: Pick<PeerInfo, "nick" | "id">): string {
  return `${peer.nick} ${peer.id.slice(0, 8)}`;
}
