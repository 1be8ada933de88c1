/**
 * LAN discovery as a user sets it, and its well-known numbers: kept apart from `discovery.ts`,
 * which needs Node's dgram and crypto modules, so that a peer (or a program that only reads these)
 * loads those only when it starts discovery.
 *
 * @module
 */

/** The multicast group announcements go to (organization-local scope, RFC 2365). */
export const DISCOVERY_GROUP = "239.255.77.84";
/** The UDP port announcements go to, and that every peer listens on. */
export const DISCOVERY_PORT = 47784;
/** Between two announcements, in ms, by default (each spread ±20% at random). */
export const ANNOUNCE_EVERY_MS = 5000;
/** The room of a peer that names none: every peer that names none is in it. */
export const DEFAULT_ROOM = "meshtalk";

/**
 * Where and how a peer is found: what its `discovery` option sets.
 *
 * @example
 * ```ts
 * import type { DiscoverySettings } from "./discovery_settings.ts";
 * const settings: DiscoverySettings = { room: "friends" };
 * console.log(settings.room); // "friends"
 * ```
 */
export interface DiscoverySettings {
  /** The room: only peers that name the same one find each other (default: one for everyone). */
  room?: string;
  /**
   * The IPv4 addresses of the interfaces to announce and listen on. Default: every IPv4
   * interface but loopback, read again at each announcement (loopback when there is no other);
   * reading them needs `--allow-sys=networkInterfaces`.
   */
  interfaces?: string[];
  /** Between two announcements, in ms (default {@linkcode ANNOUNCE_EVERY_MS}). */
  intervalMs?: number;
}
