// Enrolment: an origin host (a guard, nginx, any TLS server) gets its server certificate from Moat's CA with a one-time token and a CSR, and keeps it renewed; the CA side is a small HTTPS endpoint.

/**
 * Tokens on the CA host: single-use, expiring, stored as a SHA-256 of the secret in `<dataDir>/enrol/tokens/`.
 *
 * @example
 * const { token, expiresAt } = await createEnrolmentToken({ dataDir, dnsNames: ["api.internal"], ipAddresses: [], ttlMs: 3_600_000, validityMs: 7 * 86_400_000, now: new Date() });
 */
export { createEnrolmentToken } from "./token-store.ts";

/**
 * The CA side: the service (enrol, renew, trust) and the HTTPS endpoint that serves it.
 *
 * @example
 * const service = createEnrolmentService({ ca, dataDir, masterKey });
 * const server = await startEnrolmentServer({ service, certificate, listen: { host: "0.0.0.0", port: 9444 }, log });
 */
export { createEnrolmentService } from "./enrol-service.ts";
export type { EnrolmentService } from "./enrol-service.ts";
export { enrolmentRequestHandler, startEnrolmentServer } from "./enrol-server.ts";
export type { RunningEnrolmentServer } from "./enrol-server.ts";
export { ENROL_PATHS } from "./enrol-protocol.ts";
export type { EnrolAnswer, TrustAnswer } from "./enrol-protocol.ts";

/**
 * The origin side: enrol once, then keep the certificate renewed and the CRL fresh.
 *
 * @example
 * await enrolHost({ url: "https://ca.internal:9444", token, caBundlePem, dir: "/etc/moat-guard" });
 * const keeper = keepEnrolmentCurrent({ dir: "/etc/moat-guard", log });
 */
export { ENROLMENT_STATE_FILE, enrolHost, mergeBundles, readEnrolmentState, refreshTrust, renewHost } from "./enrol-client.ts";
export type { EnrolmentState } from "./enrol-client.ts";
export { keepEnrolmentCurrent, runDueWork } from "./enrolment-keeper.ts";
