/**
 * Command-line pieces shared by the meshtalk commands: argument checks that fail with one line,
 * the default data dir, and the output of human text or JSON events.
 *
 * @module
 */
import { InvalidArgumentError } from "commander";

/** A wrong command line: printed as one line, exit code 2. */
export class UsageError extends Error {
  /** Builds the error. */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** Parses a TCP port: 0 (any free port) to 65535. */
export function parsePort(text: string, what = "port"): number {
  const port = Number(text);
  if (!/^\d+$/.test(text) || port > 65535) {
    throw new InvalidArgumentError(`${what} must be a number from 0 to 65535, got "${text}"`);
  }
  return port;
}

/** Parses `host:port` (IPv6 as `[::1]:9000`). */
export function parseHostPort(text: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(text);
  if (!match) throw new InvalidArgumentError(`expected host:port, got "${text}"`);
  return { host: match[1] ?? match[2], port: parsePort(match[3]) };
}

const PROJECT_DIR = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");

/**
 * A path given on the command line, made absolute against the directory the user ran the command
 * in: `deno task` runs commands in the project's directory and passes the user's in `INIT_CWD`.
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

/** Where a peer on `port` keeps its identity unless told otherwise: one dir per port. */
export function defaultDataDir(port: number): string {
  const base = Deno.env.get("MESHTALK_HOME") ??
    `${Deno.env.get("XDG_DATA_HOME") ?? `${Deno.env.get("HOME") ?? "."}/.local/share`}/meshtalk`;
  return `${base}/peer-${port}`;
}

/** Writes human lines, or JSON events, to the right stream. */
export class Output {
  readonly json: boolean;
  readonly color: boolean;
  #beforeWrite: () => void = () => {};
  #afterWrite: () => void = () => {};
  readonly #encoder = new TextEncoder();
  readonly #terminals = new Map<typeof Deno.stdout, boolean>();
  readonly #pipes = new Map<
    typeof Deno.stdout,
    { push(text: string): void; flushed(): Promise<void> }
  >();

  /** In JSON mode events go to stdout and human text to stderr. */
  constructor(json: boolean) {
    this.json = json;
    this.color = !json && Deno.stdout.isTerminal() && !Deno.env.get("NO_COLOR");
  }

  /** Hooks that clear and redraw an interactive prompt around each line. */
  aroundWrites(before: () => void, after: () => void): void {
    this.#beforeWrite = before;
    this.#afterWrite = after;
  }

  /** A JSON event (only in JSON mode). */
  event(event: string, fields: Record<string, unknown>): void {
    if (!this.json) return;
    this.#write(Deno.stdout, JSON.stringify({ event, ...fields }) + "\n");
  }

  /** A line for people: stdout normally, stderr in JSON mode. */
  line(text: string): void {
    this.#write(this.json ? Deno.stderr : Deno.stdout, text + "\n");
  }

  /** An error: a JSON `error` event, or a line on stderr. */
  error(message: string): void {
    if (this.json) this.event("error", { message });
    this.#write(Deno.stderr, (this.color ? `\x1b[31m${message}\x1b[0m` : message) + "\n");
  }

  /** Wraps text in an ANSI style when colour is on. */
  paint(code: string, text: string): string {
    return this.color ? `\x1b[${code}m${text}\x1b[0m` : text;
  }

  #write(stream: typeof Deno.stdout, text: string): void {
    this.#beforeWrite();
    if (this.#isTerminal(stream)) {
      writeAll(stream, this.#encoder.encode(text));
    } else {
      this.#queued(stream).push(text);
    }
    this.#afterWrite();
  }

  /** Asked once per stream: the answer is a system call, and chat writes a line per message. */
  #isTerminal(stream: typeof Deno.stdout): boolean {
    let terminal = this.#terminals.get(stream);
    if (terminal === undefined) {
      terminal = stream.isTerminal();
      this.#terminals.set(stream, terminal);
    }
    return terminal;
  }

  /**
   * Output to a pipe or file is written in the background: a reader that falls behind must not
   * freeze this peer's event loop, which also pumps its sockets. Past 16 MiB unwritten, writes
   * block, so memory stays bounded.
   */
  #queued(stream: typeof Deno.stdout): { push(text: string): void } {
    let pipe = this.#pipes.get(stream);
    if (!pipe) {
      const state = { pending: [] as string[], bytes: 0, writing: null as Promise<void> | null };
      const drain = async () => {
        while (state.pending.length > 0) {
          const text = state.pending.join("");
          state.pending = [];
          state.bytes = 0;
          const bytes = this.#encoder.encode(text);
          let at = 0;
          while (at < bytes.length) at += await stream.write(bytes.subarray(at));
        }
        state.writing = null;
      };
      pipe = {
        push: (text: string) => {
          state.pending.push(text);
          state.bytes += text.length;
          if (state.bytes > 16 * 2 ** 20) {
            writeAll(stream, this.#encoder.encode(state.pending.join("")));
            state.pending = [];
            state.bytes = 0;
          }
          // A reader that went away (EPIPE) ends the output, not the peer.
          state.writing ??= drain().catch(() => {
            state.pending = [];
            state.writing = null;
          });
        },
        flushed: () => state.writing ?? Promise.resolve(),
      };
      this.#pipes.set(stream, pipe);
    }
    return pipe;
  }

  /** Resolves once everything written so far has reached stdout and stderr. */
  async flushed(): Promise<void> {
    for (const pipe of this.#pipes.values()) await pipe.flushed();
  }
}

function writeAll(stream: typeof Deno.stdout, bytes: Uint8Array): void {
  let at = 0;
  while (at < bytes.length) at += stream.writeSync(bytes.subarray(at));
}
