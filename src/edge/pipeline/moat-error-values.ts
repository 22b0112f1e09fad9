// Every value of the Moat-Error response header: the codes the edge makes itself (listed here, with their status and meaning), the origin failures (src/errors.ts) and the viewer-certificate refusals (src/tls). sendEdgeError takes no other.
import type { OriginFailureCode } from "../../errors.ts";
import type { ClientCertRefusalReason } from "../../tls/index.ts";

/** The codes of errors the edge makes itself, besides origin failures and certificate refusals; docs/reference/headers.md is generated from this list. */
export const EDGE_ERROR_CODES = {
  "misdirected-request": { status: 421, meaning: "the Host (or :authority, or an absolute-form target) names another distribution than SNI did, or an http:// target; open a new connection" },
  "viewer-policy-changed": { status: 421, meaning: "a reload changed the distribution's viewer mTLS mode or CAs after the connection was opened; open a new connection" },
  "tls-version-too-old": { status: 421, meaning: "a resumed TLS 1.2 session (no SNI) bound to a distribution that requires TLS 1.3" },
  "duplicate-host": { status: 400, meaning: "the request has two Host lines" },
  "host-authority-mismatch": { status: 400, meaning: "an HTTP/2 host header names another authority than :authority (RFC 9113 §8.3.1)" },
  "bad-request-target": { status: 400, meaning: "a target with userinfo, a path with a . or .. segment (also encoded), or a path that routes elsewhere once decoded" },
  "request-body-not-allowed": { status: 400, meaning: "a GET or HEAD with a body (Content-Length above 0, Transfer-Encoding, or HTTP/2 DATA)" },
  "no-behavior": { status: 404, meaning: "no behavior of the distribution matches the path" },
  "method-not-allowed": { status: 405, meaning: "the method is not in the behavior's allowedMethods (the Allow header lists them)" },
  "edge-identity-not-accepted": { status: 403, meaning: "on a shield (viewerMtls.edgesOnly): the verified certificate names no edge of this distribution (its URI SAN is not spiffe://<trustDomain>/distribution/<this id>/origin/<id>)" },
  "websocket-not-enabled": { status: 403, meaning: "a WebSocket handshake on a path whose behavior does not set websocket" },
  "response-interrupted": { status: 502, meaning: "logged only (the access log's error field): the response failed after its headers were sent, so the connection or stream is cut short instead" },
  "viewer-gone": { status: 502, meaning: "a WebSocket handshake whose viewer left before the origin answered (nobody reads this answer)" },
  "edge-internal": { status: 502, meaning: "the edge failed before the response began (a bug: the log line with the request id has the stack)" },
} as const satisfies Record<string, { status: number; meaning: string }>;

export type EdgeErrorCode = keyof typeof EDGE_ERROR_CODES;

/** What `Moat-Error` may say. */
export type MoatErrorValue = EdgeErrorCode | OriginFailureCode | ClientCertRefusalReason;
