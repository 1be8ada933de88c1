import assert from "node:assert/strict";
import fc from "fast-check";
import { OldestFirst } from "./oldest_first.ts";

/** Keys with the time each was last seen, and a heap over them. */
function tracked() {
  const seenAt = new Map<number, { at: number; order: number }>();
  const heap = new OldestFirst<number>((s) => {
    const now = seenAt.get(s.key);
    return now !== undefined && now.at === s.at && now.order === s.order;
  });
  let added = 0;
  const see = (key: number, at: number) => {
    const order = seenAt.get(key)?.order ?? added++;
    seenAt.set(key, { at, order });
    heap.note({ key, at, order });
  };
  return { seenAt, heap, see };
}

Deno.test("keys come out oldest first, ties in the order they were first seen", () => {
  const { heap, see } = tracked();
  see(1, 50);
  see(2, 10);
  see(3, 10);
  see(4, 30);
  assert.deepEqual([heap.take(), heap.take(), heap.take(), heap.take(), heap.take()], [
    2,
    3,
    4,
    1,
    undefined,
  ]);
});

Deno.test("a key seen again goes by its last sighting, also one older than before", () => {
  const { heap, see } = tracked();
  see(1, 10);
  see(2, 20);
  see(1, 30); // seen again, later
  see(3, 40);
  see(3, 5); // given an older time
  assert.deepEqual([heap.take(), heap.take(), heap.take(), heap.take()], [3, 2, 1, undefined]);
});

Deno.test("compacting keeps the order and drops the stale sightings", () => {
  const { seenAt, heap, see } = tracked();
  for (let at = 0; at < 100; at++) see(at % 3, at);
  assert.equal(heap.size, 100);
  heap.compact([...seenAt].map(([key, { at, order }]) => ({ key, at, order })));
  assert.equal(heap.size, 3);
  assert.deepEqual([heap.take(), heap.take(), heap.take()], [1, 2, 0]); // last seen at 97, 98, 99
});

Deno.test("the heap agrees with a search of every key", () => {
  const step = fc.record({ key: fc.nat(8), at: fc.nat(10), take: fc.boolean() });
  fc.assert(
    fc.property(fc.array(step, { maxLength: 200 }), (steps) => {
      const { seenAt, heap, see } = tracked();
      for (const { key, at, take } of steps) {
        if (!take) {
          see(key, at);
          continue;
        }
        let oldest: [number, { at: number; order: number }] | undefined;
        for (const item of seenAt) {
          const [, x] = item;
          if (
            !oldest || x.at < oldest[1].at || (x.at === oldest[1].at && x.order < oldest[1].order)
          ) {
            oldest = item;
          }
        }
        const taken = heap.take();
        assert.equal(taken, oldest?.[0]);
        if (taken !== undefined) seenAt.delete(taken);
      }
    }),
  );
});
