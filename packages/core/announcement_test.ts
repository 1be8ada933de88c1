import assert from "node:assert/strict";
import fc from "fast-check";
import {
  decodeAnnouncement,
  encodeAnnouncement,
  MAX_ANNOUNCEMENT_BYTES,
  roomKey,
} from "./announcement.ts";

const me = { id: "0123456789abcdef".repeat(2), port: 9001, apps: ["chat", "files"] };

Deno.test("an announcement is read back only under its own room's key", () => {
  const bytes = encodeAnnouncement(me, roomKey("friends"));
  assert.deepEqual(decodeAnnouncement(bytes, roomKey("friends")), me);
  assert.equal(decodeAnnouncement(bytes, roomKey("Friends")), null);
  assert.equal(decodeAnnouncement(bytes, roomKey("meshtalk")), null);
  // The room's name never travels.
  assert.equal(new TextDecoder().decode(bytes).includes("friends"), false);
});

Deno.test("a tag is bound to the id, port and apps it came with: copied onto another, it fails", () => {
  const key = roomKey("friends");
  const packet = JSON.parse(new TextDecoder().decode(encodeAnnouncement(me, key)));
  for (const change of [{ id: "f".repeat(32) }, { port: 9002 }, { apps: ["chat"] }]) {
    const forged = new TextEncoder().encode(JSON.stringify({ ...packet, ...change }));
    assert.equal(decodeAnnouncement(forged, key), null, JSON.stringify(change));
  }
});

Deno.test("garbage, oversized and malformed announcements are dropped, never thrown", () => {
  const key = roomKey("meshtalk");
  fc.assert(fc.property(fc.uint8Array({ maxLength: 700 }), (bytes) => {
    assert.equal(decodeAnnouncement(bytes, key), null);
  }));
  const valid = JSON.parse(new TextDecoder().decode(encodeAnnouncement(me, key)));
  for (
    const bad of [
      { ...valid, meshtalk: 2 },
      { ...valid, port: 0 },
      { ...valid, port: 70000 },
      { ...valid, id: "XYZ" },
      { ...valid, apps: "chat" },
      { ...valid, apps: Array(17).fill("a") },
      { ...valid, padding: "x".repeat(MAX_ANNOUNCEMENT_BYTES) },
    ]
  ) {
    assert.equal(decodeAnnouncement(new TextEncoder().encode(JSON.stringify(bad)), key), null);
  }
});
