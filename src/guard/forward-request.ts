// Forwards an accepted request to the origin app behind the guard, streaming both ways (undici), with the edge's identity in headers the app can trust.
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";
import { pipeline } from "node:stream/promises";
import type { Dispatcher } from "undici";
import type { EdgeIdentity } from "./edge-identity.ts";
import { foldedHeaderName } from "./header-spelling.ts";
import type { UpstreamTarget } from "./request-shape.ts";

/**
 * The headers the guard sets; any header starting with `moat-edge-` that arrives from outside is
 * dropped first, so the app can trust these (also when spelled with `_`: see isGuardSetHeader).
 */
export const IDENTITY_HEADERS = {
  spiffeId: "moat-edge-identity",
  distributionId: "moat-edge-distribution",
  originId: "moat-edge-origin",
  serialHex: "moat-edge-certificate-serial",
} as const;
const IDENTITY_PREFIX = "moat-edge-";

// RFC 9110 §7.6.1: Connection, the fields it lists, and the classic hop-by-hop fields stay on their hop.
// Expect is answered by this hop (Node's server sends 100 Continue itself).
const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization", "te", "trailer", "transfer-encoding", "upgrade", "expect"]);

/**
 * A header the guard sets, in any spelling: CGI, WSGI, PHP and Rack name headers HTTP_MOAT_EDGE_IDENTITY,
 * folding "-" and "_" together, so `moat_edge_identity` from outside would reach such an app as the
 * guard's own header (the class of CVE-2024-45614 in Puma).
 */
function isGuardSetHeader(name: string): boolean {
  const folded = foldedHeaderName(name);
  return folded.startsWith(IDENTITY_PREFIX) || (folded === "x-forwarded-for" && name !== folded);
}

function connectionListed(headers: IncomingHttpHeaders | Record<string, string | string[] | undefined>): Set<string> {
  const value = headers.connection;
  const text = Array.isArray(value) ? value.join(",") : (value ?? "");
  return new Set(text.split(",").map((token) => token.trim().toLowerCase()).filter(Boolean));
}

/** Request headers for the app: hop-by-hop fields and every incoming `moat-edge-*` removed, the identity and X-Forwarded-For set. */
export function upstreamRequestHeaders(req: IncomingMessage, identity: EdgeIdentity, host: string | undefined): Record<string, string | string[]> {
  const listed = connectionListed(req.headers);
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || listed.has(name) || isGuardSetHeader(name) || name === "host") continue;
    headers[name] = value;
  }
  if (host !== undefined) headers.host = host;
  for (const [field, header] of Object.entries(IDENTITY_HEADERS)) headers[header] = identity[field as keyof typeof IDENTITY_HEADERS];
  const peer = req.socket.remoteAddress ?? "unknown";
  const forwardedFor = req.headers["x-forwarded-for"];
  headers["x-forwarded-for"] = forwardedFor ? `${forwardedFor}, ${peer}` : peer;
  return headers;
}

/** Response headers for the edge: the app's, less hop-by-hop fields and those its Connection names. */
export function responseHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string | string[]> {
  const listed = connectionListed(headers);
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || listed.has(name)) continue;
    out[name] = value;
  }
  return out;
}

/** Why forwarding failed, for the 502 and the log; the app's own answer, whatever its status, is never a failure. */
export interface ForwardFailure {
  code: "upstream-unreachable" | "upstream-failed";
  detail: string;
}

/**
 * Sends the request to the app and streams its answer back; resolves with the app's status, or
 * the failure after answering 502 (or destroying the response if it had already started).
 */
export async function forwardRequest(upstream: Dispatcher, req: IncomingMessage, res: ServerResponse, identity: EdgeIdentity, target: UpstreamTarget): Promise<number | ForwardFailure> {
  const hasBody = req.headers["content-length"] !== undefined || req.headers["transfer-encoding"] !== undefined;
  let answer: Dispatcher.ResponseData;
  try {
    answer = await upstream.request({
      path: target.path,
      method: (req.method ?? "GET") as Dispatcher.HttpMethod,
      headers: upstreamRequestHeaders(req, identity, target.host),
      body: hasBody ? req : null,
    });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? "";
    const failure: ForwardFailure = { code: /ECONNREFUSED|ENOTFOUND|EAI_AGAIN|UND_ERR_CONNECT/.test(code) ? "upstream-unreachable" : "upstream-failed", detail: `${code} ${(error as Error).message}`.trim() };
    if (!res.headersSent) {
      res.writeHead(502, { "content-type": "text/plain; charset=utf-8", "moat-guard-error": failure.code });
      res.end(`502 Bad Gateway: ${failure.code}\n`);
    } else res.destroy();
    return failure;
  }
  res.writeHead(answer.statusCode, responseHeaders(answer.headers));
  try {
    await pipeline(answer.body, res);
  } catch (error) {
    res.destroy();
    return { code: "upstream-failed", detail: `the response body broke off (${(error as Error).message})` };
  }
  return answer.statusCode;
}
