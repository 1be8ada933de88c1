/**
 * Who may use a peer's page: the checks every request to it passes before anything is served.
 * The page can send chat lines and fetch files as this peer, so a request must carry the token
 * printed at start (in the URL as Jupyter does, or in the cookie the first tokened load sets so
 * that the page's own requests need not repeat it); its `Host` must name this server by address
 * or as `localhost` (a DNS name rebound to 127.0.0.1 by a web site gets nothing); and the live
 * channel and the calls that act must come from the page itself (`Origin`, `Sec-Fetch-Site`).
 *
 * @module
 */
import { toHex } from "@meshtalk/core";

/** Random bytes in a token: 256 bits, far past guessing. */
const TOKEN_BYTES = 32;

/**
 * A new token: 64 hex characters from the system's random source.
 *
 * @example
 * ```ts
 * import { newToken } from "./web_auth.ts";
 * console.log(newToken().length); // 64
 * ```
 */
export function newToken(): string {
  return toHex(crypto.getRandomValues(new Uint8Array(TOKEN_BYTES)));
}

/** What a request is allowed to do, once it passed the checks. */
export type Access =
  /** Read the page (GET of its files). */
  | "read"
  /** Open the live channel or call the API: also from the page itself, not another site. */
  | "act";

/** Options of a {@linkcode WebGuard}. */
export interface WebGuardOptions {
  /** The token requests must carry. */
  token: string;
  /** The port the server listens on: the `Host` of a request names it. */
  port: number;
  /** Host names the user gave (`--web name:port`), allowed besides addresses and `localhost`. */
  names?: string[];
}

/**
 * The checks of one page server: token, `Host`, `Origin`.
 *
 * @example
 * ```ts
 * import { WebGuard } from "./web_auth.ts";
 * const guard = new WebGuard({ token: "ab".repeat(32), port: 8080 });
 * const headers = { host: "127.0.0.1:8080" };
 * const tokened = new Request(`http://127.0.0.1:8080/?token=${"ab".repeat(32)}`, { headers });
 * console.log(guard.refusal(tokened, "read")); // null: allowed
 * console.log(guard.refusal(new Request("http://127.0.0.1:8080/", { headers }), "read"));
 * // "this page needs the token meshtalk printed with its address (…/?token=…)"
 * ```
 */
export class WebGuard {
  /** The cookie that carries the token: one per port, as cookies are shared by all ports of a host. */
  readonly cookieName: string;
  readonly #token: string;
  readonly #port: number;
  readonly #names: Set<string>;

  /** A guard that lets in requests with `options.token` to `options.port`. */
  constructor(options: WebGuardOptions) {
    this.#token = options.token;
    this.#port = options.port;
    this.#names = new Set(["localhost", ...(options.names ?? []).map((n) => n.toLowerCase())]);
    this.cookieName = `meshtalk-web-${options.port}`;
  }

  /** Why `request` is refused (a sentence for the 403 answer), or null when it may go on. */
  refusal(request: Request, access: Access): string | null {
    const host = request.headers.get("host");
    if (!this.hostAllowed(host)) {
      return `Host "${host ?? ""}" is not this server: open the address meshtalk printed`;
    }
    if (!this.hasToken(request)) {
      return "this page needs the token meshtalk printed with its address (…/?token=…)";
    }
    if (access === "act" && !fromPage(request, host!)) {
      return "only the page itself may use this (another site's Origin)";
    }
    return null;
  }

  /** True when `request` carries the token, in its URL or its cookie. */
  hasToken(request: Request): boolean {
    const given = new URL(request.url).searchParams.get("token") ||
      cookieValue(request.headers.get("cookie"), this.cookieName);
    return given !== null && sameText(given, this.#token);
  }

  /** True when the URL of `request` carries the token: its answer may set the cookie. */
  tokenInUrl(request: Request): boolean {
    const given = new URL(request.url).searchParams.get("token");
    return given !== null && sameText(given, this.#token);
  }

  /**
   * The `Set-Cookie` value that lets the page's own requests in: sent to this site only
   * (`SameSite=Strict`), never readable by scripts (`HttpOnly`), gone when the browser closes.
   */
  cookie(): string {
    return `${this.cookieName}=${this.#token}; Path=/; HttpOnly; SameSite=Strict`;
  }

  /**
   * True when a `Host` header names this server: its port, and an IP address, `localhost` or a
   * name the user gave. A name resolved by someone else's DNS (rebinding) is refused.
   */
  hostAllowed(host: string | null): boolean {
    if (!host) return false;
    const match = /^(\[[0-9a-f:.]+\]|[^:\[\]]+)(?::(\d{1,5}))?$/i.exec(host);
    if (!match) return false;
    const port = match[2] === undefined ? 80 : Number(match[2]);
    if (port !== this.#port) return false;
    const name = match[1].toLowerCase();
    return name.startsWith("[") || /^\d{1,3}(\.\d{1,3}){3}$/.test(name) || this.#names.has(name);
  }
}

/**
 * True when a request comes from a page of the same origin, or from no page (a program, an
 * address typed by hand): a browser says which site a request comes from in `Origin` and
 * `Sec-Fetch-Site`, and whatever it says must be this server.
 */
function fromPage(request: Request, host: string): boolean {
  const origin = request.headers.get("origin");
  if (origin !== null && origin.toLowerCase() !== `http://${host.toLowerCase()}`) return false;
  const site = request.headers.get("sec-fetch-site");
  return site === null || site === "same-origin" || site === "none";
}

/** The value of cookie `name` in a `Cookie` header, or null. */
function cookieValue(header: string | null, name: string): string | null {
  for (const part of header?.split(";") ?? []) {
    const at = part.indexOf("=");
    if (at > 0 && part.slice(0, at).trim() === name) return part.slice(at + 1).trim();
  }
  return null;
}

/** Compares two strings in time that does not depend on where they differ. */
function sameText(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return difference === 0;
}
