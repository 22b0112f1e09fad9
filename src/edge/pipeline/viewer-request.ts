// Viewer mTLS in the request pipeline: who the viewer is (for logs, origin headers and cache keys), and the per-request refusals (a path that needs a certificate, a policy or certificate that changed since the handshake).
import type { TLSSocket } from "node:tls";
import { REFUSAL_SUMMARIES } from "../../tls/index.ts";
import type { DistributionRuntime, RoutedBehavior } from "../snapshot/edge-snapshot.ts";
import type { IncomingHttpHeaders } from "node:http";
import { relayedCertificateHeaders, viewerCertificateHeaders, viewerIdentityFields } from "./viewer-cert-headers.ts";
import type { ViewerIdentityHeaderName } from "./viewer-cert-headers.ts";
import { connectionIdentityOf, viewerPolicyKey } from "../viewers/viewer-connection-check.ts";
import type { ViewerConnectionIdentity } from "../viewers/viewer-connection-check.ts";
import type { MoatErrorValue } from "./moat-error-values.ts";

/** The viewer side of a request, read once when it starts. */
export interface ViewerRequestFacts {
  /** As judged after the connection's handshake; undefined for a connection without SNI. */
  readonly identity: ViewerConnectionIdentity | undefined;
  /**
   * The viewer's identity as Moat-Viewer-Cert-* values (no PEM): what a cache key may include.
   * Empty for a distribution whose viewerMtls.mode is off.
   */
  readonly identityFields: Readonly<Partial<Record<ViewerIdentityHeaderName, string>>>;
}

export function viewerRequestFacts(socket: TLSSocket | undefined): ViewerRequestFacts {
  const identity = connectionIdentityOf(socket);
  if (identity === undefined) return NO_IDENTITY;
  let facts = factsByIdentity.get(identity);
  if (facts === undefined) {
    const isMtls = !identity.policyKey.startsWith("off:");
    factsByIdentity.set(identity, (facts = Object.freeze({ identity, identityFields: isMtls ? viewerIdentityFields(identity) : NO_IDENTITY_FIELDS })));
  }
  return facts;
}

// Per connection identity, not per request: every request of a connection has the same (one judgement per handshake).
const NO_IDENTITY_FIELDS: ViewerRequestFacts["identityFields"] = Object.freeze({});
const NO_IDENTITY: ViewerRequestFacts = Object.freeze({ identity: undefined, identityFields: NO_IDENTITY_FIELDS });
const factsByIdentity = new WeakMap<ViewerConnectionIdentity, ViewerRequestFacts>();

export interface ViewerRefusal {
  status: 403 | 421;
  code: MoatErrorValue;
  summary: string;
  /** Set when the operator needs a log line of its own (a shield refusing an edge): what to put in it. */
  logFields?: Record<string, unknown>;
}

/**
 * Null when the request may go on; otherwise the error to answer with.
 * @example
 * const refusal = viewerRefusal(distribution, behavior, facts.viewer); // nowMs: Date.now() when a certificate's expiry is checked
 */
export function viewerRefusal(distribution: DistributionRuntime, behavior: RoutedBehavior, viewer: ViewerRequestFacts, nowMs?: number): ViewerRefusal | null {
  const { mode, trustStore } = distribution.viewerMtls;
  if (mode === "off" && !behavior.requiresViewerCertificate) return null;
  const identity = viewerVerdictFor(distribution, viewer);
  if (identity === undefined) {
    // Judged under another policy (a reload changed the mode or the CAs): the viewer must handshake again.
    return { status: 421, code: "viewer-policy-changed", summary: "this distribution's client-certificate policy changed since the connection was opened; open a new connection" };
  }
  const cert = identity.certificate;
  if (identity.verification === "success" && cert) {
    // A long-lived connection outlives neither a revocation nor the certificate's own expiry.
    if (trustStore?.isRevoked(cert.der)) return refusal("client-cert-revoked");
    // The clock is read only here: a distribution without viewer mTLS (most requests) does not read it.
    if (cert.notAfter.getTime() <= (nowMs ?? Date.now())) return refusal("client-cert-expired");
  }
  if (behavior.requiresViewerCertificate && identity.verification !== "success") return refusal("client-cert-missing");
  const edgePrefix = distribution.viewerMtls.edgeIdentityPrefix;
  if (edgePrefix !== null && !(identity.verification === "success" && cert && isEdgeIdentity(cert.sans, edgePrefix))) return edgeRefusal(cert, edgePrefix);
  return null;
}

// One path segment after the prefix, spelled as pki/names.ts spells an origin id: nothing more below it.
const ORIGIN_SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Whether a URI SAN is `<prefix><origin id>`: an edge certificate Moat's CA issued for this distribution. */
function isEdgeIdentity(sans: readonly string[], prefix: string): boolean {
  for (const san of sans) {
    if (san.startsWith("URI:") && san.startsWith(prefix, 4) && ORIGIN_SEGMENT.test(san.slice(4 + prefix.length))) return true;
  }
  return false;
}

function edgeRefusal(cert: ViewerConnectionIdentity["certificate"], prefix: string): ViewerRefusal {
  const uris = cert ? cert.sans.filter((san) => san.startsWith("URI:")).map((san) => san.slice(4)) : [];
  return {
    status: 403,
    code: "edge-identity-not-accepted",
    summary: "this distribution takes requests only from edges of this fleet presenting this distribution's certificate",
    logFields: {
      reason: cert ? (uris.length ? "the certificate names another distribution (or no edge)" : "the certificate has no URI SAN") : "no verified certificate",
      presented: cert ? { subject: cert.subject, serial: cert.serialHex, uris } : null,
      expected: `${prefix}<origin id>`,
    },
  };
}

function refusal(code: keyof typeof REFUSAL_SUMMARIES): ViewerRefusal {
  return { status: 403, code, summary: REFUSAL_SUMMARIES[code] };
}

function viewerVerdictFor(distribution: DistributionRuntime, viewer: ViewerRequestFacts): ViewerConnectionIdentity | undefined {
  const identity = viewer.identity;
  if (!identity || identity.distributionId !== distribution.id || identity.policyKey !== policyKeyOf(distribution)) return undefined;
  return identity;
}

// A distribution's policy key, made once per distribution runtime (a reload builds new ones) rather than per request.
const policyKeys = new WeakMap<DistributionRuntime, string>();
function policyKeyOf(distribution: DistributionRuntime): string {
  let key = policyKeys.get(distribution);
  if (key === undefined) policyKeys.set(distribution, (key = viewerPolicyKey(distribution)));
  return key;
}

/** No certificate headers: one shared, frozen object, so that a caller can tell there are none without counting. */
export const NO_CERTIFICATE_HEADERS: Readonly<Record<string, string>> = Object.freeze({});

/**
 * The certificate headers for the origin (NO_CERTIFICATE_HEADERS when the mode is off). On the shield side of an origin
 * shield (viewerMtls.edgesOnly) the viewer is an edge of the fleet: the headers it sent about its own viewer go on as
 * the edge made them (relayedCertificateHeaders), and the shield adds none about the edge. Any other viewer's are
 * dropped (viewer-header-names.ts), so that no viewer can name a certificate it does not hold.
 */
export function viewerForwardHeaders(distribution: DistributionRuntime, viewer: ViewerRequestFacts, requestHeaders: IncomingHttpHeaders): Readonly<Record<string, string>> {
  if (distribution.viewerMtls.mode === "off") return NO_CERTIFICATE_HEADERS;
  const identity = viewerVerdictFor(distribution, viewer);
  if (!identity) return NO_CERTIFICATE_HEADERS;
  const edgePrefix = distribution.viewerMtls.edgeIdentityPrefix;
  if (edgePrefix !== null) return (isVerifiedEdge(identity, edgePrefix) && relayedCertificateHeaders(requestHeaders)) || NO_CERTIFICATE_HEADERS;
  return viewerCertificateHeaders(identity, distribution.viewerMtls.forward);
}

/** Checked again here, though viewerRefusal already refused any other: the headers it unlocks are trusted by origins. */
function isVerifiedEdge(identity: ViewerConnectionIdentity, edgePrefix: string): boolean {
  const cert = identity.certificate;
  return identity.verification === "success" && cert !== null && isEdgeIdentity(cert.sans, edgePrefix);
}

/**
 * The access log's viewer-certificate field: subject, serial, fingerprint and verification; undefined when the mode
 * is off (pino leaves an undefined field out of the line). Called only for a line that is written.
 */
export function viewerLogField(viewer: ViewerRequestFacts): Record<string, unknown> | undefined {
  const identity = viewer.identity;
  if (!identity || identity.policyKey.startsWith("off:")) return undefined;
  const cert = identity.certificate;
  return cert ? { verify: identity.verification, subject: cert.subject, serial: cert.serialHex, fingerprint256: cert.fingerprint256 } : { verify: "none" };
}
