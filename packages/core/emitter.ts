/**
 * The one event emitter of meshtalk: handlers by event name, and a handler that throws is reported
 * rather than allowed to stop the others or the code that emitted.
 *
 * @module
 */

/**
 * Typed events: `on` returns the function that unsubscribes; `emit` calls every handler in the
 * order they subscribed, and hands an error thrown by one to `onError`.
 *
 * @example
 * ```ts
 * import { Emitter } from "@meshtalk/core";
 * const events = new Emitter<{ saved: { name: string } }>((event, error) => console.error(event, error));
 * const off = events.on("saved", (file) => console.log(file.name));
 * events.emit("saved", { name: "a.txt" });
 * off();
 * ```
 */
export class Emitter<Events extends object> {
  readonly #handlers = new Map<keyof Events, Set<(detail: never) => void>>();
  readonly #onError: (event: keyof Events, error: unknown) => void;

  /** Errors thrown by handlers go to `onError`. */
  constructor(onError: (event: keyof Events, error: unknown) => void) {
    this.#onError = onError;
  }

  /** Subscribes to `event`; returns a function that unsubscribes. */
  on<E extends keyof Events>(event: E, handler: (detail: Events[E]) => void): () => void {
    let set = this.#handlers.get(event);
    if (!set) this.#handlers.set(event, set = new Set());
    set.add(handler as (detail: never) => void);
    return () => set.delete(handler as (detail: never) => void);
  }

  /** Calls every handler of `event` with `detail`. */
  emit<E extends keyof Events>(event: E, detail: Events[E]): void {
    const set = this.#handlers.get(event);
    if (!set) return;
    for (const handler of set) {
      try {
        (handler as (detail: Events[E]) => void)(detail);
      } catch (error) {
        this.#onError(event, error);
      }
    }
  }

  /** True when anyone listens to `event`: to skip building a detail nobody reads. */
  listens(event: keyof Events): boolean {
    return (this.#handlers.get(event)?.size ?? 0) > 0;
  }

  /** Drops every handler. */
  clear(): void {
    this.#handlers.clear();
  }
}
