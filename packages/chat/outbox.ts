/**
 * Lines written here, made into says: a line joins the say still waiting for its signature when
 * it can, says are signed and handed on in the order written, and a fast writer is held back
 * once too much waits unsigned.
 *
 * @module
 */
import type { Peer } from "@meshtalk/core";
import type { LamportClock } from "./clock.ts";
import { ChatError } from "./errors.ts";
import { signedBytes } from "./signing.ts";
import {
  type ChatWireMessage,
  MAX_LINES,
  MAX_TEXT_LENGTH,
  NICK_EVENT,
  textLength,
} from "./wire.ts";

/** Lines waiting for their signatures past which {@linkcode Outbox.drained} holds a writer. */
const MAX_UNSIGNED_LINES = 1024;
const EMPTY_SIG = new Uint8Array(64);

/** What an {@linkcode Outbox} needs. */
export interface OutboxOptions {
  /** The peer writing: its id, key and nickname at the time go in each say, and it signs them. */
  author: Pick<Peer, "id" | "nick" | "publicKey" | "sign">;
  /** Hop limit of the says written. */
  hopLimit: number;
  /** When this run of the author's started (ms since epoch): its stream. */
  epoch: number;
  /** The chat's clock, which lines written here move on. */
  clock: LamportClock;
  /** Called with each say once it is signed, in the order written. */
  onSigned: (say: ChatWireMessage) => void;
  /** Where a failure to sign is reported. */
  log: (line: string) => void;
  /** Most lines a say takes (default and most {@linkcode MAX_LINES}). */
  linesPerSay?: number;
}

/**
 * Makes lines into signed says. A broadcast line written while the previous say is being signed
 * joins the last unsigned say, while that has room ({@linkcode MAX_LINES} lines,
 * {@linkcode MAX_TEXT_LENGTH} characters) and the clock has not moved since its last line: lines
 * written together (a paste, a script's output) then cost one signature, one check at every peer
 * and one frame per neighbour, and a line written alone is sent at once, alone.
 *
 * @example
 * ```ts
 * import { generateIdentity } from "@meshtalk/core";
 * import { LamportClock } from "./clock.ts";
 * import { Outbox } from "./outbox.ts";
 * const me = await generateIdentity();
 * const sign = async (data: Uint8Array) =>
 *   new Uint8Array(await crypto.subtle.sign("Ed25519", me.privateKey, data as BufferSource));
 * const outbox = new Outbox({
 *   author: { id: me.id, nick: "ada", publicKey: me.publicKey, sign },
 *   hopLimit: 32,
 *   epoch: Date.now(),
 *   clock: new LamportClock(),
 *   onSigned: (say) => console.log(say.lines), // ["one", "two"], then ["psst"]
 *   log: console.error,
 * });
 * outbox.write("one");
 * outbox.write("two"); // before one's say is signed: joins it
 * outbox.write("psst", "1".repeat(32)); // a direct message: a say of its own
 * await outbox.drained();
 * ```
 */
export class Outbox {
  readonly #options: OutboxOptions;
  /** Says written and not yet signed; the last may still take lines. */
  #unsigned: ChatWireMessage[] = [];
  /** Lines in `#unsigned`, and their characters. */
  #unsignedLines = 0;
  #unsignedChars = 0;
  /** Says are signed, then handed on, in the order they were written. */
  #signing: Promise<void> = Promise.resolve();
  #sent = 0;
  /** Says numbered so far in this run's stream. */
  #says = 0;

  readonly #linesPerSay: number;

  /** An outbox writing as `options.author`. */
  constructor(options: OutboxOptions) {
    this.#options = options;
    this.#linesPerSay = Math.max(1, Math.min(MAX_LINES, options.linesPerSay ?? MAX_LINES));
  }

  /** Lines written. */
  get sent(): number {
    return this.#sent;
  }

  /**
   * Writes a line, to everyone or (with `to`, a peer id) to one peer; returns the say that
   * carries it and its index there. Throws {@linkcode ChatError} for a text over
   * {@linkcode MAX_TEXT_LENGTH}.
   */
  write(text: string, to?: string): { say: ChatWireMessage; line: number } {
    if (text.length > MAX_TEXT_LENGTH) {
      throw new ChatError(
        `message of ${text.length} characters is over the limit of ${MAX_TEXT_LENGTH}`,
      );
    }
    const { author, clock } = this.#options;
    const last = this.#unsigned.at(-1);
    // Joining keeps clocks exact: line i of a say has clock + i, so a line may join only if no
    // say seen since the say's last line moved the clock on. Direct messages are never joined.
    const joins = !to && last !== undefined && !last.to && !last.event &&
      last.nick === author.nick &&
      last.lines.length < this.#linesPerSay && last.clock + last.lines.length - 1 === clock.now &&
      textLength(last.lines) + text.length <= MAX_TEXT_LENGTH;
    const lineClock = clock.tick();
    this.#sent++;
    this.#unsignedLines++;
    this.#unsignedChars += text.length;
    if (joins) {
      last.lines.push(text);
      return { say: last, line: last.lines.length - 1 };
    }
    const say = this.#newSay([text], lineClock, to);
    this.#queue(say);
    return { say, line: 0 };
  }

  /**
   * Tells everyone that the author now goes by its current nickname: a say with no lines and the
   * `nick` event, signed and sent in order with the lines written before it.
   */
  renamed(): ChatWireMessage {
    const say = { ...this.#newSay([], this.#options.clock.tick()), event: NICK_EVENT };
    this.#queue(say);
    return say;
  }

  #newSay(lines: string[], clock: number, to?: string): ChatWireMessage {
    const { author, hopLimit, epoch } = this.#options;
    return {
      id: crypto.randomUUID().replaceAll("-", ""),
      origin: author.id,
      nick: author.nick,
      lines,
      clock,
      hops: hopLimit, // hops left: all of them
      limit: hopLimit,
      sentAt: Date.now(),
      ...(to ? { to } : {}),
      key: author.publicKey,
      sig: EMPTY_SIG,
      epoch,
      n: ++this.#says,
    };
  }

  #queue(say: ChatWireMessage): void {
    this.#unsigned.push(say);
    if (this.#unsigned.length === 1) {
      this.#signing = this.#signing.then(() => this.#signAll()).catch((error) =>
        this.#options.log(`could not sign a chat message: ${(error as Error).message}`)
      );
    }
  }

  /**
   * Without `bytes`, resolves once every line written is signed and handed on. With `bytes`, at
   * once unless 1,024 lines, or `bytes` characters, wait for their signatures: a writer of many
   * lines is held back only then, since waiting for every signature would send each line alone.
   */
  async drained(bytes?: number): Promise<void> {
    if (
      bytes === undefined || this.#unsignedLines >= MAX_UNSIGNED_LINES ||
      this.#unsignedChars >= bytes
    ) {
      await this.#signing;
    }
  }

  /** Signs every say written since the last call, and hands them on in order, in one turn. */
  async #signAll(): Promise<void> {
    const batch = this.#unsigned;
    this.#unsigned = [];
    this.#unsignedLines = 0;
    this.#unsignedChars = 0;
    const { author, onSigned } = this.#options;
    const signatures = await Promise.all(batch.map((say) => author.sign(signedBytes(say))));
    batch.forEach((say, i) => {
      say.sig = signatures[i];
      onSigned(say);
    });
  }
}
