// Judges each viewer connection's client certificate right after the handshake, before any request: refuses it (and logs a connection record with the reason) or records who the viewer is on the socket.
import { X509Certificate } from "node:crypto";
import type { TLSSocket } from "node:tls";
import type { Logger } from "../observe/index.ts";
import { createVerifiedCertificates, describeViewerCertificate, issuerChain, judgeConnection, viewerCertificateOf } from "../tls/index.ts";
import type { VerifiedCertificates, ViewerCertificate, ViewerCertVerification } from "../tls/index.ts";
import type { DistributionRuntime, EdgeSnapshot } from "./edge-snapshot.ts";

/** Who the viewer of a connection is, as judged after its handshake. */
export interface ViewerConnectionIdentity {
  readonly distributionId: string;
  /** The distribution's certificate policy when the connection was judged (see viewerPolicyKey). */
  readonly policyKey: string;
  readonly verification: ViewerCertVerification;
  /** null when the viewer presented none, or when the mode is off (any certificate is then ignored). */
  readonly certificate: ViewerCertificate | null;
}

// A property of the TLS socket itself: an HTTP/2 request reaches it through the session's socket
// proxy, which forwards property reads (a WeakMap keyed by the socket would miss the proxy).
const identityKey = Symbol("moat.viewerConnectionIdentity");

/** The identity recorded for the connection a request came on, or undefined when none was (a connection without SNI). */
export function connectionIdentityOf(socket: unknown): ViewerConnectionIdentity | undefined {
  try {
    return (socket as { [identityKey]?: ViewerConnectionIdentity } | null)?.[identityKey];
  } catch {
    // The socket proxy of a closed HTTP/2 session throws on every read.
    return undefined;
  }
}

export interface ViewerConnectionCheck {
  /** False when the connection was refused (and destroyed). */
  check(socket: TLSSocket, snapshot: EdgeSnapshot): boolean;
}

/** How many certificates a listener remembers for resumed sessions (about 200 bytes each). */
const VERIFIED_CERTIFICATES_KEPT = 10_000;

/**
 * @example
 * const viewerCheck = createViewerConnectionCheck(log);
 * server.on("secureConnection", (socket) => viewerCheck.check(socket, currentSnapshot()));
 */
export function createViewerConnectionCheck(log: Logger): ViewerConnectionCheck {
  const verified = createVerifiedCertificates(VERIFIED_CERTIFICATES_KEPT);
  return {
    check(socket, snapshot) {
      const servername = (socket as TLSSocket & { servername?: string | false }).servername;
      const distribution = servername ? snapshot.distributionForHost(servername.toLowerCase()) : undefined;
      // Without SNI no distribution is known: every request on it gets 421 (proxy-request.ts).
      if (!distribution) return true;
      const { verdict, sent, key } = judge(socket, distribution, verified);
      if (!verdict.ok) {
        const fields = { reason: verdict.reason, detail: verdict.detail, distribution: distribution.id, remote: socket.remoteAddress, resumed: socket.isSessionReused() };
        log.info({ ...fields, ...certificateFields(sent) }, "viewer handshake refused");
        socket.destroy();
        return false;
      }
      if (key && verdict.verification === "success") verified.remember(key);
      const identity: ViewerConnectionIdentity = Object.freeze({
        distributionId: distribution.id,
        policyKey: viewerPolicyKey(distribution),
        verification: verdict.verification,
        certificate: withIssuerChain(sent, verdict.verification, distribution),
      });
      (socket as TLSSocket & { [identityKey]?: ViewerConnectionIdentity })[identityKey] = identity;
      return true;
    },
  };
}

function judge(socket: TLSSocket, distribution: DistributionRuntime, verified: VerifiedCertificates) {
  const { mode, trustStore } = distribution.viewerMtls;
  // An off distribution ignores a certificate even if a resumed session carries one from elsewhere.
  const peer = mode === "off" ? undefined : socket.getPeerX509Certificate();
  const key = trustStore && peer ? { distributionId: distribution.id, caSetId: trustStore.caSetId, fingerprint256: peer.fingerprint256 } : null;
  const sent = peer ? viewerCertificateOf(socket) : null;
  const verdict = judgeConnection({
    mode,
    trustStore,
    peer,
    sentChain: sent ? sent.chainDer.map((der) => new X509Certificate(der)) : [],
    authorizationError: socket.authorizationError ? String(socket.authorizationError) : null,
    isResumed: socket.isSessionReused(),
    wasVerifiedBefore: key !== null && verified.wasVerified(key),
    now: new Date(),
  });
  return { verdict, sent, key };
}

// Node gives no peer chain on a connection whose context SNI chose: for RFC 9440's
// Client-Cert-Chain, a verified certificate's issuers come from the trust store.
function withIssuerChain(sent: ViewerCertificate | null, verification: string, distribution: DistributionRuntime): ViewerCertificate | null {
  const store = distribution.viewerMtls.trustStore;
  if (!sent || !store || verification !== "success" || sent.chainDer.length > 0) return sent;
  const peer = new X509Certificate(sent.der);
  return describeViewerCertificate(peer, issuerChain(peer, [], store).map((cert) => cert.raw));
}

/** Log fields of a viewer certificate: names, serial and fingerprint, never the PEM. */
export function certificateFields(certificate: ViewerCertificate | null): Record<string, unknown> {
  if (!certificate) return {};
  return { clientCert: { subject: certificate.subject, issuer: certificate.issuer, serial: certificate.serialHex, fingerprint256: certificate.fingerprint256 } };
}

/** A distribution's certificate policy: its mode and set of CAs. A connection judged under another policy must reconnect. */
export function viewerPolicyKey(distribution: DistributionRuntime): string {
  return `${distribution.viewerMtls.mode}:${distribution.viewerMtls.trustStore?.caSetId ?? "-"}`;
}
