/**
 * How the commands end on a signal: as a shell reports a process the signal ended, 128 plus its
 * number (130 for Ctrl-C's SIGINT, 143 for SIGTERM), after closing cleanly.
 *
 * @module
 */

/** The exit status of a command ended by each signal it handles. */
export const SIGNAL_EXIT_CODES: Readonly<Record<"SIGINT" | "SIGTERM", number>> = {
  SIGINT: 130,
  SIGTERM: 143,
};

/**
 * Calls `onSignal` with the exit status when SIGINT or SIGTERM arrives (instead of the runtime's
 * exit on the spot), until `remove` is called.
 *
 * @example
 * ```ts
 * import { onSignals } from "./signals.ts";
 * const signals = onSignals((code) => console.log(`ending with ${code}`));
 * signals.remove();
 * ```
 */
export function onSignals(onSignal: (code: number) => void): { remove(): void } {
  const handlers = Object.entries(SIGNAL_EXIT_CODES).map(([signal, code]) => {
    const handler = () => onSignal(code);
    Deno.addSignalListener(signal as Deno.Signal, handler);
    return [signal as Deno.Signal, handler] as const;
  });
  return {
    remove: () => {
      for (const [signal, handler] of handlers) Deno.removeSignalListener(signal, handler);
    },
  };
}
