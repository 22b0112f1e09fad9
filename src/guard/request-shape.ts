// What the guard forwards must mean the same to the app as to the guard: the request target in origin-form with its Host, one Host, no transfer coding the guard would silently drop.
import type { IncomingMessage } from "node:http";

/** Where the request goes in the app: origin-form path and the Host it is for (undefined: the request had none). */
export interface UpstreamTarget {
  ok: true;
  path: string;
  host: string | undefined;
}

/** A request the guard will not forward, and how to answer it. */
export interface UnforwardableRequest {
  ok: false;
  status: 400 | 501;
  code: "bad-request" | "transfer-coding-not-implemented";
  detail: string;
}

function hostLines(req: IncomingMessage): number {
  let count = 0;
  for (let index = 0; index < req.rawHeaders.length; index += 2) if (req.rawHeaders[index]?.toLowerCase() === "host") count += 1;
  return count;
}

/**
 * The upstream path and Host of an accepted request, or why it is refused. RFC 9112 §3.2: more than
 * one Host line is a 400 (Node keeps the first, an app may keep the last). §3.2.2: an absolute-form
 * target names the host, and a gateway sends origin-form with a Host made from it, so the app cannot
 * read a host other than the one the guard forwarded for. §6.1: a transfer coding other than chunked
 * is a 501 (Node's parser removes only the chunking; the app would get gzip bytes as the body).
 */
export function upstreamTarget(req: IncomingMessage): UpstreamTarget | UnforwardableRequest {
  if (hostLines(req) > 1) return { ok: false, status: 400, code: "bad-request", detail: "the request has more than one Host line" };
  const codings = req.headers["transfer-encoding"];
  if (codings !== undefined && codings.trim().toLowerCase() !== "chunked") {
    return { ok: false, status: 501, code: "transfer-coding-not-implemented", detail: `the guard forwards only Transfer-Encoding: chunked, not ${JSON.stringify(codings.slice(0, 100))}` };
  }
  const target = req.url ?? "/";
  if (target.startsWith("/")) return { ok: true, path: target, host: req.headers.host };
  let url: URL | undefined;
  try {
    url = /^https?:\/\//i.test(target) ? new URL(target) : undefined;
  } catch {
    url = undefined;
  }
  if (!url || url.username || url.password) return { ok: false, status: 400, code: "bad-request", detail: `the request target ${JSON.stringify(target.slice(0, 100))} is neither a path nor an http(s) URL` };
  return { ok: true, path: `${url.pathname}${url.search}`, host: url.host };
}
