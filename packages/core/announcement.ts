/**
 * What a peer says of itself on the local network so that peers of its room can find it: its id,
 * the port it listens on, its apps, and a room tag. The tag is a keyed hash of all of that under
 * the room's key, so a peer of another room can neither read the room's name from it nor make a tag
 * that peers of the room accept for its own id. An announcement is only a hint: whoever dials it
 * still needs the handshake to prove the id. docs/PROTOCOL.md section 9 gives the bytes.
 *
 * @module
 */
import { createHash, createHmac } from "node:crypto";
import { Buffer } from "node:buffer";
import { bytesEqual, fromHex, toHex } from "./bytes.ts";

/** Largest announcement accepted, in bytes. */
export const MAX_ANNOUNCEMENT_BYTES = 512;
/** The room of a peer that names none: every peer that names none is in it. */
export const DEFAULT_ROOM = "meshtalk";

/** A peer as it announces itself. */
export interface Announcement {
  /** Its peer id: 32 lowercase hex characters. */
  id: string;
  /** The TCP port it listens on. */
  port: number;
  /** The apps it runs. */
  apps: string[];
}

/**
 * The key of a room: SHA-256 of `"meshtalk room" 0x00` and the room's name in UTF-8.
 *
 * @example
 * ```ts
 * import { roomKey } from "./announcement.ts";
 * console.log(roomKey("friends").length); // 32
 * ```
 */
export function roomKey(room: string): Uint8Array {
  return new Uint8Array(createHash("sha256").update("meshtalk room\0").update(room).digest());
}

/**
 * The announcement's bytes: UTF-8 JSON `{"meshtalk":1,"id","port","apps","room"}`, `room` being
 * the tag (see {@linkcode roomTag}).
 *
 * @example
 * ```ts
 * import { encodeAnnouncement, roomKey } from "./announcement.ts";
 * const bytes = encodeAnnouncement({ id: "ab".repeat(16), port: 9000, apps: ["chat"] }, roomKey("x"));
 * console.log(bytes.length < 512); // true
 * ```
 */
export function encodeAnnouncement(announcement: Announcement, key: Uint8Array): Uint8Array {
  const { id, port, apps } = announcement;
  const room = toHex(roomTag(announcement, key));
  return new TextEncoder().encode(JSON.stringify({ meshtalk: 1, id, port, apps, room }));
}

/**
 * The announcement in `bytes` if it is well formed and its tag is right for the room of `key`;
 * null for anything else (another room, another program, garbage), which is dropped unanswered.
 *
 * @example
 * ```ts
 * import { decodeAnnouncement, encodeAnnouncement, roomKey } from "./announcement.ts";
 * const me = { id: "ab".repeat(16), port: 9000, apps: ["chat"] };
 * console.log(decodeAnnouncement(encodeAnnouncement(me, roomKey("x")), roomKey("x"))?.port); // 9000
 * console.log(decodeAnnouncement(encodeAnnouncement(me, roomKey("x")), roomKey("y"))); // null
 * ```
 */
export function decodeAnnouncement(bytes: Uint8Array, key: Uint8Array): Announcement | null {
  if (bytes.length > MAX_ANNOUNCEMENT_BYTES) return null;
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    return null;
  }
  const { meshtalk, id, port, apps, room } = (value ?? {}) as Record<string, unknown>;
  if (
    meshtalk !== 1 || typeof id !== "string" || !/^[0-9a-f]{32}$/.test(id) ||
    !Number.isInteger(port) || (port as number) < 1 || (port as number) > 65535 ||
    !Array.isArray(apps) || apps.length > 16 ||
    !apps.every((app) => typeof app === "string" && app.length > 0 && app.length <= 32) ||
    typeof room !== "string" || !/^[0-9a-f]{32}$/.test(room)
  ) {
    return null;
  }
  const announcement = { id, port: port as number, apps: apps as string[] };
  return bytesEqual(fromHex(room), roomTag(announcement, key)) ? announcement : null;
}

/**
 * The room tag: the first 16 bytes of HMAC-SHA256 under the room's key of
 * `"meshtalk-lan/1" 0x00`, the id, `0x00`, the port as a decimal string, then `0x00` and each app.
 */
function roomTag(announcement: Announcement, key: Uint8Array): Uint8Array {
  const hmac = createHmac("sha256", Buffer.from(key));
  hmac.update("meshtalk-lan/1\0").update(announcement.id).update(`\0${announcement.port}`);
  for (const app of announcement.apps) hmac.update(`\0${app}`);
  return new Uint8Array(hmac.digest().subarray(0, 16));
}
