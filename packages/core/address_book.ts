/**
 * Where peers can be dialed: a bounded book of addresses, each with its dial failures and the
 * backoff they earned, and the flags that keep an address from ever being dialed by upkeep (the
 * user parted from it, or it turned out to be this peer).
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
}

/** The first wait after a failed dial, in ms; it doubles with each failure after. */
const DIAL_BACKOFF_BASE_MS = 500;
/** The longest wait between dials of a failing address, in ms. */
const DIAL_BACKOFF_MAX_MS = 60_000;

/**
 * The bounded set of addresses a peer may dial. Past `max` entries, adding a new one drops the
 * one seen longest ago (of those seen at the same time, the one added first). Which one that is
 * is kept in a heap, not searched for: a peer told of many peers adds addresses all the time.
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
   * When each entry was last seen, as noted for eviction; its `order` (the place of the entry in
   * the order entries were added) breaks ties.
   */
  readonly #sightings = new Map<string, Sighting<string>>();
  readonly #oldest = new OldestFirst<string>((s) => this.#sightings.get(s.key) === s);
  readonly #max: number;
  #added = 0;
  #changes = 0;

  /** An empty book of at most `max` addresses. */
  constructor(max = 256) {
    this.#max = max;
  }

  /** Records that a peer (maybe of known id) listens at `address`; returns its entry. */
  add(address: Address, id?: string, now = Date.now()): KnownAddress {
    const key = formatAddress(address);
    let entry = this.#entries.get(key);
    if (!entry) {
      if (this.#entries.size >= this.#max) this.#evictOldest();
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
      this.#seen(key, now, this.#added++);
    } else if (entry.lastSeenAt !== now) {
      entry.lastSeenAt = now;
      this.#seen(key, now, this.#sightings.get(key)!.order);
    }
    if (id) entry.id = id;
    this.#changes++;
    return entry;
  }

  /**
   * Records that a neighbour named `address` (maybe with the `id` there) at `now`. A new address
   * is added as seen then; a known one only takes the id, and keeps when it was last seen: only
   * contact refreshes that (see {@linkcode add}). Were a mention a sighting, the peers most
   * neighbours name, those with the most connections, would sort first for everyone to dial, and
   * sit at their connection limit turning dialers away.
   */
  mention(address: Address, id?: string, now = Date.now()): KnownAddress {
    const entry = this.get(address);
    if (!entry) return this.add(address, id, now);
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

  /** What is worth keeping across a restart: every address but this peer's own. */
  stored(): StoredAddress[] {
    return this.list().filter((entry) => !entry.self);
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

  /** A dial failed: back off exponentially, with jitter so peers do not retry in lockstep. */
  failed(address: Address, now = Date.now()): void {
    // A failure is no sighting: an entry keeps the time it was last seen.
    const entry = this.add(address, undefined, this.get(address)?.lastSeenAt ?? now);
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

  #evictOldest(): void {
    const key = this.#oldest.take();
    if (key === undefined) return;
    this.#entries.delete(key);
    this.#sightings.delete(key);
  }

  /** Notes that the entry at `key` (the `order`th added) was seen at `at`, for eviction. */
  #seen(key: string, at: number, order: number): void {
    const sighting = { key, at, order };
    this.#sightings.set(key, sighting);
    this.#oldest.note(sighting);
    // Every sighting of an entry seen again stays in the heap until it reaches the top: past
    // twice the entries, start again from the last of each.
    if (this.#oldest.size > 2 * this.#entries.size + 16) {
      this.#oldest.compact(this.#sightings.values());
    }
  }
}
