// The one place that decides, per viewer connection and mode, whether its certificate (or its absence) is accepted: OpenSSL's verdict from the handshake, plus the checks OpenSSL leaves to us.
import type { X509Certificate } from "node:crypto";
import type { ViewerMtlsMode } from "../config/index.ts";
import type { ClientCertRefusalReason } from "./refusal-reasons.ts";
import { diagnoseRefusal } from "./refusal-diagnosis.ts";
import type { LoadedTrustStore } from "./trust-store.ts";

/** success: verified against the trust store; unverified: passthrough, taken as sent; none: no certificate. */
export type ViewerCertVerification = "success" | "unverified" | "none";

export type ConnectionVerdict =
  | { readonly ok: true; readonly verification: ViewerCertVerification }
  | { readonly ok: false; readonly reason: ClientCertRefusalReason; readonly detail: string };

export interface ConnectionFacts {
  mode: ViewerMtlsMode;
  /** Set for optional and required. */
  trustStore: LoadedTrustStore | null;
  /** The certificate of this connection (for a resumed session: the one of its first handshake). */
  peer: X509Certificate | undefined;
  /** The certificates the viewer sent above its leaf (to name the reason of a refusal). */
  sentChain: readonly X509Certificate[];
  /** OpenSSL's verification error for a full handshake (`socket.authorizationError`), or null. */
  authorizationError: string | null;
  isResumed: boolean;
  /** For a resumed session: whether its certificate passed a full handshake for this distribution and this set of CAs. */
  wasVerifiedBefore: boolean;
  now: Date;
}

const CLIENT_AUTH = "1.3.6.1.5.5.7.3.2";
const ANY_EKU = "2.5.29.37.0";

/**
 * @example
 * const verdict = judgeConnection({ mode: "required", trustStore, peer, authorizationError: socket.authorizationError, isResumed: false, wasVerifiedBefore: false, now });
 * if (!verdict.ok) socket.destroy();
 */
export function judgeConnection(facts: ConnectionFacts): ConnectionVerdict {
  if (facts.mode === "off") return { ok: true, verification: "none" };
  if (facts.mode === "passthrough") return { ok: true, verification: facts.peer ? "unverified" : "none" };
  if (!facts.peer) {
    // OpenSSL already refuses a required certificate that is missing with an alert; a resumed session can still arrive without one.
    return facts.mode === "required" ? { ok: false, reason: "client-cert-missing", detail: "no client certificate was presented" } : { ok: true, verification: "none" };
  }
  if (!facts.trustStore) return { ok: false, reason: "client-cert-invalid", detail: "no trust store is loaded for this distribution" };
  return facts.isResumed ? judgeResumed(facts, facts.peer, facts.trustStore) : judgeFullHandshake(facts, facts.peer, facts.trustStore);
}

function judgeFullHandshake(facts: ConnectionFacts, peer: X509Certificate, store: LoadedTrustStore): ConnectionVerdict {
  if (facts.authorizationError) {
    return { ok: false, ...diagnoseRefusal({ peer, sent: facts.sentChain, store, now: facts.now, opensslCode: facts.authorizationError }) };
  }
  return checkUsage(peer, store) ?? { ok: true, verification: "success" };
}

// OpenSSL's purpose check (ssl_client) passes a certificate with no EKU at all; whether to accept one is the trust store's call.
function checkUsage(peer: X509Certificate, store: LoadedTrustStore): ConnectionVerdict | null {
  const ekus = peer.keyUsage;
  if (ekus === undefined) {
    if (store.allowNoEku) return null;
    return { ok: false, reason: "client-cert-wrong-usage", detail: `the certificate has no EKU extension; trust store ${store.name} requires clientAuth (set allowNoEku to accept such certificates)` };
  }
  if (ekus.includes(CLIENT_AUTH) || ekus.includes(ANY_EKU)) return null;
  return { ok: false, reason: "client-cert-wrong-usage", detail: `the certificate's EKU (${ekus.join(", ")}) lacks clientAuth` };
}

// A resumed session carries its first handshake's certificate but OpenSSL verifies nothing again:
// the session must have been verified here, and what may have changed since is checked now.
function judgeResumed(facts: ConnectionFacts, peer: X509Certificate, store: LoadedTrustStore): ConnectionVerdict {
  if (!facts.wasVerifiedBefore) {
    return { ok: false, reason: "client-cert-session-unverified", detail: `the resumed session's certificate was not verified against trust store ${store.name} for this distribution` };
  }
  if (store.isRevoked(peer)) return { ok: false, reason: "client-cert-revoked", detail: `revoked since the session began (a CRL of trust store ${store.name} lists it)` };
  if (peer.validToDate.getTime() <= facts.now.getTime()) return { ok: false, reason: "client-cert-expired", detail: `expired at ${peer.validToDate.toISOString()}, since the session began` };
  return checkUsage(peer, store) ?? { ok: true, verification: "success" };
}
