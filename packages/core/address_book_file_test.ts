import assert from "node:assert/strict";
import { AddressBook } from "./address_book.ts";
import {
  ADDRESS_BOOK_FILE,
  readAddressBook,
  SavedAddressBook,
  writeAddressBook,
} from "./address_book_file.ts";
import { startPeer } from "./peer.ts";
import { closeAll, echo, peers, waitFor } from "./testing.ts";

async function inTempDir(test: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await test(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("a saved book comes back as it was, bounded, written atomically and only for us", async () => {
  await inTempDir(async (dir) => {
    const path = `${dir}/${ADDRESS_BOOK_FILE}`;
    const book = new AddressBook(100);
    for (let i = 0; i < 300; i++) {
      book.add(
        { host: `10.0.${i >> 8}.${i & 255}`, port: 7000 },
        i % 2 ? "ab".repeat(16) : undefined,
        1000 + i,
      );
    }
    book.failed({ host: "10.0.1.43", port: 7000 }, 5000);
    book.setBlocked({ host: "10.0.1.42", port: 7000 }, true);
    book.add({ host: "10.0.9.9", port: 7000 }).self = true;
    const saved = await SavedAddressBook.open(path, new AddressBook(), () => {});
    await saved.close();
    await writeAddressBook(path, book.stored());
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), [ADDRESS_BOOK_FILE]);
    const again = new AddressBook(100);
    const warnings: string[] = [];
    await SavedAddressBook.open(path, again, (line) => warnings.push(line));
    assert.deepEqual(warnings, []);
    assert.equal(again.list().length, 99, "bounded: the newest 99, not ourselves");
    assert.equal(again.list().some((e) => e.host === "10.0.9.9"), false);
    const failed = again.get({ host: "10.0.1.43", port: 7000 })!;
    assert.equal(failed.failures, 1);
    assert.equal(failed.nextDialAt, 0, "a restart tries every address again");
    assert.equal(again.get({ host: "10.0.1.42", port: 7000 })!.blocked, true);
    assert.equal(again.get({ host: "10.0.1.43", port: 7000 })!.id, "ab".repeat(16));
  });
});

Deno.test("a corrupt or foreign book is reported and replaced by a fresh one", async () => {
  await inTempDir(async (dir) => {
    const path = `${dir}/${ADDRESS_BOOK_FILE}`;
    for (
      const text of [
        "{ not json",
        JSON.stringify({ version: 2, peers: [] }),
        JSON.stringify({ hello: "world" }),
        JSON.stringify([1, 2, 3]),
        "\u0000\u0001binary",
      ]
    ) {
      await Deno.writeTextFile(path, text);
      const warnings: string[] = [];
      const book = new AddressBook();
      const saved = await SavedAddressBook.open(path, book, (line) => warnings.push(line));
      assert.equal(book.list().length, 0);
      assert.deepEqual(warnings, [
        `${path} is not a meshtalk address book; starting with an empty one`,
      ]);
      book.add({ host: "10.0.0.7", port: 7000 });
      await saved.close();
      assert.equal((await readAddressBook(path)).addresses.length, 1, "the next save replaces it");
    }
    // Entries that make no sense are dropped one by one; the rest is kept.
    await Deno.writeTextFile(
      path,
      JSON.stringify({
        version: 1,
        peers: [
          { host: "10.0.0.1", port: 7000, lastSeenAt: 1, failures: 0, blocked: false },
          { host: "10.0.0.2", port: 70000, lastSeenAt: 1, failures: 0, blocked: false },
          {
            host: "10.0.0.3",
            port: 7000,
            id: "not an id",
            lastSeenAt: 1,
            failures: 0,
            blocked: false,
          },
          { host: "", port: 7000, lastSeenAt: 1, failures: 0, blocked: false },
          "junk",
        ],
      }),
    );
    assert.deepEqual((await readAddressBook(path)).addresses.map((a) => a.host), ["10.0.0.1"]);
  });
});

Deno.test("a restarted peer redials the peers it knew, with nobody telling it", async () => {
  await inTempDir(async (dir) => {
    const [b] = await peers(1);
    const options = { host: "127.0.0.1", apps: [echo], dataDir: dir, log: () => {} };
    try {
      const a = await startPeer({ ...options, targetConnections: 0 });
      await a.connect("127.0.0.1", b.port);
      await a.close();
      await waitFor(() => b.peers().length === 0, "b to see a leave");
      const restarted = await startPeer({
        ...options,
        targetConnections: 4,
        heartbeatIntervalMs: 100,
      });
      try {
        await waitFor(() => restarted.peers().some((p) => p.id === b.id), "a to dial b again");
      } finally {
        await restarted.close();
      }
    } finally {
      await closeAll([b]);
    }
  });
});
