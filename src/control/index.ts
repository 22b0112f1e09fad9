// The control plane's admin API: REST/JSON over TLS 1.3 on its own port, tokens and admin certificates, OpenAPI from the same schemas.

/**
 * Starts the admin API beside an open store; resolves once it listens.
 *
 * @example
 * const store = await openStore({ address: "sqlite:/var/lib/moat/moat.db", validate: storeDocumentValidator });
 * const api = await startAdminApi({
 *   store, ca, listen: { host: "127.0.0.1", port: 8444 }, logger, trustDomain: config.pki.trustDomain,
 *   isRevoked: async (serial) => (await readRevocations(config.dataDir)).some((revocation) => revocation.serialHex === serial),
 * });
 * log.info({ url: api.url }, "admin API up");
 * await api.close();
 */
export { ADMIN_API_DEFAULTS, startAdminApi } from "./admin-api.ts";
/**
 * The routes the API serves (/openapi.json among them) and their OpenAPI document, without a server: what `npm run sdk:gen` types.
 *
 * @example
 * const { document } = adminApiSurface(store, () => new Date());
 */
export { adminApiSurface } from "./admin-api.ts";
export type { AdminApi, AdminApiOptions } from "./admin-api.ts";
/**
 * The config loader's validation as the store's validator (give it to openStore).
 *
 * @example
 * const store = await openStore({ address, validate: storeDocumentValidator });
 */
export { storeDocumentValidator } from "./document-validator.ts";
/**
 * The OpenAPI 3.1 document of the routes, without a server (for an SDK generator).
 *
 * @example
 * const document = buildOpenApiDocument(adminApiRoutes(store, () => new Date()), { version: "0.1.0" });
 */
export { buildOpenApiDocument } from "./openapi.ts";
export { adminApiRoutes } from "./routes/index.ts";
/**
 * Audit records of certificate, CA and CRL events, for `store.audit.record` (the store's AuditSink): only the
 * facts that identify a certificate, never its key or PEM.
 *
 * @example
 * const event = revocationEvent(actorOf(identity), await revokeCertificate({ dataDir, serialHex, reason, ca }));
 * if (event) await store.audit.record(event);
 * await store.audit.record(crlPublishedEvent(actorOf(identity), crl));
 */
export { caRotationEvent, certificateEvent, certificateFacts, crlPublishedEvent, revocationEvent } from "./audit-events.ts";
export type { CertificateFacts } from "./audit-events.ts";
/** The actor string a change made by an API caller is recorded under: `api:token/<id>`, `api:certificate/<name>`. */
export { actorOf } from "./auth.ts";
export type { DataDirAccess, TrafficSource } from "./routes/index.ts";
/** Where the web console is served (`/console/`), and the build directory it is served from. */
export { CONSOLE_BUILD_DIR, CONSOLE_CSP, CONSOLE_PATH } from "./console-assets.ts";
export type { ApiIdentity } from "./auth.ts";
export type { ApiRoute } from "./api-route.ts";
/** How problem details name an error code: `urn:moat:error:<code>`. */
export { problemType, PROBLEM_CONTENT_TYPE } from "./problem.ts";
/**
 * Certificate records: an edge's data directory synced into the store, and its own certificate events in the trail.
 *
 * @example
 * const recorder = createCertificateRecorder({ store, edge: "edge-1", dataDir: config.dataDir, log });
 * await runEdge({ config, ca, masterKey, log, certificateEvents: recorder });
 */
export { CERTIFICATE_RECORDS_DEADLINE_MS, createCertificateRecorder, edgeActor, edgeCertificateEvents, syncCaRecords, syncCertificateRecords, toCertificateEntries } from "./certificate-records.ts";
export type { CertificateRecorder, ExpiryWarned } from "./certificate-records.ts";
/**
 * Certificates for joined edges through the store: the edge's signing channel (a CSR in, the chain or the CA node's
 * refusal out, within a deadline) and the CA node's signer, which signs exactly what the newest revision entitles each
 * joined edge to.
 *
 * @example
 * const ca = createCsrCertificateAuthority(published, storeSigningChannel({ store, edge: "fra-1" })); // a joined edge
 * const signing = startCertificateSigning({ store, ca: () => ca, log }); // the CA node
 */
export { CERTIFICATE_REQUEST_DEADLINE_MS, entitlementProblem, publicCertificatesOf, startCertificateSigning, storeSigningChannel } from "./certificate-requests.ts";
export type { CertificateSigning } from "./certificate-requests.ts";

/**
 * Signed audit checkpoints: one now, one per interval while the trail grows and at a clean stop, and verify against the CA bundle.
 * @example
 * const checkpoints = startAuditCheckpoints({ audit: store.audit, label: store.label, dataDir, masterKey, ca: () => ca, name: "edge-1", log });
 * await checkpoints.close(); // at a clean stop: the last one
 */
export { AUDIT_CHECKPOINT_ENV, AUDIT_CHECKPOINT_INTERVAL_MS, describeCoverage, makeAuditCheckpoint, startAuditCheckpoints, verifyAuditTrail } from "./audit-checkpoints.ts";
export type { AuditCheckpointer, AuditCheckpointSource } from "./audit-checkpoints.ts";
