/**
 * The HTTP server of a peer's page (`--web`), on `Deno.serve`: the page's static files, its live
 * channel (Server-Sent Events at `events`) and its calls (`POST api/<name>` with a JSON body).
 * Every request passes the checks of {@linkcode WebGuard} first; every answer forbids framing,
 * other sites' scripts and referrers that would carry the token away.
 *
 * @module
 */
import { concatBytes } from "@meshtalk/core";
import { type Access, newToken, WebGuard } from "./web_auth.ts";
import { EventHub, type LiveEvent } from "./web_events.ts";

/** One file of the page, as served. */
export interface PageFile {
  body: Uint8Array<ArrayBuffer>;
  /** Its `Content-Type`. */
  type: string;
}

/** The files of the page, by name; `index.html` is also served at `/`. */
export type PageFiles = Map<string, PageFile>;

/** What the page's calls answer: a JSON value, or a {@linkcode WebRequestError}. */
export type ApiHandler = (body: unknown) => unknown | Promise<unknown>;

/**
 * A call the page made wrongly, or that cannot be done: answered with `status` (400 unless
 * said) and `{"error": message}`, which the page shows.
 *
 * @example
 * ```ts
 * import { WebRequestError } from "./web_server.ts";
 * const error = new WebRequestError("text: missing");
 * console.log(error.status, error.message); // 400 "text: missing"
 * ```
 */
export class WebRequestError extends Error {
  /** The HTTP status of the answer. */
  readonly status: number;

  /** Builds the error. */
  constructor(message: string, status = 400) {
    super(message);
    this.name = "WebRequestError";
    this.status = status;
  }
}

/** Options of {@linkcode startWebServer}. */
export interface WebServerOptions {
  /** The address to listen on. */
  hostname: string;
  /** The port (0: any free port). */
  port: number;
  /** The page's files. */
  files: PageFiles;
  /** The first events of each new live channel: what the page needs to draw itself. */
  greeting: () => LiveEvent[];
  /** The calls, by name. */
  api: Record<string, ApiHandler>;
  /** The token (default: a new random one). */
  token?: string;
  /** Largest request body taken, in bytes (default 16 KiB). */
  maxBodyBytes?: number;
  /** Where a call that failed unexpectedly (answered 500) is told. */
  onError?: (error: unknown) => void;
}

/** A running page server. */
export interface WebServer {
  /** The page's address with its token: what the user opens. */
  readonly url: string;
  /** The port it listens on. */
  readonly port: number;
  /** Sends an event to every open page. */
  send(event: string, data: unknown): void;
  /** Ends the live channels and stops the server. */
  close(): Promise<void>;
}

/** How long closing waits for requests still running. */
const CLOSE_GRACE_MS = 1000;

/** Headers on every answer: no framing, no scripts or styles from elsewhere, no referrer. */
const SAFE_HEADERS = {
  "content-security-policy": "default-src 'none'; script-src 'self'; style-src 'self'; " +
    "img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; " +
    "frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "cache-control": "no-store",
};

/**
 * Starts a page server, listening when it returns; throws `Deno.errors.AddrInUse` for a port in use.
 *
 * @example
 * ```ts
 * import { startWebServer } from "./web_server.ts";
 * const index = { body: new TextEncoder().encode("<p>hi</p>"), type: "text/html" };
 * const server = startWebServer({
 *   hostname: "127.0.0.1",
 *   port: 0,
 *   files: new Map([["index.html", index]]),
 *   greeting: () => [],
 *   api: { echo: (body) => body },
 * });
 * console.log((await fetch(server.url)).status); // 200
 * console.log((await fetch(`http://127.0.0.1:${server.port}/`)).status); // 403: no token
 * await server.close();
 * ```
 */
export function startWebServer(options: WebServerOptions): WebServer {
  const token = options.token ?? newToken();
  const hub = new EventHub();
  const maxBody = options.maxBodyBytes ?? 16 * 1024;
  // Bound before it returns: the guard, which needs the port, exists before any request is read.
  const server = Deno.serve({
    hostname: options.hostname,
    port: options.port,
    onListen: () => {},
  }, async (request) => {
    const answer = await route(request);
    for (const [name, value] of Object.entries(SAFE_HEADERS)) answer.headers.set(name, value);
    return answer;
  });
  const port = server.addr.port;
  const guard = new WebGuard({ token, port, names: [options.hostname] });

  const route = async (request: Request): Promise<Response> => {
    const path = new URL(request.url).pathname;
    const call = /^\/api\/([a-z]+)$/.exec(path);
    const access: Access = call || path === "/events" ? "act" : "read";
    const refusal = guard.refusal(request, access);
    if (refusal) return text(403, refusal);
    if (call) {
      if (request.method !== "POST") return text(405, "use POST", { allow: "POST" });
      return await answerCall(request, options.api[call[1]], maxBody, options.onError);
    }
    if (request.method !== "GET" && request.method !== "HEAD") {
      return text(405, "use GET", { allow: "GET, HEAD" });
    }
    if (path === "/events") return hub.open(options.greeting());
    const file = options.files.get(path === "/" ? "index.html" : path.slice(1));
    if (!file) return text(404, `no ${path} here`);
    const headers: Record<string, string> = { "content-type": file.type };
    // The first load, with the token in its URL, lets the page's own requests in by cookie.
    if (guard.tokenInUrl(request)) headers["set-cookie"] = guard.cookie();
    return new Response(request.method === "HEAD" ? null : file.body, { headers });
  };

  const shown = options.hostname === "0.0.0.0"
    ? "127.0.0.1"
    : options.hostname === "::"
    ? "::1"
    : options.hostname;
  const host = shown.includes(":") ? `[${shown}]` : shown;
  return {
    url: `http://${host}:${port}/?token=${token}`,
    port,
    send: (event, data) => hub.send(event, data),
    close: async () => {
      hub.close();
      // Requests still running (a body trickling in) are given a second, not the rest of time.
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<void>((resolve) => timer = setTimeout(resolve, CLOSE_GRACE_MS));
      await Promise.race([server.shutdown(), late]);
      clearTimeout(timer);
    },
  };
}

/** Runs one call: its body read (bounded) and parsed, its answer or error as JSON. */
async function answerCall(
  request: Request,
  handler: ApiHandler | undefined,
  maxBody: number,
  onError?: (error: unknown) => void,
): Promise<Response> {
  try {
    if (!handler) throw new WebRequestError("no such call", 404);
    const type = request.headers.get("content-type") ?? "";
    if (!/^application\/json\s*(;|$)/i.test(type)) {
      throw new WebRequestError("send the body as application/json", 415);
    }
    const body = await readBody(request, maxBody);
    let value: unknown;
    try {
      value = JSON.parse(body);
    } catch (error) {
      throw new WebRequestError(`the body is not JSON: ${(error as Error).message}`);
    }
    return json(200, (await handler(value)) ?? {});
  } catch (error) {
    await request.body?.cancel().catch(() => {});
    if (error instanceof WebRequestError) return json(error.status, { error: error.message });
    onError?.(error);
    return json(500, { error: "the peer failed to do it; its log says why" });
  }
}

/** The body as text, or a 413 once it passes `max` bytes (nothing more is read). */
async function readBody(request: Request, max: number): Promise<string> {
  const tooLarge = () => new WebRequestError(`the body is over ${max} bytes`, 413);
  if (Number(request.headers.get("content-length") ?? 0) > max) throw tooLarge();
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (request.body) {
    for await (const chunk of request.body) {
      size += chunk.byteLength;
      if (size > max) throw tooLarge();
      chunks.push(chunk);
    }
  }
  return new TextDecoder().decode(concatBytes(...chunks));
}

function text(status: number, message: string, headers: Record<string, string> = {}): Response {
  return new Response(`${status}: ${message}\n`, {
    status,
    headers: { "content-type": "text/plain; charset=utf-8", ...headers },
  });
}

function json(status: number, value: unknown): Response {
  return new Response(JSON.stringify(value), {
    status,
    headers: { "content-type": "application/json" },
  });
}
