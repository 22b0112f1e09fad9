// Which viewer request header names may reach the origin: names Moat sets or an origin may trust never do, in any spelling; other names with "_" only where the distribution forwards them.
import type { IncomingHttpHeaders } from "node:http";
import type { UnderscoreHeaders } from "../../config/index.ts";
import { foldedHeaderName } from "../../guard/header-spelling.ts";
import { isViewerCertificateHeader } from "./viewer-cert-headers.ts";

// Fields the edge sets or appends to itself (forwarded-headers.ts). A viewer's own value arrives under
// the canonical spelling, where the edge appends to it (X-Forwarded-For, Via) or replaces it; spelled
// with "_" it would reach a CGI-style app as a second value beside the edge's, so it never goes on.
const EDGE_SET_HEADERS = new Set(["x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "via"]);

// Fields that tell an origin the request is for another URL, method, host, scheme or port than the one
// it received. Frameworks honour them (Symfony and IIS X-Original-URL/X-Rewrite-URL, Spring and Rails
// Forwarded and X-Forwarded-Port/-Prefix, Express and Laravel method overrides), and the cache keys the
// request by what the edge saw: a viewer's "GET /static/a.js" with "X-Original-URL: /admin" was stored
// under /static/a.js for everyone. Only a proxy may say these, and the edge says its own forwarding
// facts in X-Forwarded-*; so no viewer's value goes on, in any spelling.
const REQUEST_OVERRIDE_HEADERS = new Set([
  "forwarded",
  "x-original-url",
  "x-rewrite-url",
  "x-original-uri",
  "x-original-host",
  "x-host",
  "x-forwarded-server",
  "x-forwarded-port",
  "x-forwarded-prefix",
  "x-forwarded-scheme",
  "x-forwarded-ssl",
  "x-url-scheme",
  "front-end-https",
  "x-http-method-override",
  "x-http-method",
  "x-method-override",
]);

// The moat- namespace is Moat's: Moat-Viewer-Cert-* from the edge, Moat-Edge-* from the guard, and
// whatever comes later. An origin may trust any of it, so no viewer may send any of it.
const MOAT_PREFIX = "moat-";

/** Why a viewer header does not reach the origin; null when it does. */
export type DroppedBecause = "edge-owned" | "underscore" | null;

/**
 * @example
 * viewerHeaderDrop("Moat_Viewer_Cert_Verify", "forward"); // "edge-owned": never, whatever the setting
 * viewerHeaderDrop("x_api_key", "drop");                  // "underscore": nginx's underscores_in_headers off
 * viewerHeaderDrop("x-api-key", "drop");                  // null
 */
export function viewerHeaderDrop(name: string, underscoreHeaders: UnderscoreHeaders): DroppedBecause {
  const verdicts = underscoreHeaders === "drop" ? verdictsWhenDropping : verdictsWhenForwarding;
  const known = verdicts.get(name);
  if (known !== undefined) return known;
  const verdict = judgeHeaderName(name, underscoreHeaders);
  // Bounded: a viewer choosing new names for every request fills it once, then those names are judged each time.
  if (verdicts.size < VERDICT_CACHE_NAMES) verdicts.set(name, verdict);
  return verdict;
}

// The verdict depends only on the name and the setting, and viewers send the same few names: judged once each.
const VERDICT_CACHE_NAMES = 1024;
const verdictsWhenDropping = new Map<string, DroppedBecause>();
const verdictsWhenForwarding = new Map<string, DroppedBecause>();

function judgeHeaderName(name: string, underscoreHeaders: UnderscoreHeaders): DroppedBecause {
  const folded = foldedHeaderName(name);
  if (folded.startsWith(MOAT_PREFIX) || isViewerCertificateHeader(folded) || REQUEST_OVERRIDE_HEADERS.has(folded)) return "edge-owned";
  const hasUnderscore = folded !== name.toLowerCase();
  if (hasUnderscore && EDGE_SET_HEADERS.has(folded)) return "edge-owned";
  if (hasUnderscore && underscoreHeaders === "drop") return "underscore";
  return null;
}

const NONE_DROPPED: readonly string[] = Object.freeze([]);

/**
 * The viewer's headers less those that must not reach the origin, and the names dropped (for a debug
 * line). Both the origin request and the cache (Vary, key headers) read the kept ones, so a cached
 * variant is chosen by exactly what the origin saw.
 * @example
 * const { headers, dropped } = screenViewerHeaders(req.headers, distribution.underscoreHeaders);
 */
export function screenViewerHeaders(headers: IncomingHttpHeaders, underscoreHeaders: UnderscoreHeaders): { headers: IncomingHttpHeaders; dropped: readonly string[] } {
  let dropped: string[] | undefined;
  for (const name in headers) if (viewerHeaderDrop(name, underscoreHeaders) !== null) (dropped ??= []).push(name);
  // Nearly every request: nothing dropped, and nothing made for it but the answer.
  if (dropped === undefined) return { headers, dropped: NONE_DROPPED };
  // A Set: a viewer may send up to 2000 header lines (Node's maxHeadersCount), so no quadratic scan.
  const isDropped = new Set(dropped);
  const kept: IncomingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) if (!isDropped.has(name)) kept[name] = value;
  return { headers: kept, dropped };
}
