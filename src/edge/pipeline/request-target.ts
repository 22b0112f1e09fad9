// Checks the request head before routing: one Host, a Host that agrees with :authority, the target in origin-form (absolute-form read as RFC 9112 says), and no dot-segment or encoding that would let a path dodge its behavior.
import type { IncomingHttpHeaders } from "node:http";
import type { EdgeErrorCode } from "./moat-error-values.ts";

/**
 * `pathname` as sent (what the router, the cache key and the origin get); `normalised` the path as the
 * most lenient origin reads it (see normalisedPath), the same string when nothing in it is ambiguous.
 */
export type RequestTarget = { ok: true; pathname: string; normalised: string } | { ok: false; problem: string };

/** The authority and origin-form target a request is for, or why it is malformed (400) or not for this port (421). */
export type RequestHead = { ok: true; authority: string | undefined; path: string } | { ok: false; status: 400 | 421; code: EdgeErrorCode; problem: string };

/** What readRequestHead needs of a request (Node's IncomingMessage and Http2ServerRequest both have it). */
export interface RequestHeadInput {
  httpVersionMajor: number;
  url?: string | undefined;
  headers: IncomingHttpHeaders;
  rawHeaders: readonly string[];
}

// "/../" and "/./" (also percent-encoded: %2e) are resolved by most origins (RFC 3986 §5.2.4), so
// "/static/../admin/x" would match the /static/* behavior here and reach /admin/x there.
// Refusing them, as Envoy's path normalization and CloudFront do, keeps routing and origin in agreement.
const dotSegment = /(^|\/)(\.|%2e){1,2}(\/|$|\?)/i;

// What origins read differently from a router that matches the path as sent: a percent-encoding (nginx,
// Express and most frameworks decode it, %2F included), "\" (a separator to IIS and some Node routers),
// ";" (Tomcat and Spring cut a segment's path parameters off, so "/static/..;/admin" is "/admin" there)
// and "//" (nginx merges slashes). "/static/..%2fadmin" or "/%61pi/x" matched /static/* or * here and
// reached /admin or /api/x there: cached, or sent to another origin, under the wrong behavior.
const ambiguousInPath = /[%\\;]|\/\//;

/** Problem of a path whose normalised reading routes to another behavior than the path as sent. */
export const AMBIGUOUS_PATH_PROBLEM =
  "the path names another cache behavior once decoded (percent-encodings, \\, ;parameters or // read as origins read them); send the decoded path";

// RFC 9112 §3.2.2: "http" or "https" "://" authority, then path-abempty and the query.
const absoluteForm = /^(https?):\/\/([^/?#]*)([^#]*)$/i;

/**
 * @example
 * checkRequestTarget("/static/a.css?v=1"); // { ok: true, pathname: "/static/a.css", normalised: "/static/a.css" }
 * checkRequestTarget("/static/..;/admin"); // { ok: false, problem: "…" }
 */
export function checkRequestTarget(url: string): RequestTarget {
  if (url.charCodeAt(0) !== 47 /* "/" */) {
    return { ok: false, problem: "the request target must be a path starting with / (origin-form, RFC 9112 §3.2.1)" };
  }
  const query = url.indexOf("?");
  const pathname = query === -1 ? url : url.slice(0, query);
  // Nearly every path: no %, \, ;, // or /. in it, so nothing to decode and no dot-segment: no regular expression runs.
  if (isPlainPath(pathname)) return { ok: true, pathname, normalised: pathname };
  const normalised = normalisedPath(pathname);
  if (dotSegment.test(normalised)) return { ok: false, problem: "the path has a . or .. segment (also spelled %2e, or next to %2F, \\ or ;); send the resolved path" };
  return { ok: true, pathname, normalised };
}

/**
 * Whether a path has nothing normalisedPath would change and no dot-segment, checked in one pass: none of "%", "\\"
 * and ";", and no "/" followed by "/" or ".". A dot-segment needs a "." right after a "/" (the path starts with one)
 * or a %2e; what normalisedPath changes needs "%", "\\", ";" or "//".
 */
function isPlainPath(pathname: string): boolean {
  let previous = 0;
  for (let index = 0; index < pathname.length; index++) {
    const code = pathname.charCodeAt(index);
    if (code === 37 /* % */ || code === 92 /* \ */ || code === 59 /* ; */) return false;
    if (previous === 47 /* / */ && (code === 47 || code === 46 /* . */)) return false;
    previous = code;
  }
  return true;
}

/**
 * The path as the most lenient origin reads it: ASCII percent-encodings decoded once, "\" as "/",
 * ";parameters" cut from each segment, runs of "/" merged. Only for checks (dot-segments, which
 * behavior it routes to): the origin and the cache key get the path as sent. A path with none of
 * those characters (nearly all) is returned as is, with no work.
 * @example
 * normalisedPath("/static/..;/admin"); // "/static/../admin"
 * normalisedPath("/%61pi//x");         // "/api/x"
 */
export function normalisedPath(pathname: string): string {
  if (!ambiguousInPath.test(pathname)) return pathname;
  return pathname
    .replace(/%([0-9a-f]{2})/gi, (encoded, hex: string) => {
      const code = Number.parseInt(hex, 16);
      // Non-ASCII bytes stay encoded: a pattern names ASCII paths, and half a UTF-8 sequence decodes to nothing useful.
      return code < 0x80 ? String.fromCharCode(code) : encoded;
    })
    .replaceAll("\\", "/")
    .replace(/;[^/]*/g, "")
    .replace(/\/{2,}/g, "/");
}

/**
 * The authority the request is for (what must name the connection's distribution) and its target in origin-form.
 * @example
 * readRequestHead(req); // { ok: true, authority: "shop.test", path: "/a?b" } for "GET https://shop.test/a?b HTTP/1.1"
 */
export function readRequestHead(req: RequestHeadInput): RequestHead {
  // RFC 9112 §3.2: "A server MUST respond with a 400 (Bad Request) status code to any HTTP/1.1 request
  // message that lacks a Host header field and to any request message that contains more than one
  // Host header field line". Node keeps the first; an origin or a cache may read the last.
  if (hostLines(req.rawHeaders) > 1) return malformed("duplicate-host", "the request has more than one Host header line; send one");
  const url = req.url ?? "";
  if (req.httpVersionMajor === 2) {
    const authority = req.headers[":authority"] as string | undefined;
    const host = req.headers.host;
    // RFC 9113 §8.3.1: a Host that names another entity than :authority makes the request malformed.
    if (authority !== undefined && host !== undefined && !isSameAuthority(authority, host)) {
      return malformed("host-authority-mismatch", "the Host header names another authority than :authority; send one, or the same in both");
    }
    return { ok: true, authority: authority ?? host, path: url };
  }
  // Origin-form (nearly every request): absolute-form starts with a scheme, so the expression is not run.
  if (url.charCodeAt(0) === 47 /* / */) return { ok: true, authority: req.headers.host, path: url };
  const absolute = absoluteForm.exec(url);
  if (!absolute) return { ok: true, authority: req.headers.host, path: url };
  // RFC 9112 §3.2.2: the target's authority replaces Host, whatever Host says; the origin gets origin-form.
  const [, scheme = "", authority = "", rest = ""] = absolute;
  if (authority.includes("@")) return malformed("bad-request-target", "the request target has userinfo (user@host); send the path, or a URL without credentials");
  if (authority === "") return malformed("bad-request-target", "the request target's URL has no host");
  if (scheme.toLowerCase() !== "https") return { ok: false, status: 421, code: "misdirected-request", problem: "this port serves https:// URLs only" };
  return { ok: true, authority, path: rest === "" || rest.startsWith("?") ? `/${rest}` : rest };
}

function malformed(code: EdgeErrorCode, problem: string): RequestHead {
  return { ok: false, status: 400, code, problem };
}

function hostLines(rawHeaders: readonly string[]): number {
  let count = 0;
  // Only a four-letter name can be Host: compared letter by letter in either case (| 0x20 folds only A-Z here), no lowercased copy.
  for (let index = 0; index < rawHeaders.length; index += 2) {
    const name = rawHeaders[index] as string;
    if (name.length === 4 && (name.charCodeAt(0) | 0x20) === 104 && (name.charCodeAt(1) | 0x20) === 111 && (name.charCodeAt(2) | 0x20) === 115 && (name.charCodeAt(3) | 0x20) === 116) count += 1;
  }
  return count;
}

// The same entity: names compared case-insensitively, an explicit :443 the same as none (RFC 9110 §4.2.2).
function isSameAuthority(a: string, b: string): boolean {
  const normal = (authority: string) => authority.toLowerCase().replace(/:443$/, "");
  return normal(a) === normal(b);
}
