// Header policy between viewer and origin: hop-by-hop fields removed (RFC 9110 §7.6.1), forwarding fields set.
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http";
import { RequestTrace } from "../../observe/index.ts";
import { viewerHeaderDrop } from "./viewer-header-names.ts";

// RFC 9110 §7.6.1: "Connection", the fields it names, and these legacy/hop fields are not forwarded.
// Proxy-Authorization and Proxy-Authenticate belong to a hop too; Expect is answered by the edge itself;
// HTTP2-Settings belongs to the h2c upgrade.
export const HOP_BY_HOP_HEADERS = [
  "connection",
  "proxy-connection",
  "keep-alive",
  "te",
  "transfer-encoding",
  "upgrade",
  "proxy-authorization",
  "proxy-authenticate",
  "expect",
  "http2-settings",
  "trailer",
] as const;
const hopByHop = new Set<string>(HOP_BY_HOP_HEADERS);

function connectionListed(headers: IncomingHttpHeaders): ReadonlySet<string> | null {
  const value = headers.connection;
  if (!value) return null;
  let tokens = tokensByConnection.get(value);
  if (tokens === undefined) {
    tokens = new Set(value.split(",").map((token) => token.trim().toLowerCase()).filter(Boolean));
    if (tokensByConnection.size < CONNECTION_VALUES) tokensByConnection.set(value, tokens);
  }
  return tokens;
}

// Viewers and origins send the same few Connection values ("keep-alive", "close"): each is split once. Bounded, as any memo of what a peer sends.
const tokensByConnection = new Map<string, ReadonlySet<string>>();
const CONNECTION_VALUES = 64;

export interface ForwardingFacts {
  /** The viewer's address, appended to X-Forwarded-For. */
  clientAddress: string;
  /** The Host (or :authority) the viewer sent. */
  viewerHost: string;
  /** "1.1" or "2": the viewer's HTTP version, for Via. */
  httpVersion: string;
  /** The request's trace context (traceparent, tracestate); made from the viewer's headers when not given. */
  trace?: RequestTrace;
}

/**
 * Headers to send to the origin: the viewer's end-to-end fields plus X-Forwarded-*, Via, traceparent (the origin client sets Host).
 * @example
 * originRequestHeaders(req.headers, { clientAddress: "203.0.113.9", viewerHost: "shop.test", httpVersion: "1.1" });
 */
export function originRequestHeaders(headers: IncomingHttpHeaders, facts: ForwardingFacts): Record<string, string | string[]> {
  const listed = connectionListed(headers);
  const out: Record<string, string | string[]> = {};
  for (const name in headers) {
    if (name.charCodeAt(0) === 58 /* ":" h2 pseudo-header */ || hopByHop.has(name) || listed?.has(name)) continue;
    // Only the edge speaks about the viewer's certificate (whatever the distribution's mode), and about itself, in any spelling.
    if (viewerHeaderDrop(name, "forward") === "edge-owned" || name === "traceparent" || name === "tracestate") continue;
    const value = headers[name];
    if (value !== undefined) out[name] = value;
  }
  // W3C Trace Context: the viewer's traceparent unchanged when valid (with its tracestate), else a new one.
  const trace = facts.trace ?? new RequestTrace(headers);
  out.traceparent = trace.traceparent;
  const tracestate = trace.tracestate;
  if (tracestate !== undefined) out.tracestate = tracestate;
  // Appended to only as forwarded: a viewer that lists X-Forwarded-For (or Via) in Connection has
  // its value removed with the other listed fields, and the edge's stands alone.
  const forwardedFor = out["x-forwarded-for"];
  out["x-forwarded-for"] = forwardedFor ? `${String(forwardedFor)}, ${facts.clientAddress}` : facts.clientAddress;
  out["x-forwarded-proto"] = "https";
  out["x-forwarded-host"] = facts.viewerHost;
  out.via = appendVia(out.via, facts.httpVersion);
  return out;
}

// RFC 9213: a field targeted at Moat alone is consumed here; CDN-Cache-Control goes on, for whatever CDN is next.
const MOAT_TARGETED_FIELD = "moat-cdn-cache-control";

/** Headers to send to the viewer: the origin's end-to-end fields (less Moat's own cache control) plus Via. */
export function viewerResponseHeaders(headers: Record<string, string | string[] | undefined>, httpVersion: string): OutgoingHttpHeaders {
  const connection = headers.connection;
  const listed = typeof connection === "string" ? connectionListed({ connection }) : null;
  const out: OutgoingHttpHeaders = {};
  for (const name in headers) {
    if (hopByHop.has(name) || listed?.has(name) || name === MOAT_TARGETED_FIELD) continue;
    const value = headers[name];
    if (value !== undefined) out[name] = value;
  }
  out.via = appendVia(headers.via, httpVersion);
  return out;
}

/**
 * viewerResponseHeaders on an object the caller gives away (the cache's own copy of a response's head): changed in
 * place and returned, without another copy.
 * @example
 * res.writeHead(200, toViewerResponseHeaders({ ...stored, age: "3" }, "1.1"));
 */
export function toViewerResponseHeaders(headers: Record<string, string | string[] | undefined>, httpVersion: string): OutgoingHttpHeaders {
  const connection = headers.connection;
  const listed = typeof connection === "string" ? connectionListed({ connection }) : null;
  const via = headers.via;
  for (const name in headers) {
    // Deleting makes an object slow to read; a response from the cache rarely has any of these (they are not stored).
    if (hopByHop.has(name) || listed?.has(name) || name === MOAT_TARGETED_FIELD || headers[name] === undefined) delete headers[name];
  }
  headers.via = appendVia(via, httpVersion);
  return headers as OutgoingHttpHeaders;
}

// RFC 9110 §7.6.3: Via = received-protocol received-by; "HTTP/" may be omitted.
function appendVia(existing: string | string[] | undefined, httpVersion: string): string {
  const ours = `${httpVersion} moat`;
  if (!existing) return ours;
  return `${Array.isArray(existing) ? existing.join(", ") : existing}, ${ours}`;
}
