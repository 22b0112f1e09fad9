// Viewer-side TLS: trust stores, the client-certificate request per distribution, and the verdict on each viewer connection.

/**
 * Loads and checks a trust store (CA bundle + CRLs); throws TrustStoreInvalidError naming the entry.
 * @example
 * const store = await loadTrustStore(config.trustStores[0], new Date());
 * tls.createSecureContext({ cert, key, ca: store.caPem, crl: [...store.crlPems] });
 */
export { loadTrustStore, normaliseSerial } from "./trust-store.ts";
export type { LoadedTrustStore } from "./trust-store.ts";

/**
 * Sets the certificate request of a handshaking socket from its distribution's mode (call in the SNI callback).
 * @example
 * SNICallback: function (name, cb) { requestClientCertificate(this, mode); cb(null, context); }
 */
export { assertVerifyModeSupported, requestClientCertificate } from "./verify-mode.ts";

/**
 * Decides whether a viewer connection's certificate is accepted for its distribution's mode.
 * @example
 * const verdict = judgeConnection({ mode, trustStore, peer, authorizationError, isResumed, wasVerifiedBefore, now: new Date() });
 */
export { judgeConnection } from "./connection-verdict.ts";
/**
 * The issuers of a verified certificate up to the trust store's CA (RFC 9440 Client-Cert-Chain).
 * @example
 * issuerChain(peer, [], store).map((cert) => cert.raw);
 */
export { issuerChain, pathToStore } from "./refusal-diagnosis.ts";
export type { ConnectionFacts, ConnectionVerdict, ViewerCertVerification } from "./connection-verdict.ts";

/**
 * Remembers certificates verified per distribution and CA set, for resumed sessions.
 * @example
 * const verified = createVerifiedCertificates(10_000);
 */
export { createVerifiedCertificates } from "./verified-sessions.ts";
export type { VerifiedCertificates } from "./verified-sessions.ts";

/**
 * The facts of a viewer certificate (RFC 2253 names, serial, SHA-256, validity, SANs, PEM, chain).
 * @example
 * const cert = viewerCertificateOf(socket); // null when none was presented
 */
export { describeViewerCertificate, viewerCertificateOf } from "./viewer-certificate.ts";
export type { ViewerCertificate } from "./viewer-certificate.ts";

/**
 * Stable reason codes of refused viewer connections, and OpenSSL's verify errors mapped onto them.
 * @example
 * reasonForVerifyError("CERT_REVOKED"); // "client-cert-revoked"
 */
export { REFUSAL_SUMMARIES, reasonForVerifyError } from "./refusal-reasons.ts";
export type { ClientCertRefusalReason } from "./refusal-reasons.ts";

/**
 * The cipher policy of every Moat TLS endpoint (viewer listener, guard, enrolment endpoint, origin client).
 * @example
 * https.createServer({ key, cert, ...tlsPolicyOptions(config.listen.tls) }, handler);
 */
export { cipherListProblem, defaultTlsPolicy, groupListProblem, TLS12_CIPHERS, TLS13_CIPHERS, tlsPolicyOptions } from "./cipher-policy.ts";
export type { TlsPolicy, TlsPolicyOptions } from "./cipher-policy.ts";
