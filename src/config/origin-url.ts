// An origin's URL, checked and split into what the origin pool needs: "https://host:port" and a base path.

import { isServerName } from "./names.ts";

export interface OriginUrl {
  /** "https://host:port", always with the port; IPv6 hosts in brackets. */
  origin: string;
  /** Without brackets, as tls.connect wants it. */
  hostname: string;
  port: number;
  /** "" or "/base/path", without a trailing slash. */
  basePath: string;
}

export type OriginUrlResult = { ok: true; url: OriginUrl } | { ok: false; problem: string };

/**
 * Origins are reached over mTLS only, so the scheme is https. A query or fragment has no
 * meaning for a base URL, and userinfo would be a shared secret: the edge authenticates with
 * its client certificate instead.
 */
export function parseOriginUrl(text: string): OriginUrlResult {
  if (/\s/.test(text)) return fail("must not contain spaces");
  const url = URL.parse(text);
  if (url === null && /^https:\/\//i.test(text)) return fail("is not a valid URL (check the host and the port, 1-65535)");
  if (url === null || url.protocol !== "https:") return fail("must be an https:// URL");
  if (url.username !== "" || url.password !== "") {
    return fail("must not include a user name or password (the edge authenticates with its client certificate)");
  }
  // Checked on the text, because URL drops an empty "?" or "#".
  if (text.includes("?")) return fail("must not include a query string");
  if (text.includes("#")) return fail("must not include a fragment");
  const hostname = url.hostname.replace(/^\[(.*)\]$/, "$1");
  if (!isServerName(hostname) && !url.hostname.startsWith("[")) {
    return fail("must have a hostname or an IP address as its host");
  }
  const port = url.port === "" ? 443 : Number(url.port);
  const basePath = url.pathname.replace(/\/+$/, "");
  return { ok: true, url: { origin: `https://${url.hostname}:${port}`, hostname, port, basePath } };
}

function fail(problem: string): OriginUrlResult {
  return { ok: false, problem };
}
