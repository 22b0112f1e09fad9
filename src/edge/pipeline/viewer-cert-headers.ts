// What the origin learns about the viewer's certificate: Moat-Viewer-Cert-* fields, RFC 9440 Client-Cert and Client-Cert-Chain, optionally Envoy's x-forwarded-client-cert; and the names stripped from every viewer request.
import type { IncomingHttpHeaders } from "node:http";
import type { ViewerMtlsConfig } from "../../config/index.ts";
import { foldedHeaderName } from "../../guard/header-spelling.ts";
import type { ViewerCertificate, ViewerCertVerification } from "../../tls/index.ts";

/** Moat's own prefix, lower-case as HTTP/2 sends field names. */
export const VIEWER_CERT_HEADER_PREFIX = "moat-viewer-cert-";

// RFC 9440 §4 (and Envoy's docs for XFCC): a proxy must remove these from what viewers send, or a
// viewer could claim any certificate it likes.
const FOREIGN_CERT_HEADERS = new Set(["client-cert", "client-cert-chain", "x-forwarded-client-cert"]);

/**
 * True for every header name that carries viewer-certificate facts, in any case and with "_" for "-"
 * (an app behind CGI, PHP, WSGI or Rack reads Moat_Viewer_Cert_Verify as Moat-Viewer-Cert-Verify):
 * stripped from viewer requests, whatever the mode.
 */
export function isViewerCertificateHeader(name: string): boolean {
  const folded = foldedHeaderName(name);
  return folded.startsWith(VIEWER_CERT_HEADER_PREFIX) || FOREIGN_CERT_HEADERS.has(folded);
}

/**
 * The identity headers a cache key may use (everything of Moat's set but the PEM), in this order.
 * A cache key that names one of these reads it from RequestFacts.viewerIdentity, never from the viewer's own headers.
 */
export const VIEWER_IDENTITY_HEADER_NAMES = [
  "moat-viewer-cert-present",
  "moat-viewer-cert-verify",
  "moat-viewer-cert-subject",
  "moat-viewer-cert-issuer",
  "moat-viewer-cert-serial",
  "moat-viewer-cert-sha256",
  "moat-viewer-cert-not-before",
  "moat-viewer-cert-not-after",
  "moat-viewer-cert-sans",
] as const;

export type ViewerIdentityHeaderName = (typeof VIEWER_IDENTITY_HEADER_NAMES)[number];

/**
 * The identity of the viewer as header values (no PEM): what Moat forwards and what a cache key may use.
 * @example
 * viewerIdentityFields({ verification: "success", certificate }); // { "moat-viewer-cert-present": "true", "moat-viewer-cert-subject": "CN=alice,O=Partner", … }
 */
export function viewerIdentityFields(identity: { verification: ViewerCertVerification; certificate: ViewerCertificate | null }): Readonly<Partial<Record<ViewerIdentityHeaderName, string>>> {
  const cert = identity.certificate;
  if (!cert) return Object.freeze({ "moat-viewer-cert-present": "false", "moat-viewer-cert-verify": "none" });
  return Object.freeze({
    "moat-viewer-cert-present": "true",
    "moat-viewer-cert-verify": identity.verification,
    "moat-viewer-cert-subject": headerSafe(cert.subject),
    "moat-viewer-cert-issuer": headerSafe(cert.issuer),
    "moat-viewer-cert-serial": cert.serialHex,
    "moat-viewer-cert-sha256": cert.sha256Hex,
    "moat-viewer-cert-not-before": cert.notBefore.toISOString(),
    "moat-viewer-cert-not-after": cert.notAfter.toISOString(),
    "moat-viewer-cert-sans": headerSafe(cert.sans.join(", ")),
  });
}

/**
 * The viewer's request headers as the origin gets them, as far as certificates go: any
 * certificate header the viewer sent removed, the edge's own added. What the cache reads for
 * Vary and keys, so that a viewer cannot pick another viewer's variant by naming its certificate.
 */
export function withEdgeCertificateHeaders(viewerHeaders: IncomingHttpHeaders, edgeHeaders: Readonly<Record<string, string>>): IncomingHttpHeaders {
  const hasSpoofable = Object.keys(viewerHeaders).some(isViewerCertificateHeader);
  if (!hasSpoofable && Object.keys(edgeHeaders).length === 0) return viewerHeaders;
  const headers: IncomingHttpHeaders = {};
  for (const [name, value] of Object.entries(viewerHeaders)) if (!isViewerCertificateHeader(name)) headers[name] = value;
  return Object.assign(headers, edgeHeaders);
}

// Every name viewerCertificateHeaders may set, as an edge sends them (lower case, "-"): what a shield relays.
const RELAYED_CERT_HEADERS = [...VIEWER_IDENTITY_HEADER_NAMES, "moat-viewer-cert-pem", ...FOREIGN_CERT_HEADERS];

/**
 * The certificate headers a fleet edge sent a shield about its own viewer, as the edge spelled them: only the names
 * the edge sets (another spelling, "Moat_Viewer_Cert_Subject", is dropped as from any viewer), each once. For a
 * request from a verified edge only (viewer-request.ts viewerForwardHeaders).
 * @example
 * relayedCertificateHeaders({ "moat-viewer-cert-subject": "CN=alice", accept: "text/html" }); // { "moat-viewer-cert-subject": "CN=alice" }
 */
export function relayedCertificateHeaders(headers: IncomingHttpHeaders): Readonly<Record<string, string>> | null {
  let relayed: Record<string, string> | undefined;
  for (const name of RELAYED_CERT_HEADERS) {
    const value = headers[name];
    if (typeof value === "string") (relayed ??= {})[name] = value;
  }
  return relayed === undefined ? null : Object.freeze(relayed);
}

/**
 * Every certificate header for the origin, per the distribution's forwarding choices.
 * @example
 * Object.assign(originHeaders, viewerCertificateHeaders(identity, distribution.viewerMtls.forward));
 */
export function viewerCertificateHeaders(
  identity: { verification: ViewerCertVerification; certificate: ViewerCertificate | null },
  forward: ViewerMtlsConfig["forward"],
): Record<string, string> {
  const cert = identity.certificate;
  const headers: Record<string, string> = {};
  if (forward.moat) {
    Object.assign(headers, viewerIdentityFields(identity));
    if (cert) headers["moat-viewer-cert-pem"] = encodeURIComponent(cert.pem);
  }
  if (forward.rfc9440 && cert) {
    // RFC 9440 §2.2/§2.3: a Structured Field Byte Sequence (RFC 8941 §3.3.5), and a List of them, leaf excluded.
    headers["client-cert"] = `:${cert.der.toString("base64")}:`;
    if (cert.chainDer.length > 0) headers["client-cert-chain"] = cert.chainDer.map((der) => `:${der.toString("base64")}:`).join(", ");
  }
  if (forward.xfcc && cert) headers["x-forwarded-client-cert"] = xfccElement(cert);
  return headers;
}

// Envoy's format: Key=Value pairs joined by ";"; Subject and Cert are always quoted, URI and DNS repeat per SAN.
function xfccElement(cert: ViewerCertificate): string {
  const quote = (value: string) => `"${value.replace(/["\\]/g, (c) => `\\${c}`)}"`;
  const sans = (prefix: string, key: string) =>
    cert.sans.filter((san) => san.startsWith(`${prefix}:`)).map((san) => `${key}=${quote(headerSafe(san.slice(prefix.length + 1)))}`);
  return [`Hash=${cert.sha256Hex}`, `Cert=${quote(encodeURIComponent(cert.pem))}`, `Subject=${quote(headerSafe(cert.subject))}`, ...sans("URI", "URI"), ...sans("DNS", "DNS")].join(";");
}

// A certificate's names are the viewer's own bytes: anything outside printable ASCII (a CR, an LF,
// UTF-8) is percent-encoded so it can neither break the header nor smuggle another one; "%" too.
function headerSafe(value: string): string {
  return value.replace(/[^\x20-\x24\x26-\x7e]/gu, (c) => encodeURIComponent(c));
}
