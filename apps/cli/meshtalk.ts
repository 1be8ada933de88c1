/**
 * `meshtalk chat …` and `meshtalk share …`: both commands under one name, the command that
 * `deno task install` puts on the PATH. Only the command run is loaded.
 *
 * @module
 */
import cli from "./deno.json" with { type: "json" };

const USAGE = `meshtalk ${cli.version}: peer-to-peer chat and file sharing

usage: meshtalk <command> [options]

commands:
  chat <port> [host port]   chat with every peer of the mesh (meshtalk chat --help)
  share [options]           offer files and fetch the ones peers announce (meshtalk share --help)
`;

/**
 * Runs the command `args` names with the rest of `args`; resolves with its exit code (2 for an
 * unknown command, with the usage on stderr).
 *
 * @example
 * ```ts
 * import { main } from "./meshtalk.ts";
 * console.log(await main(["--version"])); // 0, after printing the version
 * ```
 */
export async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  switch (command) {
    case "chat":
      return await (await import("./chat.ts")).main(rest, "meshtalk chat");
    case "share":
      return await (await import("./share.ts")).main(rest, "meshtalk share");
    case "-h":
    case "--help":
    case "help":
      console.log(USAGE);
      return 0;
    case "-V":
    case "--version":
      console.log(cli.version);
      return 0;
    default:
      console.error(
        command === undefined ? "meshtalk: which command?" : `meshtalk: no command "${command}"`,
      );
      console.error(USAGE);
      return 2;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
