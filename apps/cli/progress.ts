/**
 * The progress of the files being fetched, as people see it: on a terminal one bar a file,
 * redrawn in place below the other lines; elsewhere a line a file every few seconds.
 *
 * @module
 */
import type { FileStatus } from "@meshtalk/files";
import { formatBytes, plural } from "./format.ts";
import type { Output } from "./output.ts";

/** How often the files' progress is written when it cannot be redrawn in place. */
const LOG_INTERVAL_MS = 2000;
/** The characters of a bar between its brackets. */
const BAR_WIDTH = 24;

/** Options of {@linkcode ProgressBars}. */
export interface ProgressOptions {
  /** The clock of the log interval, in ms (default `performance.now`). */
  now?: () => number;
}

/**
 * One line per file being fetched, redrawn in place on a terminal; log lines elsewhere; nothing
 * in JSON mode (the `progress` events say it there).
 *
 * @example
 * ```ts
 * import { Output } from "./output.ts";
 * import { ProgressBars } from "./progress.ts";
 * const bars = new ProgressBars(new Output(true));
 * bars.update({
 *   name: "a.bin", root: "ab12", size: 2 ** 20, bytes: 2 ** 19, pieces: 1, have: 0,
 *   rate: 2 ** 18, sources: 1, state: "downloading", path: null,
 * });
 * bars.clear();
 * ```
 */
export class ProgressBars {
  readonly #out: Output;
  readonly #now: () => number;
  readonly #files = new Map<string, FileStatus>();
  #drawn = 0;
  #lastLog = 0;

  /** Bars written through `out`; on a terminal they stay below every line `out` writes. */
  constructor(out: Output, options: ProgressOptions = {}) {
    this.#out = out;
    this.#now = options.now ?? (() => performance.now());
    if (out.terminal) out.below({ erase: () => this.#erase(), draw: () => this.#draw() });
  }

  /** Shows `status`, when its file is downloading. */
  update(status: FileStatus): void {
    if (status.state !== "downloading") return;
    this.#files.set(status.root, status);
    if (this.#out.terminal) {
      this.#out.redraw();
    } else if (!this.#out.json && this.#now() - this.#lastLog > LOG_INTERVAL_MS) {
      this.#lastLog = this.#now();
      for (const file of this.#files.values()) this.#out.line(describeProgress(file));
    }
  }

  /** Stops showing the file with root hash `root` (it is saved). */
  remove(root: string): void {
    this.#files.delete(root);
  }

  /** Erases the bars and forgets every file. */
  clear(): void {
    this.#erase();
    this.#files.clear();
  }

  #erase(): void {
    if (this.#drawn === 0) return;
    // To the first column (the terminal may have echoed ^C there), up over the bars, then clear
    // from there to the end of the screen.
    this.#out.draw(`\r\x1b[${this.#drawn}A\x1b[0J`);
    this.#drawn = 0;
  }

  #draw(): void {
    let text = "";
    for (const file of this.#files.values()) text += `${bar(file)} ${describeProgress(file)}\n`;
    this.#out.draw(text);
    this.#drawn = this.#files.size;
  }
}

/**
 * A file's progress in words: percent, bytes, rate, sources and time left.
 *
 * @example
 * ```ts
 * import { describeProgress } from "./progress.ts";
 * console.log(describeProgress({
 *   name: "a.bin", root: "ab12", size: 2 ** 20, bytes: 2 ** 19, pieces: 1, have: 0,
 *   rate: 2 ** 18, sources: 1, state: "downloading", path: null,
 * })); // "a.bin: 50% (512.0 KiB of 1.0 MiB) 256.0 KiB/s from 1 peer, ETA 2 s"
 * ```
 */
export function describeProgress(file: FileStatus): string {
  const percent = file.size === 0 ? 100 : Math.floor((file.bytes / file.size) * 100);
  const eta = file.rate > 0 ? `${Math.ceil((file.size - file.bytes) / file.rate)} s` : "?";
  return `${file.name}: ${percent}% (${formatBytes(file.bytes)} of ${formatBytes(file.size)}) ` +
    `${formatBytes(file.rate)}/s from ${plural(file.sources, "peer")}, ETA ${eta}`;
}

function bar(file: FileStatus): string {
  const filled = Math.round((file.bytes / Math.max(1, file.size)) * BAR_WIDTH);
  return `[${"#".repeat(filled)}${"-".repeat(BAR_WIDTH - filled)}]`;
}
