/**
 * Reading the command lines of the meshtalk commands: argument checks that fail with one line,
 * paths as the user meant them, the default data dir, and the exit codes of a wrong command line.
 *
 * @module
 */
import { type Command, InvalidArgumentError } from "./command.ts";
import { type Address, parseAddress } from "@meshtalk/core";

/**
 * A wrong command line: printed as one line, exit code 2.
 *
 * @example
 * ```ts
 * import { UsageError } from "./options.ts";
 * const error = new UsageError("--seed-only fetches nothing");
 * console.log(error.name, error.message); // "UsageError" "--seed-only fetches nothing"
 * ```
 */
export class UsageError extends Error {
  /** Builds the error. */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/**
 * Parses a TCP port: 0 (any free port) to 65535; `what` names it in the error.
 *
 * @example
 * ```ts
 * import { parsePort } from "./options.ts";
 * console.log(parsePort("9000")); // 9000
 * try {
 *   parsePort("70000", "peer port");
 * } catch (error) {
 *   console.log((error as Error).message); // 'peer port must be a number from 0 to 65535, got "70000"'
 * }
 * ```
 */
export function parsePort(text: string, what = "port"): number {
  const port = Number(text);
  if (!/^\d+$/.test(text) || port > 65535) {
    throw new InvalidArgumentError(`${what} must be a number from 0 to 65535, got "${text}"`);
  }
  return port;
}

/**
 * Parses `--max-upload`: a positive number of MiB per second.
 *
 * @example
 * ```ts
 * import { parseRate } from "./options.ts";
 * console.log(parseRate("2.5")); // 2.5
 * ```
 */
export function parseRate(value: string): number {
  const n = Number(value);
  if (!(n > 0) || !Number.isFinite(n)) {
    throw new InvalidArgumentError(`--max-upload must be a positive number, got "${value}"`);
  }
  return n;
}

/**
 * Parses `host:port` (IPv6 as `[::1]:9000`) for an option, which reports a wrong one.
 *
 * @example
 * ```ts
 * import { parseHostPort } from "./options.ts";
 * console.log(parseHostPort("[::1]:9000")); // { host: "::1", port: 9000 }
 * ```
 */
export function parseHostPort(text: string): Address {
  try {
    return parseAddress(text);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

/**
 * Parses `--web [host:]port`: where the peer's page listens; on loopback (127.0.0.1) unless a
 * host is given. Port 0 takes any free port.
 *
 * @example
 * ```ts
 * import { parseWebAddress } from "./options.ts";
 * console.log(parseWebAddress("8080")); // { host: "127.0.0.1", port: 8080 }
 * console.log(parseWebAddress("[::1]:0")); // { host: "::1", port: 0 }
 * ```
 */
export function parseWebAddress(text: string): Address {
  if (/^\d+$/.test(text)) return { host: "127.0.0.1", port: parsePort(text, "--web port") };
  try {
    return parseAddress(text);
  } catch {
    throw new InvalidArgumentError(
      `--web takes a port, or host:port (an IPv6 host in brackets), got "${text}"`,
    );
  }
}

/**
 * Adds the address `value` to those of a repeatable option (`--peer`).
 *
 * @example
 * ```ts
 * import { collectAddress } from "./options.ts";
 * console.log(collectAddress("127.0.0.1:9001", [])); // [{ host: "127.0.0.1", port: 9001 }]
 * ```
 */
export function collectAddress(value: string, previous: Address[]): Address[] {
  return [...previous, parseHostPort(value)];
}

const PROJECT_DIR = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");

/**
 * A path given on the command line, made absolute against the directory the user ran the command
 * in: `deno task` runs commands in the project's directory and passes the user's in `INIT_CWD`.
 *
 * @example
 * ```ts
 * import { userPath } from "./options.ts";
 * console.log(userPath("/data/../files/./a.txt")); // "/files/a.txt"
 * ```
 */
export function userPath(path: string): string {
  // INIT_CWD is inherited by every process a task starts (tests, say): it is the user's directory
  // only when this command runs where `deno task` put it, in the project's directory.
  const initCwd = Deno.env.get("INIT_CWD");
  const base = path.startsWith("/")
    ? ""
    : initCwd !== undefined && Deno.cwd() === PROJECT_DIR
    ? initCwd
    : Deno.cwd();
  const parts: string[] = [];
  for (const part of `${base}/${path}`.split("/")) {
    if (part === "..") parts.pop();
    else if (part !== "" && part !== ".") parts.push(part);
  }
  return `/${parts.join("/")}`;
}

/**
 * Where a peer on `port` keeps its identity unless told otherwise: one dir per port, under
 * `MESHTALK_HOME`, else `$XDG_DATA_HOME/meshtalk`, else `~/.local/share/meshtalk`.
 *
 * @example
 * ```ts
 * import { defaultDataDir } from "./options.ts";
 * console.log(defaultDataDir(9000).endsWith("/peer-9000")); // true
 * ```
 */
export function defaultDataDir(port: number): string {
  const base = Deno.env.get("MESHTALK_HOME") ??
    `${Deno.env.get("XDG_DATA_HOME") ?? `${Deno.env.get("HOME") ?? "."}/.local/share`}/meshtalk`;
  return `${base}/peer-${port}`;
}

/**
 * Parses `args` with `program`, checks them with `read`, and runs: resolves with `run`'s exit
 * code, or 0 after `--help`, or 2 for a wrong command line, said in one line on stderr
 * (`<command>: <message>` for a {@linkcode UsageError}; the reader words its own).
 *
 * @example
 * ```ts
 * import { Command } from "./command.ts";
 * import { runCommand, UsageError } from "./options.ts";
 * const program = new Command("demo").argument("<name>", "who to greet");
 * const code = await runCommand(program, ["ada"], () => {
 *   if (program.args[0] === "") throw new UsageError("a name cannot be empty");
 *   return program.args[0];
 * }, (name) => {
 *   console.log(`hello ${name}`);
 *   return Promise.resolve(0);
 * });
 * console.log(code); // 0
 * ```
 */
export async function runCommand<T>(
  program: Command,
  args: string[],
  read: () => T | Promise<T>,
  run: (options: T) => Promise<number>,
): Promise<number> {
  program
    .exitOverride()
    .configureOutput({ writeErr: (text) => Deno.stderr.writeSync(new TextEncoder().encode(text)) });
  let options: T;
  try {
    program.parse(args, { from: "user" });
    options = await read();
  } catch (error) {
    const code = (error as { exitCode?: number }).exitCode;
    if (code === 0) return 0; // --help
    // Commander said what is wrong already; a UsageError is said here. Then how to call it.
    if (error instanceof UsageError) console.error(`${program.name()}: ${error.message}`);
    console.error(`usage: ${program.name()} ${program.usage()}  (--help for more)`);
    return 2;
  }
  return await run(options);
}
