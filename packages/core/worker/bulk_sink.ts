/**
 * Bulk sinks of a connection worker: where the bulk bytes of received app messages go. An app
 * names the field of its messages that carries bytes and the field that names their sink; the
 * main thread tells the worker which sink key goes to which file. Bytes bound for a sink are
 * lifted out of the message before validation (which would copy them) and written straight from
 * the ring, or verified first (see {@linkcode PieceVerifier}); the message is delivered without
 * them, with where they went.
 *
 * @module
 */
import { ProtocolError } from "../errors.ts";
import type { AppMessage, BulkFields, StoredData } from "../messages.ts";
import type { Schema } from "../schema.ts";
import type { SinkRequest } from "../worker_protocol.ts";
import type { PieceVerifier } from "./piece_verifier.ts";

const EMPTY = new Uint8Array(0);

/** Where one key's bytes go. */
interface Sink {
  key: string;
  path: string;
  size?: number;
  verify?: SinkRequest["verify"];
  file?: Deno.FsFile;
}

/** Bulk bytes taken out of a message, and the sink they are bound for. */
export interface LiftedBytes {
  /** The sink. */
  sink: Sink;
  /** The bytes: a view of the frame, valid while it is handled. */
  data: Uint8Array;
}

/**
 * The sinks of one connection.
 *
 * @example
 * ```ts
 * import type { AppMessage } from "../messages.ts";
 * import { s } from "../schema.ts";
 * import { BulkSinks } from "./bulk_sink.ts";
 * import { PieceVerifier } from "./piece_verifier.ts";
 * const path = await Deno.makeTempFile();
 * const bulk = { blob: { data: "data", key: "file", offset: "at" } };
 * const apps = { blob: s.map({ file: s.str(8), at: s.uint(), data: s.bin(100) }) };
 * const sinks = new BulkSinks(bulk, apps, new PieceVerifier());
 * sinks.set({ type: "sink", app: "blob", key: "f", path });
 * const data = new Uint8Array([7]);
 * const message: AppMessage = { t: "app", app: "blob", body: { file: "f", at: 2, data } };
 * await sinks.store(message, sinks.lift(message)!);
 * console.log(message.stored?.status, await Deno.readFile(path)); // "written" [0, 0, 7]
 * sinks.close();
 * ```
 */
export class BulkSinks {
  readonly #bulk: Record<string, BulkFields>;
  readonly #apps: Record<string, Schema>;
  readonly #verifier: PieceVerifier;
  readonly #sinks = new Map<string, Sink>();

  /** Sinks for the apps' fields named in `bulk`; verifying sinks verify through `verifier`. */
  constructor(
    bulk: Record<string, BulkFields>,
    apps: Record<string, Schema>,
    verifier: PieceVerifier,
  ) {
    this.#bulk = bulk;
    this.#apps = apps;
    this.#verifier = verifier;
  }

  /** Starts, replaces or (path null) stops the sink of one key. */
  set(request: SinkRequest): void {
    const id = `${request.app}\0${request.key}`;
    this.#sinks.get(id)?.file?.close();
    this.#sinks.delete(id);
    if (request.path !== null) {
      this.#sinks.set(id, {
        key: request.key,
        path: request.path,
        size: request.size,
        verify: request.verify,
      });
    }
  }

  /**
   * Takes the bulk bytes out of a decoded (not yet validated) message bound for a sink, checked
   * against its schema's limit; undefined when it is not such a message.
   */
  lift(value: unknown): LiftedBytes | undefined {
    const sink = this.#sinkFor(value);
    if (!sink) return undefined;
    const message = value as AppMessage;
    const field = this.#bulk[message.app].data;
    const data = message.body[field] as Uint8Array;
    const max = binFieldMax(this.#apps[message.app], message.body, field);
    if (max !== undefined && data.length > max) {
      throw new ProtocolError(
        "bad-message",
        `${message.app} message.${field}: ${data.length} bytes exceeds ${max}`,
      );
    }
    message.body[field] = EMPTY;
    return { sink, data };
  }

  /**
   * Stores lifted bytes at their offset in the sink's file and sets `message.stored`. A plain
   * sink writes them straight from the ring (synchronously: this thread serves one connection).
   * A verifying sink has them verified first, and resolves once they are settled.
   */
  store(message: AppMessage, { sink, data }: LiftedBytes): Promise<void> {
    const bulk = this.#bulk[message.app];
    const offset = message.body[bulk.offset] as number;
    delete message.body[bulk.data];
    if (sink.size !== undefined && offset + data.length > sink.size) {
      throw new ProtocolError(
        "bad-message",
        `${data.length} bytes at offset ${offset} run past the end of "${sink.key}" (${sink.size} bytes)`,
      );
    }
    const stored: StoredData = { path: sink.path, offset, length: data.length, status: "written" };
    message.stored = stored;
    if (sink.verify) return this.#verifier.verify(stored, sink.size!, sink.verify, data);
    try {
      sink.file ??= Deno.openSync(sink.path, { write: true, create: true });
      sink.file.seekSync(offset, Deno.SeekMode.Start);
      let at = 0;
      while (at < data.length) at += sink.file.writeSync(data.subarray(at));
    } catch (error) {
      stored.status = "failed";
      stored.reason = `cannot write ${sink.path}: ${(error as Error).message}`;
    }
    return Promise.resolve();
  }

  /** Closes every sink's file. */
  close(): void {
    for (const sink of this.#sinks.values()) sink.file?.close();
    this.#sinks.clear();
  }

  /** The sink of an app message's bulk bytes, if its app has bulk fields and a sink for its key. */
  #sinkFor(value: unknown): Sink | undefined {
    const message = value as { t?: unknown; app?: unknown; body?: Record<string, unknown> };
    if (message?.t !== "app" || typeof message.app !== "string") return undefined;
    const bulk = Object.hasOwn(this.#bulk, message.app) ? this.#bulk[message.app] : undefined;
    const key = bulk && message.body?.[bulk.key];
    // Only messages that carry bulk bytes: other messages of the app may name the same key.
    if (typeof key !== "string" || !(message.body![bulk!.data] instanceof Uint8Array)) {
      return undefined;
    }
    return this.#sinks.get(`${message.app}\0${key}`);
  }
}

function binFieldMax(
  schema: Schema,
  body: Record<string, unknown>,
  field: string,
): number | undefined {
  const fields = schema.kind === "map"
    ? schema.fields
    : schema.kind === "oneOf"
    ? schema.variants[String(body[schema.tag])]?.fields
    : undefined;
  let of = fields?.[field];
  if (of?.kind === "optional") of = of.of;
  return of?.kind === "bin" ? of.max : undefined;
}
