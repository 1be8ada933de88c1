import assert from "node:assert/strict";
import fc from "fast-check";
import { AddressBook, HINT_TTL_MS, MAX_HINTS } from "./address_book.ts";

const at = (port: number) => ({ host: "10.0.0.7", port });

/** The wait a failure earned: `nextDialAt - now`. */
function waitAfterFailure(book: AddressBook, port: number, now: number): number {
  book.failed(at(port), now);
  return book.get(at(port))!.nextDialAt - now;
}

Deno.test("each failure doubles the wait, within its jitter, up to a minute", () => {
  const book = new AddressBook();
  const now = 1_000_000;
  const expected = [500, 1000, 2000, 4000, 8000, 16_000, 32_000, 60_000, 60_000, 60_000];
  for (const [i, base] of expected.entries()) {
    const wait = waitAfterFailure(book, 7000, now);
    assert.ok(wait >= base * 0.75 && wait <= base * 1.25, `failure ${i + 1}: ${wait} ms`);
    assert.equal(book.get(at(7000))!.failures, i + 1);
  }
});

Deno.test("a success clears the failures and the wait; the next failure waits the least again", () => {
  const book = new AddressBook();
  const now = Date.now();
  for (let i = 0; i < 5; i++) book.failed(at(7000), now);
  assert.equal(book.dialable(now).length, 0, "backing off");
  book.succeeded(at(7000), "77".repeat(16));
  const entry = book.get(at(7000))!;
  assert.equal(entry.failures, 0);
  assert.equal(entry.nextDialAt, 0);
  assert.equal(entry.id, "77".repeat(16));
  assert.deepEqual(book.dialable(now).map((e) => e.port), [7000]);
  const wait = waitAfterFailure(book, 7000, now);
  assert.ok(wait >= 375 && wait <= 625, `${wait} ms`);
});

Deno.test("an address is dialable again once its wait is over", () => {
  const book = new AddressBook();
  book.failed(at(7000), 0);
  const until = book.get(at(7000))!.nextDialAt;
  assert.equal(book.dialable(until - 1).length, 0);
  assert.equal(book.dialable(until).length, 1);
});

Deno.test("a failure is not a sighting: the entry keeps when it was last seen", () => {
  const book = new AddressBook();
  book.add(at(7000), undefined, 100);
  book.failed(at(7000), 5000);
  assert.equal(book.get(at(7000))!.lastSeenAt, 100);
});

Deno.test("a full book drops the address seen longest ago", () => {
  const book = new AddressBook(3);
  book.add(at(7001), undefined, 300);
  book.add(at(7002), undefined, 100); // the oldest, though not the first added
  book.add(at(7003), undefined, 200);
  book.add(at(7004), undefined, 400);
  assert.deepEqual(book.list().map((e) => e.port), [7004, 7001, 7003]);
  book.add(at(7001), undefined, 500); // seen again: not a new entry, nothing dropped
  assert.deepEqual(book.list().map((e) => e.port), [7001, 7004, 7003]);
});

Deno.test("blocked and self addresses are never dialable; unblocking makes one dialable at once", () => {
  const book = new AddressBook();
  const them = "77".repeat(16);
  book.add(at(7000), them);
  book.add({ host: "10.0.0.8", port: 7000 }, them);
  book.add(at(7001)).self = true;
  book.add(at(7002));
  book.setBlocked({ id: them }, true);
  assert.deepEqual(book.dialable().map((e) => e.port), [7002], "by id: both its addresses");
  book.setBlocked({ host: "10.0.0.7", port: 7002 }, true);
  assert.equal(book.dialable().length, 0);
  book.failed(at(7000));
  book.setBlocked({ port: 7000 }, false); // any host at that port
  assert.deepEqual(book.dialable().map((e) => e.host).sort(), ["10.0.0.7", "10.0.0.8"]);
  assert.ok(book.get(at(7001))!.self, "self stays self");
});

Deno.test("dialable addresses come fewest failures first, then most recently seen", () => {
  const book = new AddressBook();
  book.add(at(7000), undefined, 100);
  book.add(at(7001), undefined, 300);
  book.add(at(7002), undefined, 200);
  book.failed(at(7001), 0);
  book.failed(at(7002), 0);
  book.failed(at(7002), 0);
  const later = Date.now() + 10 * 60_000;
  assert.deepEqual(book.dialable(later).map((e) => e.port), [7000, 7001, 7002]);
  book.add(at(7003), undefined, 50);
  assert.deepEqual(book.dialable(later).map((e) => e.port), [7000, 7003, 7001, 7002]);
});

Deno.test("IPv6 hosts and IPv4 hosts at the same port are different entries", () => {
  const book = new AddressBook();
  book.add({ host: "::1", port: 7000 });
  book.add({ host: "127.0.0.1", port: 7000 });
  assert.equal(book.list().length, 2);
  assert.equal(book.get({ host: "::1", port: 7000 })?.host, "::1");
});

Deno.test("a success at a time given (a simulated clock) is a sighting at that time", () => {
  const book = new AddressBook();
  book.failed(at(7000), 5_000);
  book.succeeded(at(7000), "77".repeat(16), 9_000);
  assert.equal(book.get(at(7000))!.lastSeenAt, 9_000);
  assert.deepEqual(book.dialable(9_000).map((e) => e.port), [7000]);
});

const peerId = (n: number) => n.toString(16).padStart(32, "0");

Deno.test("hints have a quota of their own: a flood of them never pushes out another entry", () => {
  const book = new AddressBook(4);
  for (let port = 7000; port < 7004; port++) book.add(at(port), undefined, 100 + port);
  for (let n = 0; n < 1000; n++) book.hint({ host: "10.0.1.1", port: 20_000 + n }, peerId(n), n);
  assert.deepEqual(
    book.list().filter((e) => !e.heard).map((e) => e.port).sort(),
    [7000, 7001, 7002, 7003],
  );
  const hints = book.list().filter((e) => e.heard);
  assert.equal(hints.length, MAX_HINTS);
  assert.equal(Math.min(...hints.map((e) => e.port)), 20_000 + 1000 - MAX_HINTS, "newest kept");
  book.add(at(7004), undefined, 5000);
  assert.equal(book.list().filter((e) => !e.heard).length, 4, "ordinary adds evict ordinary");
  assert.equal(book.list().filter((e) => e.heard).length, MAX_HINTS);
});

Deno.test("a hint neither relabels nor refreshes an address known otherwise", () => {
  const book = new AddressBook();
  book.add(at(7000), peerId(1), 100);
  book.hint(at(7000), peerId(2), 200);
  assert.deepEqual([book.get(at(7000))!.id, book.get(at(7000))!.lastSeenAt], [peerId(1), 100]);
  assert.equal(book.get(at(7000))!.heard, undefined);
  book.hint(at(7000), peerId(1), 300);
  assert.equal(book.get(at(7000))!.lastSeenAt, 300, "the same peer, heard: refreshed");
});

Deno.test("a hint takes the id heard last, keeps its backoff, and becomes ordinary once proven", () => {
  const book = new AddressBook();
  const entry = book.hint(at(7000), peerId(1), 100);
  assert.equal(entry.heard, true);
  book.failed(entry, 100);
  book.hint(at(7000), peerId(2), 200);
  assert.deepEqual([entry.id, entry.failures], [peerId(2), 1], "a new id does not reset it");
  book.succeeded(at(7000), peerId(2));
  assert.equal(book.get(at(7000))!.heard, undefined);
  assert.equal(book.get(at(7000))!.failures, 0);
  assert.deepEqual(book.stored().map((e) => e.port), [7000], "proven: saved like any");
});

Deno.test("hints are not saved, are forgotten when no longer heard, and stay forgotten if their dial fails", () => {
  const book = new AddressBook();
  book.add(at(7000), undefined, 0);
  const hint = book.hint(at(7001), peerId(1), 10_000);
  book.hint(at(7002), peerId(2), 20_000);
  assert.deepEqual(book.stored().map((e) => e.port), [7000]);
  book.forgetHints(10_000 + HINT_TTL_MS);
  assert.deepEqual(book.list().map((e) => e.port), [7002, 7000]);
  book.failed(hint); // a dial of the forgotten hint, failing late
  assert.equal(book.get(at(7001)), undefined);
  book.failed(at(7003)); // an address dialed that the book never had is added, as before
  assert.equal(book.get(at(7003))!.failures, 1);
});

Deno.test("a new hint of a peer the user parted from starts blocked", () => {
  const book = new AddressBook();
  book.add(at(7000), peerId(1));
  book.setBlocked({ id: peerId(1) }, true);
  assert.equal(book.hint(at(7001), peerId(1)).blocked, true);
  assert.equal(book.hint(at(7002), peerId(2)).blocked, false);
  assert.deepEqual(book.dialable().map((e) => e.port), [7002]);
});

Deno.test("a hint may be made to wait before its first dial", () => {
  const book = new AddressBook();
  book.hint(at(7000), peerId(1), 1000, 5000);
  book.hint(at(7000), peerId(1), 2000, 5000); // heard again: the wait stands, not renewed
  assert.equal(book.dialable(5999).length, 0);
  assert.equal(book.dialable(6000).length, 1);
});

/**
 * What the book did before eviction had a heap: on adding a new address to a full book, look at
 * every entry that is not a hint (nor the hint being made an ordinary entry) and drop the first,
 * in the order added, of those seen longest ago. Hints as the book has them: a quota of their
 * own, refreshed when heard again, made ordinary by `add`.
 */
class ScanningBook {
  readonly entries = new Map<number, { at: number; heard: boolean; id?: string }>();
  hints = 0;
  constructor(readonly max: number) {}

  add(port: number, now: number, id?: string): void {
    let entry = this.entries.get(port);
    if (entry?.heard) {
      entry.heard = false;
      this.hints--;
      if (this.entries.size - this.hints > this.max) this.#evict(false, port);
    }
    if (!entry) {
      if (this.entries.size - this.hints >= this.max) this.#evict(false);
      this.entries.set(port, entry = { at: now, heard: false });
    }
    entry.at = now;
    if (id) entry.id = id;
  }

  hint(port: number, now: number, id: string): void {
    const entry = this.entries.get(port);
    if (entry) {
      if (entry.heard) entry.id = id;
      if (entry.id === id) entry.at = now;
      return;
    }
    if (this.hints >= MAX_HINTS) this.#evict(true);
    this.entries.set(port, { at: now, heard: true, id });
    this.hints++;
  }

  /** Ports, most recently seen first (ties in the order added, as `list()` sorts). */
  ports(): number[] {
    return [...this.entries].sort((x, y) => y[1].at - x[1].at).map(([port]) => port);
  }

  #evict(heard: boolean, keep?: number): void {
    let oldest: [number, { at: number; heard: boolean }] | undefined;
    for (const item of this.entries) {
      if (item[1].heard !== heard || item[0] === keep) continue;
      if (!oldest || item[1].at < oldest[1].at) oldest = item;
    }
    if (!oldest) return;
    this.entries.delete(oldest[0]);
    if (heard) this.hints--;
  }
}

Deno.test("a full book drops exactly what a scan of every entry dropped, whatever the sightings", () => {
  // Few ports, few times and a small book: evictions, ties, hints made ordinary, and addresses
  // seen again at an older time (a restore, a time given by the caller) all come often.
  const kinds = ["add", "failed", "succeeded", "mention", "hint", "forget"] as const;
  const step = fc.record({
    kind: fc.constantFrom(...kinds),
    port: fc.nat(12),
    at: fc.nat(20),
    id: fc.constantFrom("aa", "bb"),
  });
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 6 }),
      fc.array(step, { maxLength: 300 }),
      (max, steps) => {
        const book = new AddressBook(max);
        const model = new ScanningBook(max);
        for (const { kind, port, at: time, id } of steps) {
          const known = model.entries.get(port);
          if (kind === "add" || kind === "succeeded") {
            if (kind === "add") book.add(at(port), id, time);
            else book.succeeded(at(port), id, time);
            model.add(port, time, id);
          } else if (kind === "mention") {
            // Seen only if new (or a hint, made ordinary); else only the id.
            book.mention(at(port), id, time);
            if (!known || known.heard) model.add(port, time, id);
            else known.id = id;
          } else if (kind === "hint") {
            book.hint(at(port), id, time);
            model.hint(port, time, id);
          } else if (kind === "forget") {
            // Hints heard before `time` are forgotten.
            book.forgetHints(time + HINT_TTL_MS);
            for (const [p, entry] of model.entries) {
              if (entry.heard && entry.at <= time) {
                model.entries.delete(p);
                model.hints--;
              }
            }
          } else {
            // A failure is no sighting; an address new to the book is seen at `time`.
            book.failed(at(port), time);
            if (!known) model.add(port, time);
          }
          assert.deepEqual(book.list().map((e) => e.port), model.ports());
        }
      },
    ),
    { numRuns: 500 },
  );
});

Deno.test("a restored book drops what a scan would, also after many sightings of the same addresses", () => {
  const book = new AddressBook(4);
  const model = new ScanningBook(4);
  // One address seen again and again: its old sightings must neither pile up nor count.
  for (let time = 0; time < 10_000; time++) {
    book.add(at(7000), undefined, time);
    model.add(7000, time);
  }
  const stored = [1, 2, 3, 4, 5].map((i) => ({
    host: "10.0.0.7",
    port: 7000 + i,
    lastSeenAt: 10_000 + (i % 3),
    failures: 0,
    blocked: false,
  }));
  book.restore(stored);
  // What restore keeps: the newest four, added oldest first.
  const newestFirst = [...stored].sort((x, y) => y.lastSeenAt - x.lastSeenAt).slice(0, 4);
  for (const { port, lastSeenAt } of newestFirst.reverse()) model.add(port, lastSeenAt);
  assert.deepEqual(book.list().map((e) => e.port), model.ports());
  book.add(at(7100), undefined, 20_000);
  model.add(7100, 20_000);
  assert.deepEqual(book.list().map((e) => e.port), model.ports());
});

Deno.test("a mention adds an address it does not know, and only takes the id of one it does", () => {
  const book = new AddressBook();
  book.mention(at(7000), undefined, 100);
  assert.equal(book.get(at(7000))!.lastSeenAt, 100, "new: seen when mentioned");
  const before = book.changes;
  book.mention(at(7000), undefined, 500);
  assert.equal(book.get(at(7000))!.lastSeenAt, 100, "known: not seen again by hearsay");
  assert.equal(book.changes, before, "nothing to save");
  book.mention(at(7000), "77".repeat(16), 600);
  assert.equal(book.get(at(7000))!.id, "77".repeat(16));
  assert.equal(book.changes, before + 1);
  book.add(at(7000), undefined, 700); // contact
  assert.equal(book.get(at(7000))!.lastSeenAt, 700);
});
