/**
 * Files from the chat: `/share`, `/files`, `/get` and `/cancel` over the peer's file share, and
 * what the chat shows of offers. In the chat an offer is an invitation: nothing is fetched until
 * `/get` asks for it. Each file or folder known gets a number, in the order it was first heard of,
 * that stays its own for the session.
 *
 * @module
 */
import type { Peer } from "@meshtalk/core";
import type { FileShare, FileStatus, Manifest } from "@meshtalk/files";
import { ChatCommandError } from "./chat_commands.ts";
import { formatBytes, plural, shortId } from "./format.ts";
import { linkHost, offerLink, showOffer } from "./files_view.ts";
import type { Output } from "./output.ts";
import { userPath } from "./options.ts";

/** What {@linkcode ChatFiles} works with. */
export interface ChatFilesOptions {
  share: FileShare;
  peer: Peer;
  out: Output;
  /** The address the peer listens on (`--host`), for the links of offers. */
  listenHost: string;
  /** A peer's nickname as the chat knows it now. */
  nickOf: (id: string) => string;
}

/**
 * The chat's files: numbers for what is on offer, and the four commands.
 *
 * @example
 * ```ts ignore
 * const files = new ChatFiles({ share, peer, out, listenHost: "0.0.0.0", nickOf });
 * await files.get("2");
 * ```
 */
export class ChatFiles {
  readonly #options: ChatFilesOptions;
  /** Root hash to number, in the order first heard of. */
  readonly #numbers = new Map<string, number>();

  constructor(options: ChatFilesOptions) {
    this.#options = options;
    const { share, out, nickOf } = options;
    share.on("announce", ({ manifest, origin }) => {
      const number = this.#numberOf(manifest.root);
      const by = nickOf(origin);
      out.event("file-offered", {
        number,
        name: manifest.name,
        size: manifest.size,
        hash: manifest.root,
        kind: manifest.files ? "folder" : "file",
        files: manifest.files?.length,
        from: { id: origin, nick: by },
      });
      out.line(
        out.paint("2", `* ${by} offers ${describe(manifest)} - `) +
          out.paint("1", `/get ${this.#handle(manifest)}`),
      );
    });
  }

  /** `/share <path>`: offers a file or folder to the mesh, and says its link. */
  async share(path: string): Promise<void> {
    const { share, peer, out, listenHost } = this.#options;
    out.line(out.paint("2", `* hashing ${path}`));
    const manifest = await share.offer(userPath(path));
    this.#numberOf(manifest.root);
    showOffer(
      out,
      manifest,
      offerLink(manifest, { host: linkHost(listenHost), port: peer.port }, peer.id),
    );
  }

  /** `/files`: what is on offer in the mesh, numbered, with where each stands here. */
  list(): void {
    const { share, out } = this.#options;
    const files = share.files();
    for (const file of files) this.#numberOf(file.root);
    const rows = files.map((file) => ({
      number: this.#numbers.get(file.root)!,
      name: file.name,
      hash: file.root,
      kind: file.kind ?? "file",
      size: file.size,
      holders: file.holders ?? 0,
      from: file.origin ? { id: file.origin.id, nick: this.#nickOfOrigin(file) } : null,
      state: file.state,
      bytes: file.bytes,
    })).sort((a, b) => a.number - b.number);
    out.event("files", { files: rows });
    if (out.json) return;
    if (rows.length === 0) {
      out.line("nothing on offer yet; /share <path> offers a file or folder");
      return;
    }
    const table = [
      ["#", "name", "size", "peers", "offered by", "here"],
      ...rows.map((row) => [
        String(row.number),
        row.kind === "folder" ? `${row.name}/` : row.name,
        formatBytes(row.size),
        String(row.holders),
        row.from?.nick ?? "-",
        where(row.state, row.bytes, row.size),
      ]),
    ];
    const widths = table[0].map((_, column) => Math.max(...table.map((row) => row[column].length)));
    for (const [i, row] of table.entries()) {
      const text = row.map((cell, column) => cell.padEnd(widths[column])).join("  ").trimEnd();
      out.line(i === 0 ? out.paint("2", text) : text);
    }
  }

  /** `/get <number | name | hash prefix | link>`: starts fetching it into `--out`. */
  async get(target: string): Promise<void> {
    const { share, out } = this.#options;
    if (/^meshtalk:/i.test(target)) {
      out.line(out.paint("2", `* asking the link's peer for it`));
      const manifest = await share.fetchLink(target);
      this.#numberOf(manifest.root);
      out.line(out.paint("2", `* fetching ${describe(manifest)}`));
      return;
    }
    const file = this.#find(target);
    if (file.state === "seeding") {
      out.line(`you have ${file.name} already${file.path ? ` at ${file.path}` : ""}`);
      return;
    }
    if (file.state !== "known") {
      out.line(
        `${file.name} is being fetched already; /cancel ${this.#numbers.get(file.root)} stops it`,
      );
      return;
    }
    await share.fetch(file.root);
    out.line(out.paint("2", `* fetching ${file.name} (${formatBytes(file.size)})`));
  }

  /** `/cancel <number | name | hash prefix>`: stops a fetch; what was verified is kept. */
  cancel(target: string): void {
    const { share, out } = this.#options;
    const file = this.#find(target);
    if (!share.cancel(file.root)) {
      throw new ChatCommandError(`${file.name} is not being fetched`);
    }
    // What was verified when it stopped (a stopped file is only known again: its status says 0).
    const { name, root, bytes, size } = file;
    out.event("cancelled", { name, hash: root, bytes, size });
    out.line(
      `stopped fetching ${name}: ${formatBytes(bytes)} of ${formatBytes(size)} kept; ` +
        `/get ${this.#numbers.get(root)} resumes it`,
    );
  }

  /** The file or folder `target` names: its number, its name (when only one has it), or a prefix of its hash. */
  #find(target: string): FileStatus {
    const files = this.#options.share.files();
    for (const file of files) this.#numberOf(file.root);
    if (/^\d+$/.test(target)) {
      const file = files.find((f) => this.#numbers.get(f.root) === Number(target));
      if (file) return file;
      throw new ChatCommandError(`no file numbered ${target}; /files lists them`);
    }
    const named = files.filter((f) => f.name === target);
    if (named.length === 1) return named[0];
    if (named.length > 1) {
      const numbers = named.map((f) => this.#numbers.get(f.root)).join(", ");
      throw new ChatCommandError(
        `${named.length} files are named ${target}: use a number (${numbers})`,
      );
    }
    const prefixed = /^[0-9a-f]{4,64}$/i.test(target)
      ? files.filter((f) => f.root.startsWith(target.toLowerCase()))
      : [];
    if (prefixed.length === 1) return prefixed[0];
    throw new ChatCommandError(
      prefixed.length > 1
        ? `${prefixed.length} files have hashes starting ${target}; give more of it`
        : `nothing on offer is called ${target}; /files lists what is`,
    );
  }

  #numberOf(root: string): number {
    let number = this.#numbers.get(root);
    if (number === undefined) this.#numbers.set(root, number = this.#numbers.size + 1);
    return number;
  }

  /** The name a `/get` can use: the name, unless another file has it too, else the number. */
  #handle(manifest: Manifest): string {
    const same = this.#options.share.files().filter((f) => f.name === manifest.name).length;
    return same > 1 || /^\d+$/.test(manifest.name) || /\s/.test(manifest.name)
      ? String(this.#numbers.get(manifest.root))
      : manifest.name;
  }

  #nickOfOrigin(file: FileStatus): string {
    const origin = file.origin!;
    if (origin.id === this.#options.peer.id) return "you";
    return origin.nick ?? this.#options.nickOf(origin.id) ?? shortId(origin.id);
  }
}

function describe(manifest: Manifest): string {
  const what = manifest.files
    ? `${manifest.name}/ (${plural(manifest.files.length, "file")}, `
    : `${manifest.name} (`;
  return `${what}${formatBytes(manifest.size)})`;
}

function where(state: FileStatus["state"], bytes: number, size: number): string {
  switch (state) {
    case "seeding":
      return "have it";
    case "known":
      return "-";
    default:
      return `fetching, ${size > 0 ? Math.floor((bytes / size) * 100) : 100}%`;
  }
}
