/**
 * Where peers can be dialed: a bounded book of addresses, each with its dial failures and the
 * backoff they earned, and the flags that keep an address from ever being dialed by upkeep (the
 * user parted from it, or it turned out to be this peer).
 *
 * Addresses heard on the LAN (hints: `heard`) are kept apart from the others. Anyone on the LAN
 * can announce anything, so hints have a small quota of their own, are forgotten when no longer
 * heard, and are never told to other peers nor saved; a hint cannot push out an address the peer
 * learned otherwise, nor relabel one. A hint becomes an address like any other once a handshake
 * there proves its peer (or a peer names it).
 *
 * @module
 */
import { type Address, formatAddress } from "./address.ts";
import type { StoredAddress } from "./address_book_file.ts";
import { delayAfter } from "./backoff.ts";
import { OldestFirst, type Sighting } from "./oldest_first.ts";

/** A place a peer was seen listening. */
export interface KnownAddress extends Address {
  /** Peer id last seen there, if known. */
  id?: string;
  /** When this address was last confirmed or announced (ms since epoch). */
  lastSeenAt: number;
  /** Dial failures since the last success. */
  failures: number;
  /** Earliest time upkeep may dial it again (ms since epoch). */
  nextDialAt: number;
  /** The user disconnected it: not redialed until they connect to it again. */
  blocked: boolean;
  /** It turned out to be this peer itself. */
  self: boolean;
  /** The peer there said goodbye (it shut down): dialing it again and failing is no news. */
  left?: boolean;
  /**
   * Heard on the LAN, and no handshake there yet (a hint): dialed with `id` pinned, never told
   * to other peers nor saved, forgotten when not heard for {@linkcode HINT_TTL_MS}.
   */
  heard?: boolean;
}

/** Most hints (addresses heard on the LAN, not yet proven) held at once, apart from the rest. */
export const MAX_HINTS = 32;
/** A hint not heard again for this long is forgotten, in ms. */
export const HINT_TTL_MS = 30_000;

/** The first wait after a failed dial, in ms; it doubles with each failure after. */
const DIAL_BACKOFF_BASE_MS = 500;
/** The longest wait between dials of a failing address, in ms. */
const DIAL_BACKOFF_MAX_MS = 60_000;

/**
 * The bounded set of addresses a peer may dial. Past `max` entries, adding a new one drops the
 * one seen longest ago (of those seen at the same time, the one added first); past {@linkcode
 * MAX_HINTS} hints, a new hint drops the hint heard longest ago (and never another entry). Which
 * entry was seen longest ago is kept in a heap, not searched for: a peer told of many peers adds
 * addresses all the time.
 *
 * @example
 * ```ts
 * import { AddressBook } from "./address_book.ts";
 * const book = new AddressBook();
 * book.add({ host: "10.0.0.7", port: 7000 });
 * book.failed({ host: "10.0.0.7", port: 7000 });
 * console.log(book.dialable().length); // 0: it waits out its backoff first
 * ```
 */
export class AddressBook {
  readonly #entries = new Map<string, KnownAddress>();
  /**
   * When each entry was last seen, as noted for eviction, with the entry's place in the order
   * entries were added (it breaks ties). Only those of entries that are not hints go in the heap.
   */
  readonly #sightings = new Map<string, Sighting<string>>();
  readonly #oldest = new OldestFirst<string>((s) => this.#sightings.get(s.key) === s);
  readonly #max: number;
  #added = 0;
  #hints = 0;
  #changes = 0;

  /** An empty book of at most `max` addresses (and {@linkcode MAX_HINTS} hints besides). */
  constructor(max = 256) {
    this.#max = max;
  }

  /**
   * Records that a peer (maybe of known id) listens at `address`; returns its entry. A hint
   * there becomes an ordinary entry: whoever adds it knows more than a LAN announcement says.
   */
  add(address: Address, id?: string, now = Date.now()): KnownAddress {
    const key = formatAddress(address);
    let entry = this.#entries.get(key);
    // A new entry, or a hint made an ordinary one, is noted for eviction whenever it was seen.
    let noted = false;
    if (entry?.heard) {
      delete entry.heard;
      this.#hints--;
      // Not yet noted, it cannot be the one dropped.
      if (this.#entries.size - this.#hints > this.#max) this.#evictOldest();
      noted = true;
    }
    if (!entry) {
      if (this.#entries.size - this.#hints >= this.#max) this.#evictOldest();
      entry = {
        host: address.host,
        port: address.port,
        lastSeenAt: now,
        failures: 0,
        nextDialAt: 0,
        blocked: false,
        self: false,
      };
      this.#entries.set(key, entry);
      noted = true;
    }
    if (noted || entry.lastSeenAt !== now) {
      entry.lastSeenAt = now;
      this.#seen(key, entry);
    }
    if (id) entry.id = id;
    this.#changes++;
    return entry;
  }

  /**
   * Records that peer `id` announced on the LAN that it listens at `address` (a hint); returns
   * its entry. Heard again, a hint is refreshed, and takes the id heard last (the dial, pinned to
   * it, proves it or fails). An ordinary entry there is left as it is, only refreshed when it
   * names the same peer. A new hint starts blocked if the user parted from that peer, and is not
   * dialed for `waitMs`.
   */
  hint(address: Address, id: string, now = Date.now(), waitMs = 0): KnownAddress {
    const key = formatAddress(address);
    let entry = this.#entries.get(key);
    if (entry) {
      if (entry.heard) entry.id = id;
      if (entry.id === id && entry.lastSeenAt !== now) {
        entry.lastSeenAt = now;
        this.#seen(key, entry);
      }
      return entry;
    }
    if (this.#hints >= MAX_HINTS) this.#evictOldestHint();
    entry = {
      host: address.host,
      port: address.port,
      id,
      lastSeenAt: now,
      failures: 0,
      nextDialAt: waitMs > 0 ? now + waitMs : 0,
      blocked: [...this.#entries.values()].some((e) => e.blocked && e.id === id),
      self: false,
      heard: true,
    };
    this.#entries.set(key, entry);
    this.#hints++;
    this.#seen(key, entry);
    return entry;
  }

  /** Forgets the hints not heard since `now - HINT_TTL_MS` (ms since epoch). */
  forgetHints(now = Date.now()): void {
    if (this.#hints === 0) return;
    for (const [key, entry] of this.#entries) {
      if (entry.heard && entry.lastSeenAt <= now - HINT_TTL_MS) {
        this.#entries.delete(key);
        this.#sightings.delete(key);
        this.#hints--;
      }
    }
  }

  /**
   * Records that a neighbour named `address` (maybe with the `id` there) at `now`. A new address
   * is added as seen then, and a hint becomes an ordinary entry (see {@linkcode add}); a known
   * one only takes the id, and keeps when it was last seen: only contact refreshes that. Were a
   * mention a sighting, the peers most neighbours name, those with the most connections, would
   * sort first for everyone to dial, and sit at their connection limit turning dialers away.
   */
  mention(address: Address, id?: string, now = Date.now()): KnownAddress {
    const entry = this.get(address);
    if (!entry || entry.heard) return this.add(address, id, now);
    if (id && entry.id !== id) {
      entry.id = id;
      this.#changes++;
    }
    return entry;
  }

  /** Changes since the book was made: whoever saves it compares this with what it saved last. */
  get changes(): number {
    return this.#changes;
  }

  /** What is worth keeping across a restart: every address but this peer's own and the hints. */
  stored(): StoredAddress[] {
    return this.list().filter((entry) => !entry.self && !entry.heard);
  }

  /**
   * Puts back addresses kept by {@linkcode stored} (most recently seen first kept, up to the
   * book's bound), each dialable at once: a restarted peer tries again what it knew.
   */
  restore(addresses: StoredAddress[]): void {
    const newestFirst = [...addresses].sort((a, b) => b.lastSeenAt - a.lastSeenAt);
    for (const stored of newestFirst.slice(0, this.#max).reverse()) {
      const entry = this.add(stored, stored.id, stored.lastSeenAt);
      entry.failures = stored.failures;
      entry.blocked = stored.blocked;
      entry.nextDialAt = 0;
    }
  }

  /** The entry for `address`, if known. */
  get(address: Address): KnownAddress | undefined {
    return this.#entries.get(formatAddress(address));
  }

  /** Every entry, most recently seen first. */
  list(): KnownAddress[] {
    return [...this.#entries.values()].sort((a, b) => b.lastSeenAt - a.lastSeenAt);
  }

  /** A dial succeeded at `now` (ms since epoch): clear the backoff. */
  succeeded(address: Address, id: string, now = Date.now()): void {
    const entry = this.add(address, id, now);
    entry.failures = 0;
    entry.nextDialAt = 0;
    entry.left = false;
  }

  /** The peer at `address` said goodbye: redialed with backoff like any, but quietly. */
  left(address: Address): void {
    const entry = this.get(address);
    if (entry) entry.left = true;
  }

  /** Not dialed before `until` (ms since epoch), with no failure counted: it dropped us on purpose. */
  rest(address: Address, until: number): void {
    const entry = this.get(address);
    if (entry) entry.nextDialAt = Math.max(entry.nextDialAt, until);
  }

  /**
   * A dial failed: back off exponentially, with jitter so peers do not retry in lockstep. An
   * address not in the book is added, unless `address` is a hint's entry (`heard`): a hint
   * forgotten while it was dialed stays forgotten.
   */
  failed(address: Address & { heard?: boolean }, now = Date.now()): void {
    // A failure is no sighting: an entry keeps the time it was last seen.
    const known = this.get(address);
    if (!known && address.heard) return;
    const entry = known ?? this.add(address, undefined, now);
    entry.failures++;
    entry.nextDialAt = now + delayAfter(entry.failures, DIAL_BACKOFF_BASE_MS, DIAL_BACKOFF_MAX_MS);
    this.#changes++;
  }

  /** Addresses upkeep may dial now, fewest failures first, then most recently seen. */
  dialable(now = Date.now()): KnownAddress[] {
    return [...this.#entries.values()]
      .filter((e) => !e.blocked && !e.self && e.nextDialAt <= now)
      .sort((a, b) => a.failures - b.failures || b.lastSeenAt - a.lastSeenAt);
  }

  /** Marks the addresses of peer `id` (or host:port, or any host at `port`) as blocked or not. */
  setBlocked(match: { id?: string; host?: string; port?: number }, blocked: boolean): void {
    for (const entry of this.#entries.values()) {
      const byId = match.id !== undefined && entry.id === match.id;
      const byAddress = match.port !== undefined && entry.port === match.port &&
        (match.host === undefined || entry.host === match.host);
      if (byId || byAddress) {
        entry.blocked = blocked;
        if (!blocked) entry.nextDialAt = 0;
        this.#changes++;
      }
    }
  }

  /** Drops the entry seen longest ago that is not a hint. */
  #evictOldest(): void {
    const key = this.#oldest.take();
    if (key === undefined) return;
    this.#entries.delete(key);
    this.#sightings.delete(key);
  }

  /** Drops the hint heard longest ago (hints are few, and come at a bounded rate: a search). */
  #evictOldestHint(): void {
    let oldest: [string, KnownAddress] | undefined;
    for (const item of this.#entries) {
      if (!item[1].heard) continue;
      if (!oldest || item[1].lastSeenAt < oldest[1].lastSeenAt) oldest = item;
    }
    if (!oldest) return;
    this.#entries.delete(oldest[0]);
    this.#sightings.delete(oldest[0]);
    this.#hints--;
  }

  /** Notes when the entry at `key` was last seen (a hint's only for its place in the order). */
  #seen(key: string, entry: KnownAddress): void {
    const order = this.#sightings.get(key)?.order ?? this.#added++;
    const sighting = { key, at: entry.lastSeenAt, order };
    this.#sightings.set(key, sighting);
    if (entry.heard) return;
    this.#oldest.note(sighting);
    // Every sighting of an entry seen again stays in the heap until it reaches the top: past
    // twice the entries, start again from the last of each.
    const ordinary = this.#entries.size - this.#hints;
    if (this.#oldest.size > 2 * ordinary + 16) this.#oldest.compact(this.#ordinarySightings());
  }

  *#ordinarySightings(): Generator<Sighting<string>> {
    for (const [key, sighting] of this.#sightings) {
      if (!this.#entries.get(key)!.heard) yield sighting;
    }
  }
}
