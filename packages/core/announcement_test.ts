import assert from "node:assert/strict";
import fc from "fast-check";
import {
  decodeAnnouncement,
  encodeAnnouncement,
  MAX_ANNOUNCEMENT_BYTES,
  roomKey,
} from "./announcement.ts";
import { toHex } from "./bytes.ts";

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
      { ...valid, apps: ["ch\0at"] }, // NUL separates apps in the tag: never inside one
      { ...valid, padding: "x".repeat(MAX_ANNOUNCEMENT_BYTES) },
    ]
  ) {
    assert.equal(decodeAnnouncement(new TextEncoder().encode(JSON.stringify(bad)), key), null);
  }
});

Deno.test("an announcement no peer would take is refused when made", () => {
  const key = roomKey("friends");
  assert.throws(
    () => encodeAnnouncement({ ...me, apps: Array(17).fill("a") }, key),
    /at most 16 apps, not 17/,
  );
  assert.throws(() => encodeAnnouncement({ ...me, apps: ["a\0b"] }, key), /no NUL/);
  const long = Array.from({ length: 16 }, (_, i) => `${i}`.padEnd(32, "x"));
  assert.throws(() => encodeAnnouncement({ ...me, apps: long }, key), /more than the 512/);
});

Deno.test("the example of docs/PROTOCOL.md section 9, byte for byte, and its tag made anew with Web Crypto", async () => {
  const example = { id: "0123456789abcdef0123456789abcdef", port: 9000, apps: ["chat"] };
  assert.equal(
    new TextDecoder().decode(encodeAnnouncement(example, roomKey("meshtalk"))),
    '{"meshtalk":1,"id":"0123456789abcdef0123456789abcdef","port":9000,"apps":["chat"],' +
      '"room":"9f93c4a1175c089e462b6ee40b51b91e"}',
  );
  const encode = (text: string) => new TextEncoder().encode(text);
  const key = await crypto.subtle.digest("SHA-256", encode("meshtalk room\0meshtalk"));
  assert.equal(
    toHex(new Uint8Array(key)),
    "489161cc9692d33fdd2c7e1164cfe60c92893588ba728004f3fb6726a96e15b9",
  );
  const hmac = await crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
  ]);
  const input = encode(`meshtalk-lan/1\0${example.id}\0${example.port}\0chat`);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", hmac, input));
  assert.equal(toHex(mac.subarray(0, 16)), "9f93c4a1175c089e462b6ee40b51b91e");
});
