/**
 * A peer's page (`--web`): its files from `web/` beside this module, served with the live state
 * of the peer, and the calls through which the page says, renames and fetches. What the page asks
 * is carried out as the same command typed at the prompt would be; what it sends is checked
 * field by field first.
 *
 * @module
 */
import {
  type Address,
  assertValid,
  formatAddress,
  ProtocolError,
  s,
  type Schema,
} from "@meshtalk/core";
import { MAX_NICK_LENGTH } from "@meshtalk/core/protocol";
import { ChatError, type ChatMessage, MAX_TEXT_LENGTH } from "@meshtalk/chat";
import { type FileShare, FileShareError } from "@meshtalk/files";
import { type ChatCommand, ChatCommandError } from "./chat_commands.ts";
import type { Output } from "./output.ts";
import { type PageSources, PageState } from "./web_state.ts";
import { type ApiHandler, type PageFiles, startWebServer, WebRequestError } from "./web_server.ts";

/** The page's files and their types: all it loads, from this server alone. */
const PAGE_FILES: Record<string, string> = {
  "index.html": "text/html; charset=utf-8",
  "style.css": "text/css; charset=utf-8",
  "app.js": "text/javascript; charset=utf-8",
  "graph.js": "text/javascript; charset=utf-8",
  "bytes.js": "text/javascript; charset=utf-8",
  "icon.svg": "image/svg+xml",
};

/** How often the page's state is looked at for changes (round trips and rates move on their own). */
const REFRESH_MS = 1000;
/** A change (a peer came, a piece arrived) is sent this soon, with whatever else changed meanwhile. */
const SOON_MS = 100;

/**
 * What `--web` does, as the help of both commands says it.
 *
 * @example
 * ```ts
 * import { WEB_HELP } from "./web.ts";
 * console.log(WEB_HELP.startsWith("serve this peer's page")); // true
 * ```
 */
export const WEB_HELP =
  "serve this peer's page on 127.0.0.1:port, or host:port (0: any free port); its address, " +
  "with the token it needs, is printed";

/** What the page may ask: the commands of the same names. */
export type PageCommand = Extract<ChatCommand, { name: "say" | "msg" | "nick" | "get" | "cancel" }>;

/**
 * The page could not be served: the port is taken, or the address is not this machine's.
 *
 * @example
 * ```ts
 * import { WebStartError } from "./web.ts";
 * console.log(new WebStartError("--web: port 8080 is in use").name); // "WebStartError"
 * ```
 */
export class WebStartError extends Error {
  /** Builds the error. */
  constructor(message: string) {
    super(message);
    this.name = "WebStartError";
  }
}

/** Options of {@linkcode startWeb}. */
export interface WebOptions extends PageSources {
  /** Where to listen (`--web`). */
  address: Address;
  /** Where the page's address is said. */
  out: Output;
  /** Carries out what the page asks; throws what a user can meet (ChatError and the like). */
  run: (command: PageCommand) => Promise<void>;
  /** The folder of the page's files (default `web/` beside this module). */
  dir?: URL;
}

/** A page being served. */
export interface Web {
  /** Its address, with the token. */
  readonly url: string;
  /** Shows a message this peer wrote (at the prompt or on the page) on the page. */
  sent(message: ChatMessage): void;
  /** Closes the open pages and the server. */
  close(): Promise<void>;
}

/**
 * Serves the page of `options.peer`, and says its address: a line, and a `web` event (`url`).
 *
 * @example
 * ```ts
 * import { startPeer } from "@meshtalk/core";
 * import { Output } from "./output.ts";
 * import { startWeb } from "./web.ts";
 * const peer = await startPeer({ host: "127.0.0.1", log: () => {} });
 * const out = new Output(true);
 * const web = await startWeb({
 *   peer, out, address: { host: "127.0.0.1", port: 0 }, run: () => Promise.resolve(),
 * }); // {"event":"web","url":"http://127.0.0.1:…/?token=…"}
 * await (await fetch(web.url)).body?.cancel();
 * await web.close();
 * await peer.close();
 * await out.flushed();
 * ```
 */
export async function startWeb(options: WebOptions): Promise<Web> {
  const { peer, chat, share, out, address } = options;
  const files = await loadPage(options.dir ?? new URL("./web/", import.meta.url));
  const state = new PageState(options);
  let server;
  try {
    server = startWebServer({
      hostname: address.host,
      port: address.port,
      files,
      greeting: () => [{ event: "snapshot", data: state.snapshot() }, live()],
      // What a call changed (a nickname, a download begun) shows at once.
      api: pageCalls(options, () => refreshSoon()),
      onError: (error) => out.error(`web: ${(error as Error).message}`),
    });
  } catch (error) {
    state.close();
    throw new WebStartError(
      error instanceof Deno.errors.AddrInUse
        ? `--web ${formatAddress(address)}: that port is in use; choose another (0: any free one)`
        : `--web ${formatAddress(address)}: ${(error as Error).message}`,
    );
  }
  let last = "";
  function live() {
    const data = state.live();
    last = JSON.stringify(data);
    return { event: "state", data };
  }
  const refresh = () => {
    const data = state.live();
    const text = JSON.stringify(data);
    if (text === last) return;
    last = text;
    server.send("state", data);
  };
  let soon: ReturnType<typeof setTimeout> | undefined;
  const refreshSoon = () => soon ??= setTimeout(() => (soon = undefined, refresh()), SOON_MS);
  const timer = setInterval(refresh, REFRESH_MS);
  const notice = (text: string) => server.send("notice", { text });
  const off = [
    peer.on("peer:connected", (info) => (notice(`${state.nickOf(info.id)} joined`), refreshSoon())),
    peer.on("peer:disconnected", ({ peer: info, reason }) => {
      notice(`${state.nickOf(info.id)} left: ${reason}`);
      refreshSoon();
    }),
    ...(chat
      ? [
        chat.onMessage((message) => server.send("message", state.remember(message))),
        chat.onNick(({ id, nick, before, late }) => {
          if (!late) notice(`${before ?? id.slice(0, 8)} is now ${nick}`);
          refreshSoon();
        }),
      ]
      : []),
    ...(share
      ? [
        ...(["announce", "progress", "upload"] as const).map((event) =>
          share.on(event, refreshSoon)
        ),
        share.on("saved", (file) => (notice(`saved ${file.name}`), refreshSoon())),
        share.on("error", ({ message }) => notice(message)),
      ]
      : []),
  ];

  out.event("web", { url: server.url });
  out.line(out.paint("1", `page: ${server.url}`));
  if (!isLoopback(address.host)) {
    out.line(out.paint(
      "33",
      `* the page listens on ${address.host}: other machines can reach it, over plain HTTP, ` +
        `where anyone on the way can read its token`,
    ));
  }
  return {
    url: server.url,
    sent: (message) => server.send("message", state.remember(message)),
    close: async () => {
      clearInterval(timer);
      clearTimeout(soon);
      for (const unsubscribe of off) unsubscribe();
      state.close();
      await server.close();
    },
  };
}

/**
 * What a share command does when its page asks: fetch a file on offer, or stop fetching it,
 * saying so through `log` as the command says its other doings.
 *
 * @example
 * ```ts
 * import { startPeer } from "@meshtalk/core";
 * import { createFileShare, filesApp } from "@meshtalk/files";
 * import { fileCommands } from "./web.ts";
 * const peer = await startPeer({ host: "127.0.0.1", apps: [filesApp], log: () => {} });
 * const share = createFileShare(peer);
 * const run = fileCommands(share, console.log);
 * await run({ name: "get", target: "ab".repeat(32) }).catch((e) => console.log(e.message));
 * // "nothing on offer has that hash"
 * share.close();
 * await peer.close();
 * ```
 */
export function fileCommands(
  share: FileShare,
  log: (line: string) => void,
): (command: PageCommand) => Promise<void> {
  return async (command) => {
    if (command.name !== "get" && command.name !== "cancel") {
      throw new WebRequestError("this peer runs no chat", 404);
    }
    const file = share.files().find((f) => f.root === command.target);
    if (!file) throw new WebRequestError("nothing on offer has that hash", 404);
    if (command.name === "get") {
      if (file.state !== "known") return;
      await share.fetch(file.root);
      log(`fetching ${file.name}, as the page asked`);
    } else {
      if (!share.cancel(file.root)) throw new WebRequestError(`${file.name} is not being fetched`);
      log(`stopped fetching ${file.name}, as the page asked`);
    }
  };
}

/** The page's files, read once, from `dir` (a `file:` URL, or any other `fetch` reads). */
async function loadPage(dir: URL): Promise<PageFiles> {
  const files: PageFiles = new Map();
  for (const [name, type] of Object.entries(PAGE_FILES)) {
    const url = new URL(name, dir);
    try {
      const body = url.protocol === "file:"
        ? await Deno.readFile(url)
        : new Uint8Array(await (await fetch(url)).arrayBuffer());
      files.set(name, { body, type });
    } catch (error) {
      // `deno compile` leaves it out unless told: `--include apps/cli/web`.
      throw new WebStartError(`cannot read the page's ${url}: ${(error as Error).message}`);
    }
  }
  return files;
}

const sayBody: Schema = s.map({ text: s.str(MAX_TEXT_LENGTH), to: s.optional(s.str(64)) });
const nickBody: Schema = s.map({ nick: s.str(MAX_NICK_LENGTH) });
const fileBody: Schema = s.map({ file: s.str(64) });

/** The calls of the page: each body checked, then carried out as its command; `done` after. */
function pageCalls(options: WebOptions, done: () => void): Record<string, ApiHandler> {
  const { chat, share, run } = options;
  const act = async (command: PageCommand, needs: unknown, what: string) => {
    if (!needs) throw new WebRequestError(`this peer runs no ${what}`, 404);
    try {
      await run(command);
    } catch (error) {
      const said = error instanceof ChatError || error instanceof ChatCommandError ||
        error instanceof FileShareError;
      throw said ? new WebRequestError((error as Error).message) : error;
    }
    done();
    return {};
  };
  return {
    say: (body) => {
      const { text, to } = checked<{ text: string; to?: string }>(sayBody, body);
      if (!text.trim()) throw new WebRequestError("body.text: empty; say something");
      if (/[\r\n]/.test(text)) throw new WebRequestError("body.text: one line only");
      return act(to ? { name: "msg", to, text } : { name: "say", text }, chat, "chat");
    },
    nick: (body) => {
      const { nick } = checked<{ nick: string }>(nickBody, body);
      if (!/^\S+$/.test(nick)) throw new WebRequestError("body.nick: one word, no spaces");
      return act({ name: "nick", nick }, chat, "chat");
    },
    get: (body) => act({ name: "get", target: root(body) }, share, "file sharing"),
    cancel: (body) => act({ name: "cancel", target: root(body) }, share, "file sharing"),
  };
}

function root(body: unknown): string {
  const { file } = checked<{ file: string }>(fileBody, body);
  if (!/^[0-9a-f]{64}$/.test(file)) throw new WebRequestError("body.file: not a root hash");
  return file;
}

/** `body` checked against `schema`, or a 400 naming the first field that is wrong. */
function checked<T>(schema: Schema, body: unknown): T {
  try {
    assertValid(schema, body, "body");
    return body as T;
  } catch (error) {
    if (error instanceof ProtocolError) throw new WebRequestError(error.message);
    throw error;
  }
}

function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || host.startsWith("127.");
}
