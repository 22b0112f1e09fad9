// Judges each viewer connection's client certificate right after the handshake, before any request (or, for a resumed session that names no server, at its first request): refuses it (and logs a connection record with the reason) or records who the viewer is on the socket.
import { X509Certificate } from "node:crypto";
import type { TLSSocket } from "node:tls";
import type { ConnectionLog } from "../../connections/index.ts";
import type { Logger } from "../../observe/index.ts";
import { REFUSAL_SUMMARIES, createVerifiedCertificates, describeViewerCertificate, issuerChain, judgeConnection, viewerCertificateOf } from "../../tls/index.ts";
import type { ClientCertRefusalReason, VerifiedCertificates, ViewerCertificate, ViewerCertVerification } from "../../tls/index.ts";
import type { DistributionRuntime, EdgeSnapshot } from "../snapshot/edge-snapshot.ts";
import type { MoatErrorValue } from "../pipeline/moat-error-values.ts";

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

// A resumed session that names no server: under TLS 1.2, OpenSSL resumes without the certificate
// callback that runs Node's SNICallback, and the session keeps no host name, so `servername` is
// false. Such a connection is bound to the distribution its first request's Host names, once, and
// judged for it then (bindOnFirstRequest). Set on the socket when the connection is accepted, so
// an HTTP/2 request only reads it (through the session's socket proxy) and mutates the record.
const resumedBindingKey = Symbol("moat.resumedBinding");

interface ResumedBinding {
  /** Unset until the connection's first request; then the host name it is bound to, or the refusal every request on it gets. */
  outcome?: { readonly hostname: string; readonly identity: ViewerConnectionIdentity } | { readonly refusal: ConnectionRefusal };
}

/** A connection that can't serve requests: answered 421 with this code, and the client must reconnect. */
export interface ConnectionRefusal {
  readonly code: MoatErrorValue;
  readonly summary: string;
}

function readSocket<T>(socket: unknown, key: PropertyKey): T | undefined {
  try {
    return (socket as Record<PropertyKey, T> | null)?.[key];
  } catch {
    // The socket proxy of a closed HTTP/2 session throws on every read.
    return undefined;
  }
}

/** The identity recorded for the connection a request came on, or undefined when none was (a connection without SNI, or not bound yet). */
export function connectionIdentityOf(socket: unknown): ViewerConnectionIdentity | undefined {
  const outcome = readSocket<ResumedBinding>(socket, resumedBindingKey)?.outcome;
  return readSocket<ViewerConnectionIdentity>(socket, identityKey) ?? (outcome && "identity" in outcome ? outcome.identity : undefined);
}

/**
 * The server name a connection was made for: its SNI, or for a resumed session without one, the
 * host name its first request bound it to (or that binding's refusal); undefined when neither.
 */
export function connectionServerName(socket: unknown): string | ConnectionRefusal | undefined {
  const servername = readSocket<string | false>(socket, "servername");
  if (servername) return servername.toLowerCase();
  const outcome = readSocket<ResumedBinding>(socket, resumedBindingKey)?.outcome;
  if (!outcome) return undefined;
  return "hostname" in outcome ? outcome.hostname : outcome.refusal;
}

export interface ViewerConnectionCheck {
  /** False when the connection was refused (and destroyed). */
  check(socket: TLSSocket, snapshot: EdgeSnapshot): boolean;
  /**
   * For a resumed session that named no server: binds the connection to the distribution that
   * `hostname` (the first request's Host) names and applies what SNI would have (the minimum TLS
   * version, the viewer certificate's verdict). Later calls, and other connections, change nothing.
   */
  bindOnFirstRequest(socket: TLSSocket, hostname: string, snapshot: EdgeSnapshot): void;
}

/** How many certificates a listener remembers for resumed sessions (about 200 bytes each). */
const VERIFIED_CERTIFICATES_KEPT = 10_000;

/**
 * @example
 * const viewerCheck = createViewerConnectionCheck(log);
 * server.on("secureConnection", (socket) => viewerCheck.check(socket, currentSnapshot()));
 */
export function createViewerConnectionCheck(log: Logger, refusals?: ConnectionLog): ViewerConnectionCheck {
  const verified = createVerifiedCertificates(VERIFIED_CERTIFICATES_KEPT);
  // The viewer-certificate verdict for `distribution`: the identity, or the reason (logged here).
  function judgeFor(socket: TLSSocket, distribution: DistributionRuntime): ViewerConnectionIdentity | { reason: ClientCertRefusalReason } {
    const { verdict, sent, key } = judge(socket, distribution, verified);
    if (!verdict.ok) {
      const sni = connectionServerName(socket);
      const fields = { reason: verdict.reason, detail: verdict.detail, distribution: distribution.id, remote: socket.remoteAddress, resumed: socket.isSessionReused(), ...refusalTlsFields(socket, sni) };
      if (refusals) refusals.refused("viewer handshake refused", verdict.reason, socket.remoteAddress ?? "", { ...fields, ...certificateFields(sent) }, `${distribution.id} ${typeof sni === "string" ? sni : ""} ${sent?.fingerprint256 ?? ""}`);
      else log.info({ ...fields, ...certificateFields(sent) }, "viewer handshake refused");
      return { reason: verdict.reason };
    }
    if (key && verdict.verification === "success") verified.remember(key);
    return Object.freeze({
      distributionId: distribution.id,
      policyKey: viewerPolicyKey(distribution),
      verification: verdict.verification,
      certificate: withIssuerChain(sent, verdict.verification, distribution),
    });
  }

  return {
    check(socket, snapshot) {
      const servername = (socket as TLSSocket & { servername?: string | false }).servername;
      const distribution = servername ? snapshot.distributionForHost(servername.toLowerCase()) : undefined;
      if (!distribution) {
        // Without SNI no distribution is known yet: a resumed session gets one from its first
        // request; any other connection's requests get 421 (proxy-request.ts).
        if (!servername && socket.isSessionReused()) (socket as TLSSocket & { [resumedBindingKey]?: ResumedBinding })[resumedBindingKey] = {};
        return true;
      }
      const judged = judgeFor(socket, distribution);
      if ("reason" in judged) {
        socket.destroy();
        return false;
      }
      (socket as TLSSocket & { [identityKey]?: ViewerConnectionIdentity })[identityKey] = judged;
      return true;
    },

    bindOnFirstRequest(socket, hostname, snapshot) {
      const binding = readSocket<ResumedBinding>(socket, resumedBindingKey);
      if (!binding || binding.outcome) return;
      binding.outcome = bindResumed(socket, hostname, snapshot);
    },
  };

  function bindResumed(socket: TLSSocket, hostname: string, snapshot: EdgeSnapshot): NonNullable<ResumedBinding["outcome"]> {
    const distribution = hostname ? snapshot.distributionForHost(hostname) : undefined;
    if (!distribution) {
      return { refusal: { code: "misdirected-request", summary: `this resumed TLS session named no server, and its first request's Host (${hostname || "none"}) names no distribution of this edge; open a new connection with SNI` } };
    }
    const reconnect = `; open a new connection (a full TLS handshake with SNI ${hostname})`;
    if (isBelowMinVersion(socket, distribution)) {
      logVersionRefusal(log, socket, distribution, refusals);
      return { refusal: { code: "tls-version-too-old", summary: `${distribution.id} requires TLS 1.3${reconnect}` } };
    }
    const judged = judgeFor(socket, distribution);
    if ("reason" in judged) {
      const summary = REFUSAL_SUMMARIES[judged.reason] ?? "the resumed TLS session was refused";
      return { refusal: { code: judged.reason, summary: `${summary}${reconnect}` } };
    }
    return { hostname, identity: judged };
  }
}

/** A distribution that requires TLS 1.3 refuses a connection made with an older version. */
export function isBelowMinVersion(socket: TLSSocket, distribution: DistributionRuntime): boolean {
  return distribution.minVersion === "TLSv1.3" && socket.getProtocol() !== "TLSv1.3";
}

export function logVersionRefusal(log: Logger, socket: TLSSocket, distribution: DistributionRuntime, refusals?: ConnectionLog): void {
  const sni = connectionServerName(socket);
  const fields = { reason: "tls-version-too-old", distribution: distribution.id, protocol: socket.getProtocol(), remote: socket.remoteAddress, resumed: socket.isSessionReused(), ...refusalTlsFields(socket, sni) };
  if (refusals) refusals.refused("viewer connection refused", "tls-version-too-old", socket.remoteAddress ?? "", fields, `${distribution.id} ${typeof sni === "string" ? sni : ""}`);
  else log.info(fields, "viewer connection refused");
}

/** A refusal record's `sni` (the name the viewer sent, or the Host a resumed session was bound by) and `tlsVersion`. */
export function refusalTlsFields(socket: TLSSocket, sni: ReturnType<typeof connectionServerName> = connectionServerName(socket)): { sni?: string; tlsVersion?: string } {
  const fields: { sni?: string; tlsVersion?: string } = {};
  if (typeof sni === "string") fields.sni = sni;
  const version = socket.getProtocol();
  if (version) fields.tlsVersion = version;
  return fields;
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
