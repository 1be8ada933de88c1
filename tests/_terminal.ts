// A real terminal for tests: a tmux server of our own (its socket in a temp dir, no user config,
// so no other session is touched), one session, its screen read with capture-pane.
const root = new URL("../", import.meta.url).pathname;

/** True when `command` is on the PATH. */
export function onPath(command: string): boolean {
  const path = Deno.env.get("PATH") ?? "";
  return path.split(":").some((dir) => {
    try {
      return Deno.statSync(`${dir || "."}/${command}`).isFile;
    } catch {
      return false;
    }
  });
}

/** One tmux session running a shell command. */
export class Terminal {
  readonly #socket: string;
  readonly #session = "test";

  private constructor(socket: string) {
    this.#socket = socket;
  }

  /** Starts `command` (a shell command line) in a 200x50 terminal; `dir` holds the socket. */
  static async start(dir: string, command: string): Promise<Terminal> {
    const terminal = new Terminal(`${dir}/tmux`);
    await terminal.tmux(
      ...["new-session", "-d", "-s", terminal.#session, "-x", "200", "-y", "50"],
      command,
    );
    return terminal;
  }

  /**
   * Runs `deno run -A <script> ...args --no-discovery` (the script under the project's root, no colour) in a
   * new terminal. Its exit status then stays on the screen, for the test and for diagnosis:
   * `[<name> exited: <code>]`, the name being the script's (`chat` for apps/cli/chat.ts).
   */
  static async run(dir: string, script: string, args: string[]): Promise<Terminal> {
    const name = script.replace(/^.*\//, "").replace(/\.ts$/, "");
    // No LAN discovery: the test's peers meet only whom it introduces (see `RunOptions`).
    const command = [
      ...["env", "NO_COLOR=1", Deno.execPath(), "run", "-A", `${root}${script}`, ...args],
      "--no-discovery",
    ].map(shellQuote).join(" ");
    return await Terminal.start(dir, `${command}; echo "[${name} exited: $?]"; sleep 60`);
  }

  async tmux(...args: string[]): Promise<string> {
    const output = await new Deno.Command("tmux", {
      args: ["-S", this.#socket, "-f", "/dev/null", ...args],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!output.success) {
      const error = new TextDecoder().decode(output.stderr);
      throw new Error(`tmux ${args.join(" ")} failed: ${error}`);
    }
    return new TextDecoder().decode(output.stdout);
  }

  /** Types literal text, or key names with `keys: true`. */
  async send(text: string, keys = false): Promise<void> {
    await this.tmux("send-keys", "-t", this.#session, ...(keys ? [] : ["-l"]), text);
  }

  /** The pane's lines, trailing blanks trimmed. */
  async screen(): Promise<string[]> {
    const text = await this.tmux("capture-pane", "-p", "-t", this.#session);
    return text.split("\n").map((l) => l.trimEnd());
  }

  /** Polls the pane until `ok` holds for its lines; resolves with them. */
  async waitForScreen(
    ok: (lines: string[]) => boolean,
    what: string,
    timeoutMs = 15_000,
  ): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    let lines = await this.screen();
    while (!ok(lines)) {
      if (Date.now() > deadline) {
        throw new Error(`timed out waiting for ${what}; the pane:\n${lines.join("\n")}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
      lines = await this.screen();
    }
    return lines;
  }

  /** Makes the terminal `columns` wide (the program gets SIGWINCH, as from a user's resize). */
  async resize(columns: number): Promise<void> {
    await this.tmux("resize-window", "-t", this.#session, "-x", String(columns));
  }

  async close(): Promise<void> {
    await this.tmux("kill-server").catch(() => {});
  }
}

/** Quotes a word for a POSIX shell. */
export function shellQuote(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`;
}
