/**
 * The live channel of a peer's page: Server-Sent Events, one stream per open page. What the peer
 * sends goes to every page; a page that does not keep up is dropped rather than buffered without
 * end (its browser reconnects by itself and starts again from a fresh snapshot).
 *
 * @module
 */

/** One event on the live channel: its name, and what it carries (sent as JSON). */
export interface LiveEvent {
  event: string;
  data: unknown;
}

/** Options of an {@linkcode EventHub}. */
export interface EventHubOptions {
  /** Most pages open at once; more are answered 503 (default 16). */
  maxClients?: number;
  /** Bytes queued for one page past which it is dropped (default 4 MiB). */
  maxQueuedBytes?: number;
  /** How often a comment keeps an idle stream from being closed by proxies (default 15 s). */
  keepAliveMs?: number;
}

/** How long a browser waits before it reconnects a dropped stream, in ms. */
const RETRY_MS = 2000;

/**
 * The open streams of a page server.
 *
 * @example
 * ```ts
 * import { EventHub } from "./web_events.ts";
 * const hub = new EventHub();
 * const response = hub.open([{ event: "hello", data: { n: 1 } }]);
 * const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
 * console.log((await reader.read()).value); // "retry: 2000\n\nevent: hello\ndata: {"n":1}\n\n"
 * hub.close();
 * await reader.cancel();
 * ```
 */
export class EventHub {
  readonly #clients = new Set<ReadableStreamDefaultController<Uint8Array>>();
  readonly #encoder = new TextEncoder();
  readonly #maxClients: number;
  readonly #maxQueuedBytes: number;
  readonly #timer: ReturnType<typeof setInterval>;
  #closed = false;

  /** A hub with no streams yet. */
  constructor(options: EventHubOptions = {}) {
    this.#maxClients = options.maxClients ?? 16;
    this.#maxQueuedBytes = options.maxQueuedBytes ?? 4 * 2 ** 20;
    this.#timer = setInterval(() => this.#write(": keep-alive\n\n"), options.keepAliveMs ?? 15_000);
  }

  /** How many pages are listening. */
  get size(): number {
    return this.#clients.size;
  }

  /** The response that opens a stream: `first` are its first events (the page's snapshot). */
  open(first: LiveEvent[]): Response {
    if (this.#closed || this.#clients.size >= this.#maxClients) {
      return new Response("too many pages are open on this peer; close one\n", { status: 503 });
    }
    let me: ReadableStreamDefaultController<Uint8Array>;
    const body = new ReadableStream<Uint8Array>({
      start: (controller) => {
        me = controller;
        this.#clients.add(controller);
        controller.enqueue(
          this.#encoder.encode(`retry: ${RETRY_MS}\n\n${first.map(frame).join("")}`),
        );
      },
      cancel: () => {
        this.#clients.delete(me);
      },
    }, { highWaterMark: this.#maxQueuedBytes, size: (chunk) => chunk.byteLength });
    return new Response(body, {
      headers: { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-store" },
    });
  }

  /** Sends an event to every page. */
  send(event: string, data: unknown): void {
    this.#write(frame({ event, data }));
  }

  /** Ends every stream; later ones are refused. */
  close(): void {
    this.#closed = true;
    clearInterval(this.#timer);
    for (const client of this.#clients) client.close();
    this.#clients.clear();
  }

  #write(text: string): void {
    if (this.#clients.size === 0) return;
    const bytes = this.#encoder.encode(text);
    for (const client of this.#clients) {
      // Past its limit a page is behind by megabytes: drop it, it reconnects and starts afresh.
      if ((client.desiredSize ?? 0) < bytes.byteLength) {
        this.#clients.delete(client);
        client.error(new Error("page too slow"));
        continue;
      }
      client.enqueue(bytes);
    }
  }
}

/** One event in the text/event-stream format; JSON holds no raw newline, so one data line. */
function frame({ event, data }: LiveEvent): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}
