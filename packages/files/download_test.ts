// The bookkeeping of a download on its own: no sockets, no files, no timers; time is passed in.
import assert from "node:assert/strict";
import fc from "fast-check";
import { Bitfield } from "./bitfield.ts";
import { Download, type DownloadOptions, type PieceRequest } from "./download.ts";
import { ENDGAME_REQUESTERS } from "./picker.ts";

const MiB = 1024 * 1024;

function bitsOf(size: number, pieces: Iterable<number>): Bitfield {
  const bits = new Bitfield(size);
  for (const piece of pieces) bits.set(piece);
  return bits;
}

function downloadOf(size: number, options: Partial<DownloadOptions> = {}): Download {
  return new Download(new Bitfield(size), { pieceSize: MiB, random: () => 0, ...options });
}

/** Every piece asked of each peer, sorted, for comparing. */
function byPeer(requests: PieceRequest[]): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const { peer, piece } of requests) (out[peer] ??= []).push(piece);
  for (const pieces of Object.values(out)) pieces.sort((a, b) => a - b);
  return out;
}

Deno.test("the rarest pieces are asked for first, each of one source, within its share in flight", () => {
  const download = downloadOf(16);
  download.setBitfield("a", Bitfield.full(16));
  download.setBitfield("b", bitsOf(16, [0, 1, 2, 3]));
  // 8 MiB in flight over two sources: 4 pieces of 1 MiB each.
  const asks = download.next(0);
  const asked = byPeer(asks);
  assert.equal(asked.a.length, 4);
  assert.equal(asked.b.length, 4);
  assert.ok(asked.a.every((piece) => piece >= 4), `a is asked for what only it has: ${asked.a}`);
  assert.deepEqual(asked.b, [0, 1, 2, 3]);
  assert.equal(new Set(asks.map((r) => r.piece)).size, asks.length, "no piece asked twice");
  assert.deepEqual(download.next(1), [], "no room left");
  assert.equal(download.availability(0), 2);
  assert.equal(download.availability(5), 1);
});

Deno.test("the share of one source shrinks with more sources, from 64 to at least 2", () => {
  const small = downloadOf(200, { pieceSize: 16 * 1024 });
  small.setBitfield("a", Bitfield.full(200));
  assert.equal(small.next(0).length, 64);
  const big = downloadOf(40);
  for (const peer of ["a", "b", "c", "d", "e", "f"]) big.setBitfield(peer, Bitfield.full(40));
  assert.deepEqual(Object.values(byPeer(big.next(0))).map((p) => p.length), [2, 2, 2, 2, 2, 2]);
});

Deno.test("a piece that arrives is no longer asked of anyone; the others asked are returned", () => {
  const download = downloadOf(2);
  download.setBitfield("a", Bitfield.full(2));
  download.setBitfield("b", Bitfield.full(2));
  download.setBitfield("c", Bitfield.full(2));
  download.next(0);
  // Both pieces are asked of a; then, every piece being asked for, the endgame asks b and c too.
  assert.deepEqual(byPeer(download.requests()), { a: [0, 1], b: [0, 1], c: [0, 1] });
  const piece = 0;
  assert.equal(download.askedFor(piece).length, ENDGAME_REQUESTERS);
  const others = download.askedFor(piece).filter((peer) => peer !== "a");
  download.answered("a", piece);
  assert.deepEqual(download.verified(piece, "a")?.sort(), others.sort());
  assert.deepEqual(download.askedFor(piece), []);
  assert.ok(download.have.has(piece));
  assert.equal(download.verified(piece, "b"), null, "a second copy is no news");
});

Deno.test("endgame: the last piece is asked of a second and third peer, never of one twice", () => {
  const download = downloadOf(1);
  download.setBitfield("slow", Bitfield.full(1));
  assert.deepEqual(download.next(0), [{ peer: "slow", piece: 0 }]);
  download.setBitfield("b", Bitfield.full(1));
  download.setBitfield("c", Bitfield.full(1));
  download.setBitfield("d", Bitfield.full(1));
  const more = download.next(1);
  assert.equal(more.length, ENDGAME_REQUESTERS - 1);
  assert.deepEqual(download.askedFor(0).length, ENDGAME_REQUESTERS);
  assert.deepEqual(download.next(2), []);
});

Deno.test("a source that leaves takes its pieces out of the counts, and its requests go to others", () => {
  const download = downloadOf(16);
  download.setBitfield("a", Bitfield.full(16));
  download.next(0); // 8 MiB in flight: the first eight pieces asked of a
  assert.deepEqual(download.requestsOf("a"), [0, 1, 2, 3, 4, 5, 6, 7]);
  download.setBitfield("b", bitsOf(16, [0, 1, 2]));
  assert.deepEqual(download.next(1), [], "b has nothing that is not asked for already");
  assert.equal(download.removeSource("a"), true);
  assert.equal(download.removeSource("a"), false);
  assert.deepEqual(download.requests(), []);
  assert.deepEqual([0, 1, 2, 3].map((p) => download.availability(p)), [1, 1, 1, 0]);
  assert.deepEqual(byPeer(download.next(2)), { b: [0, 1, 2] });
});

Deno.test("a busy source keeps its pieces but is left alone for its rest", () => {
  const download = downloadOf(4, { busyRestMs: 1000 });
  download.setBitfield("a", Bitfield.full(4));
  const [first] = download.next(0);
  assert.equal(download.refused("a", first.piece, true, 100), true);
  assert.equal(download.availability(first.piece), 1, "it still has the piece");
  assert.ok(!download.requestsOf("a").includes(first.piece));
  assert.deepEqual(download.next(1099), [], "resting");
  assert.deepEqual(download.next(1100), [{ peer: "a", piece: first.piece }]);
  // A new bitfield from it does not cut its rest short.
  download.refused("a", first.piece, true, 2000);
  download.setBitfield("a", Bitfield.full(4));
  assert.deepEqual(download.next(2500), []);
});

Deno.test("a source that lacks a piece it was asked for is not asked for it again", () => {
  const download = downloadOf(1);
  download.setBitfield("a", Bitfield.full(1));
  download.next(0);
  assert.equal(download.refused("a", 0, false, 10), true);
  assert.equal(download.availability(0), 0);
  assert.deepEqual(download.next(20), []);
  assert.equal(download.refused("stranger", 0, false, 30), false, "only sources count");
  assert.equal(download.gotPiece("a", 0), true, "until it says it has it");
  assert.equal(download.gotPiece("a", 0), false);
  assert.equal(download.gotPiece("a", 1), false, "past the last piece");
  assert.deepEqual(download.next(40), [{ peer: "a", piece: 0 }]);
});

Deno.test("requests unanswered for the timeout are given up, and asked again", () => {
  const download = downloadOf(2, { requestTimeoutMs: 30_000 });
  download.setBitfield("a", Bitfield.full(2));
  download.next(0);
  assert.deepEqual(download.expired(29_999), []);
  assert.deepEqual(byPeer(download.expired(30_000)), { a: [0, 1] });
  assert.deepEqual(download.requests(), []);
  assert.equal(download.next(30_001).length, 2);
});

Deno.test("a bitfield must be the file's size", () => {
  assert.throws(() => downloadOf(8).setBitfield("a", Bitfield.full(9)), RangeError);
});

/** Numbers in [0, 1) from a seed, so that a failing case replays. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

const event = fc.record({
  kind: fc.constantFrom("written", "corrupt", "busy", "missing", "leave", "join", "got", "late"),
  pick: fc.nat(),
});

Deno.test("any run of events: the counts match the sources, both views of the requests agree, every request is answered or times out", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 40 }),
      fc.array(fc.array(fc.nat(), { maxLength: 40 }), { minLength: 1, maxLength: 5 }),
      fc.array(event, { maxLength: 150 }),
      fc.nat(),
      (size, sourcePieces, events, seed) => {
        const timeout = 30_000;
        const download = new Download(new Bitfield(size), {
          pieceSize: MiB,
          requestTimeoutMs: timeout,
          random: seeded(seed),
        });
        // What the test knows each source has, kept apart from the download's own view.
        const model = new Map<string, Set<number>>();
        const join = (peer: string, pieces: number[]) => {
          const have = new Set(pieces.map((n) => n % size));
          model.set(peer, have);
          download.setBitfield(peer, bitsOf(size, have));
        };
        sourcePieces.forEach((pieces, i) => join(`p${i}`, pieces));
        let now = 0;
        let joined = 0;
        const check = () => {
          for (let piece = 0; piece < size; piece++) {
            const holders = [...model.values()].filter((have) => have.has(piece)).length;
            assert.equal(download.availability(piece), holders, `availability of ${piece}`);
            assert.ok(download.askedFor(piece).length <= ENDGAME_REQUESTERS);
          }
          const requests = download.requests();
          for (const { peer, piece } of requests) {
            assert.ok(!download.have.has(piece), "nothing here is asked for");
            assert.ok(model.get(peer)?.has(piece), "asked only of a source that has it");
            assert.ok(download.requestsOf(peer).includes(piece));
            assert.ok(download.askedFor(piece).includes(peer));
          }
          const perPeer = [...model.keys()].map((peer) => download.requestsOf(peer).length);
          assert.equal(perPeer.reduce((a, b) => a + b, 0), requests.length);
          assert.ok(perPeer.every((n) => n <= 8), "within 8 MiB in flight");
          assert.equal(download.sourceCount, model.size);
        };
        for (const { kind, pick } of events) {
          now += 100;
          download.next(now);
          check();
          const requests = download.requests();
          const request = requests[pick % Math.max(1, requests.length)];
          const peers = [...model.keys()];
          if (kind === "written" && request) {
            download.answered(request.peer, request.piece);
            const others = download.askedFor(request.piece);
            assert.deepEqual(download.verified(request.piece, request.peer)?.sort(), others.sort());
          } else if (kind === "corrupt" && request) {
            download.answered(request.peer, request.piece);
          } else if ((kind === "busy" || kind === "missing") && request) {
            assert.ok(download.refused(request.peer, request.piece, kind === "busy", now));
            if (kind === "missing") model.get(request.peer)!.delete(request.piece);
          } else if (kind === "leave" && peers.length > 0) {
            const peer = peers[pick % peers.length];
            assert.ok(download.removeSource(peer));
            model.delete(peer);
            assert.deepEqual(download.requestsOf(peer), []);
          } else if (kind === "join") {
            join(`j${joined++}`, [pick, pick >> 3, pick >> 6]);
          } else if (kind === "got" && peers.length > 0) {
            const peer = peers[pick % peers.length];
            const piece = (pick >> 4) % size;
            const news = !model.get(peer)!.has(piece);
            assert.equal(download.gotPiece(peer, piece), news);
            model.get(peer)!.add(piece);
          } else if (kind === "late") {
            now += timeout;
            const late = download.expired(now);
            assert.deepEqual(byPeer(late), byPeer(requests));
          }
          check();
        }
        // Every request still open is given up at its timeout: none is left hanging.
        now += timeout;
        download.expired(now);
        assert.deepEqual(download.requests(), []);
        // And with sources that answer, whatever they hold between them arrives.
        for (let round = 0; round <= size; round++) {
          for (const { peer, piece } of download.next(now)) {
            download.answered(peer, piece);
            download.verified(piece, peer);
          }
          check();
        }
        for (let piece = 0; piece < size; piece++) {
          const somewhere = [...model.values()].some((have) => have.has(piece));
          if (somewhere) assert.ok(download.have.has(piece), `piece ${piece} arrived`);
        }
      },
    ),
    { numRuns: 300 },
  );
});

/**
 * Runs a download of `size` pieces from `peers` (each has them all) in steps of 10 ms until it is
 * whole or `ms` have passed. `deliver(inUse, now)` says how many pieces arrive in a step when
 * `inUse` sources have requests in flight; `stuck` sources answer nothing; a peer has the pieces
 * it `holds` (default: all). Returns the sources in use at each step.
 */
function simulate(
  download: Download,
  peers: string[],
  deliver: (inUse: number, now: number) => number,
  { ms = 60_000, stuck = () => new Set<string>(), holds = () => true }: {
    ms?: number;
    stuck?: (now: number) => Set<string>;
    holds?: (peer: string, piece: number) => boolean;
  } = {},
): string[][] {
  for (const peer of peers) {
    const pieces = Array.from({ length: download.have.size }, (_, n) => n);
    download.setBitfield(peer, bitsOf(download.have.size, pieces.filter((n) => holds(peer, n))));
  }
  const steps: string[][] = [];
  let owed = 0;
  let turn = 0;
  for (let now = 0; now < ms && !download.have.complete; now += 10) {
    download.next(now);
    const busy = peers.filter((peer) => download.requestsOf(peer).length > 0);
    steps.push(busy);
    owed += deliver(busy.length, now);
    // Round robin over the sources that answer, oldest request first.
    const answering = busy.filter((peer) => !stuck(now).has(peer));
    while (owed >= 1 && answering.length > 0) {
      const at = turn++ % answering.length;
      const [piece] = download.requestsOf(answering[at]);
      if (piece === undefined) {
        answering.splice(at, 1);
        continue;
      }
      download.answered(answering[at], piece);
      download.verified(piece, answering[at]);
      owed--;
    }
    owed = Math.min(owed, 1);
  }
  return steps;
}

Deno.test("where more sources make it slower (the local CPU is the limit), one is kept busy", () => {
  const download = downloadOf(5000);
  const peers = ["a", "b", "c", "d"];
  // 0.9 pieces a ms from one source; each more costs 7%.
  const steps = simulate(download, peers, (k) => 9 * (1 - 0.07 * (k - 1)));
  assert.ok(download.have.complete, "every piece arrived");
  assert.equal(steps[0].length, 4, "every source to begin with");
  const later = steps.slice(50);
  const one = later.filter((busy) => busy.length === 1).length;
  assert.ok(one / later.length > 0.8, `one source in ${one} of ${later.length} steps`);
  assert.equal(download.sourcesInUse, 1);
});

Deno.test("where each source is slow, every one is kept busy", () => {
  const download = downloadOf(3000);
  const peers = ["a", "b", "c", "d"];
  const steps = simulate(download, peers, (k) => 0.5 * k);
  assert.ok(download.have.complete, "every piece arrived");
  const all = steps.filter((busy) => busy.length === 4).length;
  assert.ok(all / steps.length > 0.9, `all four in ${all} of ${steps.length} steps`);
});

Deno.test("a source kept busy alone that stops answering is replaced by the others", () => {
  const download = downloadOf(3000, { sourceLimit: { maxPeriodMs: 1000 } });
  const peers = ["a", "b", "c", "d"];
  let stuck: string | undefined;
  const steps = simulate(download, peers, (k) => 9 * (1 - 0.07 * (k - 1)), {
    stuck: (now) => {
      // At 2 s, whichever source is in use alone stops answering.
      if (now >= 2000 && stuck === undefined) {
        stuck = peers.find((peer) => download.requestsOf(peer).length > 0);
      }
      return new Set(stuck ? [stuck] : []);
    },
  });
  assert.ok(stuck, "one source was in use alone at 2 s");
  assert.ok(download.have.complete, "every piece arrived, from the others");
  assert.ok(steps.length * 10 < 20_000, `whole in ${steps.length * 10} ms, long before a timeout`);
});

Deno.test("with fewer sources in use, pieces that only the others hold still come", () => {
  const download = downloadOf(2000);
  const peers = ["a", "b", "c", "d"];
  // Pieces 0-9 are held by d alone, the rest by all.
  const holds = (peer: string, piece: number) => piece >= 10 || peer === "d";
  const steps = simulate(download, peers, (k) => 9 * (1 - 0.07 * (k - 1)), { holds });
  assert.ok(download.have.complete, "every piece arrived");
  assert.deepEqual(steps[0], peers);
  const first = Array.from({ length: 10 }, (_, n) => n);
  assert.ok(first.every((n) => download.have.has(n)));
  assert.ok(steps.slice(100).some((busy) => busy.length === 1), "one source kept busy, later");
});

Deno.test("a source past the limit is asked for nothing more, and what it was asked still comes", () => {
  const download = downloadOf(200, { sourceLimit: { periodMs: 100, minPieces: 1 } });
  for (const peer of ["a", "b", "c", "d"]) download.setBitfield(peer, Bitfield.full(200));
  // 8 MiB in flight over four sources: 2 pieces each.
  assert.deepEqual(Object.values(byPeer(download.next(0))).map((p) => p.length), [2, 2, 2, 2]);
  for (const peer of ["a", "b"]) {
    for (const piece of download.requestsOf(peer)) {
      download.answered(peer, piece);
      download.verified(piece, peer);
    }
  }
  // A period is over: fewer sources are tried, the two that sent, with 4 pieces each in flight.
  const asked = byPeer(download.next(100));
  assert.equal(download.sourcesInUse, 2);
  assert.deepEqual(Object.keys(asked).sort(), ["a", "b"]);
  assert.deepEqual([asked.a.length, asked.b.length], [4, 4]);
  // c and d are not cancelled: their pieces come, and are counted; nothing more is asked of them.
  const [late] = download.requestsOf("c");
  assert.equal(download.requestsOf("c").length, 2);
  download.answered("c", late);
  assert.deepEqual(download.verified(late, "c"), []);
  assert.ok(download.have.has(late));
  assert.deepEqual(download.requestsOf("c").length, 1);
  assert.deepEqual(download.next(110), [], "a and b are full; c and d are past the limit");
});

Deno.test("a source in use that leaves is replaced at once by one past the limit", () => {
  const download = downloadOf(200, { sourceLimit: { periodMs: 100, minPieces: 1 } });
  for (const peer of ["a", "b", "c"]) download.setBitfield(peer, Bitfield.full(200));
  const deliver = (peer: string) => {
    for (const piece of download.requestsOf(peer)) {
      download.answered(peer, piece);
      download.verified(piece, peer);
    }
  };
  download.next(0);
  for (const peer of ["a", "b", "c"]) deliver(peer);
  download.next(100); // 3 sources; 2 are tried
  assert.equal(download.sourcesInUse, 2);
  for (const peer of ["a", "b", "c"]) deliver(peer); // c's pieces asked before the try still come
  download.next(200); // the try's first period, not judged
  for (const peer of ["a", "b"]) deliver(peer);
  download.next(300); // as fast: kept; 1 is tried
  assert.equal(download.sourcesInUse, 1);
  const inUse = ["a", "b", "c"].filter((peer) => download.requestsOf(peer).length > 0);
  assert.deepEqual(inUse, ["a"], "the fastest, the first among equals");
  assert.equal(download.removeSource("a"), true);
  const asks = byPeer(download.next(301));
  assert.deepEqual(Object.keys(asks), ["b"], "the next is asked at once");
  assert.equal(asks.b.length, 8, "for all 8 MiB in flight");
});

/**
 * Sources of their own speeds: `peer` sends at most `rate(peer, now)` pieces a ms, and the
 * downloader handles at most `cpu(k)` a ms with k sources busy. Steps of 10 ms, until complete or
 * `ms`; returns when each piece came, and from whom.
 */
function race(
  download: Download,
  peers: string[],
  rate: (peer: string, now: number) => number,
  cpu: (k: number) => number,
  ms: number,
): { now: number; from: string }[] {
  for (const peer of peers) download.setBitfield(peer, Bitfield.full(download.have.size));
  const credit = new Map(peers.map((peer) => [peer, 0]));
  const arrivals: { now: number; from: string }[] = [];
  for (let now = 0; now < ms && !download.have.complete; now += 10) {
    download.expired(now);
    download.next(now);
    const busy = peers.filter((peer) => download.requestsOf(peer).length > 0);
    for (const peer of busy) {
      credit.set(peer, Math.min(credit.get(peer)! + rate(peer, now) * 10, 64));
    }
    let budget = cpu(busy.length) * 10;
    for (let sent = true; budget >= 1 && sent;) {
      sent = false;
      for (const peer of busy) {
        const [piece] = download.requestsOf(peer);
        if (budget < 1 || credit.get(peer)! < 1 || piece === undefined) continue;
        download.answered(peer, piece);
        download.verified(piece, peer);
        credit.set(peer, credit.get(peer)! - 1);
        budget--;
        sent = true;
        arrivals.push({ now, from: peer });
      }
    }
  }
  return arrivals;
}

Deno.test("settled on one source that then slows to a crawl, the others take over within seconds", () => {
  const download = new Download(new Bitfield(10_000), { pieceSize: 2 ** 20, random: () => 0 });
  const peers = ["a", "b", "c", "d"];
  // The downloader's CPU is the limit (one source is fastest) until, at 20 s, the source in use
  // alone sends a piece a second (its uplink got busy): after many tries of more have lost and
  // the wait between tries is long.
  const slowAt = 20_000;
  let slow: string | undefined;
  const arrivals = race(
    download,
    peers,
    (peer, now) => {
      if (now >= slowAt && slow === undefined) {
        slow = peers.find((p) => download.requestsOf(p).length > 0);
      }
      return now >= slowAt && peer === slow ? 0.001 : 0.5;
    },
    (k) => 0.3 * (1 - 0.07 * (k - 1)),
    60_000,
  );
  const before = arrivals.filter(({ now }) => now >= slowAt - 2000 && now < slowAt);
  const fromSlow = before.filter(({ from }) => from === slow).length;
  assert.ok(fromSlow / before.length > 0.8, `one source, mostly: ${fromSlow} of ${before.length}`);
  const other = arrivals.find(({ now, from }) => now >= slowAt && from !== slow);
  assert.ok(other, "another source sent pieces");
  // A period lasts until 8 pieces or 5 s; then more are tried at once, and kept.
  assert.ok(other.now - slowAt <= 12_000, `another source after ${other.now - slowAt} ms`);
  assert.ok(download.have.complete, "the download completed");
});
