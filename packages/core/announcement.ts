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
/** Most apps an announcement names. */
export const MAX_ANNOUNCED_APPS = 16;
export { DEFAULT_ROOM } from "./discovery_settings.ts";

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
 * the tag (see {@linkcode roomTag}). Throws a `RangeError` for more than
 * {@linkcode MAX_ANNOUNCED_APPS} apps or {@linkcode MAX_ANNOUNCEMENT_BYTES} bytes, which no peer
 * would take.
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
  if (apps.length > MAX_ANNOUNCED_APPS) {
    throw new RangeError(`a peer announces at most ${MAX_ANNOUNCED_APPS} apps, not ${apps.length}`);
  }
  const bad = apps.find((app) => !isAppName(app));
  if (bad !== undefined) {
    throw new RangeError(`cannot announce app ${JSON.stringify(bad)}: 1 to 32 characters, no NUL`);
  }
  const room = toHex(roomTag(announcement, key));
  const bytes = new TextEncoder().encode(JSON.stringify({ meshtalk: 1, id, port, apps, room }));
  if (bytes.length > MAX_ANNOUNCEMENT_BYTES) {
    throw new RangeError(
      `announcing apps ${apps.join(", ")} takes ${bytes.length} bytes, more than the ` +
        `${MAX_ANNOUNCEMENT_BYTES} peers accept: use fewer or shorter app names`,
    );
  }
  return bytes;
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
    !Array.isArray(apps) || apps.length > MAX_ANNOUNCED_APPS ||
    !apps.every(isAppName) ||
    typeof room !== "string" || !/^[0-9a-f]{32}$/.test(room)
  ) {
    return null;
  }
  const announcement = { id, port: port as number, apps: apps as string[] };
  return bytesEqual(fromHex(room), roomTag(announcement, key)) ? announcement : null;
}

/** An app name an announcement may carry: 1 to 32 characters, none of them NUL (the separator). */
function isAppName(app: unknown): boolean {
  return typeof app === "string" && app.length > 0 && app.length <= 32 && !app.includes("\0");
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
