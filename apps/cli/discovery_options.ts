/**
 * The LAN discovery options of the chat and share commands: `--room <name>` and
 * `--no-discovery`, and the peer's `discovery` option they make. Discovery is on unless turned
 * off; `--peer` and a bootstrap address work with it or without.
 *
 * @module
 */
import { type Command, InvalidArgumentError, Option } from "./command.ts";
import type { DiscoverySettings } from "@meshtalk/core";

/** Longest room name taken, in characters. */
const MAX_ROOM_LENGTH = 100;

/** What the discovery options give. */
export interface DiscoveryCliOptions {
  /** False with `--no-discovery`. */
  discovery: boolean;
  /** The `--room`, if given. */
  room?: string;
}

/**
 * Adds `--room <name>` and `--no-discovery` to `program` (together they are a usage error).
 *
 * @example
 * ```ts
 * import { Command } from "./command.ts";
 * import { addDiscoveryOptions } from "./discovery_options.ts";
 * const program = addDiscoveryOptions(new Command("demo"));
 * program.parse(["--room", "friends"], { from: "user" });
 * console.log(program.opts()); // { discovery: true, room: "friends" }
 * ```
 */
export function addDiscoveryOptions(program: Command): Command {
  return program
    .addOption(
      new Option(
        "--room <name>",
        "find only the peers on this LAN that name the same room (default: one room for all)",
      ).argParser(roomName).conflicts("discovery"),
    )
    .option("--no-discovery", "neither announce this peer on the LAN nor dial peers heard there");
}

/**
 * The peer's `discovery` option from the command line's: the room, or false.
 *
 * @example
 * ```ts
 * import { discoverySettings } from "./discovery_options.ts";
 * console.log(discoverySettings({ discovery: true, room: "friends" })); // { room: "friends" }
 * console.log(discoverySettings({ discovery: false })); // false
 * ```
 */
export function discoverySettings(options: DiscoveryCliOptions): DiscoverySettings | false {
  if (!options.discovery) return false;
  return options.room === undefined ? {} : { room: options.room };
}

function roomName(value: string): string {
  if (value.length === 0 || value.length > MAX_ROOM_LENGTH) {
    throw new InvalidArgumentError(
      `a room name has 1 to ${MAX_ROOM_LENGTH} characters, got ${value.length}`,
    );
  }
  return value;
}
