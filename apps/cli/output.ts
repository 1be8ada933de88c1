/**
 * What the commands print: lines for people, or one JSON event a line for programs (`--json`),
 * each on the stream it belongs to, without letting a slow reader stall the peer.
 *
 * @module
 */

/** The part of `Deno.stdout` and `Deno.stderr` that {@linkcode Output} writes through. */
export type OutputStream = Pick<typeof Deno.stdout, "write" | "writeSync" | "isTerminal">;

/** Options of an {@linkcode Output}: the streams, which default to the process's own. */
export interface OutputOptions {
  /** Where JSON events go, and lines for people when not in JSON mode. */
  stdout?: OutputStream;
  /** Where errors go, and lines for people in JSON mode. */
  stderr?: OutputStream;
}

/** Something an {@linkcode Output} keeps drawn below its lines: see {@linkcode Output.below}. */
export interface Below {
  /** Clears it from the screen, leaving the cursor at the start of the row it began on. */
  erase(): void;
  /** Draws it at the cursor. */
  draw(): void;
}

/** Past this many characters unwritten to a pipe, writes block: memory stays bounded. */
const MAX_QUEUED = 16 * 2 ** 20;

/**
 * Writes human lines, or JSON events, to the right stream.
 *
 * @example
 * ```ts
 * import { Output } from "./output.ts";
 * const out = new Output(true); // --json: events on stdout, lines for people on stderr
 * out.event("ready", { port: 9000 }); // {"event":"ready","port":9000}
 * out.line("meshtalk chat on port 9000");
 * await out.flushed();
 * ```
 */
export class Output {
  /** JSON mode: events on stdout, human text on stderr. */
  readonly json: boolean;
  /** Lines may carry ANSI styles: stdout is a terminal, not in JSON mode, and no NO_COLOR. */
  readonly color: boolean;
  /** Stdout is a terminal and not in JSON mode: what is drawn there can be redrawn in place. */
  readonly terminal: boolean;
  readonly #stdout: OutputStream;
  readonly #stderr: OutputStream;
  /** What is drawn below the lines, top to bottom (progress bars, then a prompt). */
  readonly #below: Below[] = [];
  readonly #encoder = new TextEncoder();
  readonly #terminals = new Map<OutputStream, boolean>();
  readonly #pipes = new Map<OutputStream, Pipe>();

  /** In JSON mode events go to stdout and human text to stderr. */
  constructor(json: boolean, options: OutputOptions = {}) {
    this.json = json;
    this.#stdout = options.stdout ?? Deno.stdout;
    this.#stderr = options.stderr ?? Deno.stderr;
    this.terminal = !json && this.#isTerminal(this.#stdout);
    this.color = this.terminal && !Deno.env.get("NO_COLOR");
  }

  /**
   * Keeps `part` drawn below every line written: before a write, the parts are erased from the
   * bottom up (each leaving the cursor at the start of its first row), after it drawn again from
   * the top down. Parts added later are drawn below those added before. Returns a function that
   * stops drawing it (without erasing it).
   */
  below(part: Below): () => void {
    this.#below.push(part);
    return () => {
      const at = this.#below.indexOf(part);
      if (at >= 0) this.#below.splice(at, 1);
    };
  }

  /** Erases and draws again everything below the lines (one of the parts changed). */
  redraw(): void {
    this.#eraseBelow();
    this.#drawBelow();
  }

  /** A JSON event (only in JSON mode). */
  event(event: string, fields: Record<string, unknown>): void {
    if (!this.json) return;
    this.#write(this.#stdout, JSON.stringify({ event, ...fields }) + "\n");
  }

  /** A line for people: stdout normally, stderr in JSON mode. */
  line(text: string): void {
    this.#write(this.json ? this.#stderr : this.#stdout, text + "\n");
  }

  /** An error: a JSON `error` event, or a line on stderr. */
  error(message: string): void {
    if (this.json) this.event("error", { message });
    this.#write(this.#stderr, this.paint("31", message) + "\n");
  }

  /** Wraps text in an ANSI style when colour is on. */
  paint(code: string, text: string): string {
    return this.color ? `\x1b[${code}m${text}\x1b[0m` : text;
  }

  /**
   * Writes `text` to stdout as it is, at once and around no hooks: for what is redrawn in place
   * on a terminal, which the hooks themselves draw.
   */
  draw(text: string): void {
    writeAll(this.#stdout, this.#encoder.encode(text));
  }

  /** Resolves once everything written so far has reached stdout and stderr. */
  async flushed(): Promise<void> {
    for (const pipe of this.#pipes.values()) await pipe.flushed();
  }

  #write(stream: OutputStream, text: string): void {
    this.#eraseBelow();
    if (this.#isTerminal(stream)) {
      writeAll(stream, this.#encoder.encode(text));
    } else {
      this.#pipe(stream).push(text);
    }
    this.#drawBelow();
  }

  #eraseBelow(): void {
    for (let i = this.#below.length - 1; i >= 0; i--) this.#below[i].erase();
  }

  #drawBelow(): void {
    for (const part of this.#below) part.draw();
  }

  /** Asked once per stream: the answer is a system call, and chat writes a line per message. */
  #isTerminal(stream: OutputStream): boolean {
    let terminal = this.#terminals.get(stream);
    if (terminal === undefined) {
      terminal = stream.isTerminal();
      this.#terminals.set(stream, terminal);
    }
    return terminal;
  }

  #pipe(stream: OutputStream): Pipe {
    let pipe = this.#pipes.get(stream);
    if (!pipe) {
      pipe = new Pipe(stream, this.#encoder);
      this.#pipes.set(stream, pipe);
    }
    return pipe;
  }
}

/**
 * Output to a pipe or file, written in the background: a reader that falls behind must not
 * freeze this peer's event loop, which also pumps its sockets.
 */
class Pipe {
  readonly #stream: OutputStream;
  readonly #encoder: TextEncoder;
  #pending: string[] = [];
  #queued = 0;
  #writing: Promise<void> | null = null;

  constructor(stream: OutputStream, encoder: TextEncoder) {
    this.#stream = stream;
    this.#encoder = encoder;
  }

  push(text: string): void {
    this.#pending.push(text);
    this.#queued += text.length;
    if (this.#queued > MAX_QUEUED) writeAll(this.#stream, this.#encoder.encode(this.#take()));
    // A reader that went away (EPIPE) ends the output, not the peer.
    this.#writing ??= this.#drain().catch(() => {
      this.#take();
      this.#writing = null;
    });
  }

  flushed(): Promise<void> {
    return this.#writing ?? Promise.resolve();
  }

  async #drain(): Promise<void> {
    while (this.#pending.length > 0) {
      const bytes = this.#encoder.encode(this.#take());
      let at = 0;
      while (at < bytes.length) at += await this.#stream.write(bytes.subarray(at));
    }
    this.#writing = null;
  }

  #take(): string {
    const text = this.#pending.join("");
    this.#pending = [];
    this.#queued = 0;
    return text;
  }
}

function writeAll(stream: OutputStream, bytes: Uint8Array): void {
  let at = 0;
  while (at < bytes.length) at += stream.writeSync(bytes.subarray(at));
}
