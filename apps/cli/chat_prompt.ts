/**
 * The interactive prompt of `chat` on a terminal: a line editor whose half-typed line survives
 * the messages that arrive while it is typed. Each incoming line clears the whole input (which
 * may wrap over several rows, at whatever width the terminal has now), is printed where the input
 * was, and the prompt is drawn again below it with everything typed so far.
 *
 * @module
 */
import * as readline from "node:readline";
import process from "node:process";
import type { Output } from "./output.ts";

/** What the prompt tells besides the lines entered. */
export interface PromptEnds {
  /** The end of input (Ctrl-D) or a closed prompt. */
  onClose: () => void;
  /** Ctrl-C: the terminal, in raw mode, sends no SIGINT of its own. */
  onInterrupt: () => void;
}

/**
 * Starts the prompt: `onLine` gets each line entered (the prompt comes back once it is handled).
 * Lines `out` writes meanwhile go above the prompt.
 *
 * @example
 * ```ts ignore
 * const prompt = startPrompt(out, async (line) => await handle(line), {
 *   onClose: () => quit(0),
 *   onInterrupt: () => quit(130),
 * });
 * prompt.close();
 * ```
 */
export function startPrompt(
  out: Output,
  onLine: (line: string) => Promise<void>,
  { onClose, onInterrupt }: PromptEnds,
): readline.Interface {
  const rl = readline.createInterface({
    input: process.stdin,
    output: process.stdout,
    prompt: "> ",
  });
  const stopDrawing = out.below({ erase: () => clearInput(rl), draw: () => redrawInput(rl) });
  // The line editor redraws on a resize by moving up as many rows as its input spanned at the old
  // width; a terminal that reflows wrapped rows (most do) has moved them already, and that wipes
  // the lines above. The input is measured at the new width instead.
  process.stdout.removeAllListeners("resize");
  const onResize = () => {
    clearInput(rl);
    redrawInput(rl);
  };
  process.stdout.on("resize", onResize);
  let open = true;
  rl.on("line", async (line) => {
    await onLine(line);
    if (open) rl.prompt(); // not after /quit: the prompt is closing
  });
  rl.on("SIGINT", onInterrupt);
  rl.on("close", () => {
    open = false;
    stopDrawing(); // no prompt to redraw from here on
    process.stdout.off("resize", onResize);
    onClose();
  });
  rl.prompt();
  return rl;
}

/**
 * Clears the prompt and what is typed after it, from its first row down, and leaves the cursor
 * at the start of that row: the input may wrap over several rows, and the cursor may be on any.
 */
function clearInput(rl: readline.Interface): void {
  const { rows } = rl.getCursorPos();
  if (rows > 0) readline.moveCursor(process.stdout, 0, -rows);
  readline.cursorTo(process.stdout, 0);
  readline.clearScreenDown(process.stdout);
}

/**
 * Draws the prompt and what is typed again, on the row the cursor is now at (below what was just
 * printed). The line editor's redraw first moves up by the rows its last drawing spanned: it is
 * told there are none, since that drawing was cleared and lines were printed in its place.
 */
function redrawInput(rl: readline.Interface): void {
  (rl as readline.Interface & { prevRows?: number }).prevRows = 0;
  rl.prompt(true);
}
