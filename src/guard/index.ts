// The origin side of Moat: verify that a peer is the edge of an accepted distribution (library, middleware for node:http, Express and Fastify), and the `moat guard` sidecar.

/**
 * The trust snapshot: Moat's CA bundle (old and new roots during a rollover) and CRL bundle, parsed
 * and checked. Throws GuardTrustInvalidError naming the file and the problem.
 *
 * @example
 * const trust = createGuardTrust({ bundlePem: await readFile("moat-ca.pem", "utf8"), crlPem: await readFile("moat-crl.pem", "utf8") });
 */
export { createGuardTrust } from "./guard-trust.ts";
export type { GuardTrust, GuardTrustInput, TrustCrl } from "./guard-trust.ts";

/**
 * Verifies an edge: path validation of the peer's chain (signatures by OpenSSL via node:crypto,
 * validity, CA constraints, clientAuth, CRLs), then its SPIFFE ID against the accepted
 * distributions (and origins). Answers `{ ok: true, identity }` or `{ ok: false, code, detail }`.
 *
 * @example
 * const verifier = createEdgeVerifier({ trust, policy: { trustDomain: "moat.internal", distributions: ["shop"] } });
 * const verdict = await verifier.verifySocket(tlsSocket); // or verifyChain([leafDer, intermediateDer])
 * if (verdict.ok) console.log(verdict.identity.distributionId, verdict.identity.serialHex);
 * else console.log(verdict.code, verdict.detail); // e.g. identity-not-accepted
 */
export { createEdgeVerifier, peerChain } from "./edge-verifier.ts";
export type { EdgeVerification, EdgeVerifier, EdgeVerifierOptions } from "./edge-verifier.ts";
export { DEFAULT_TRUST_DOMAIN, parseEdgeSpiffeId } from "./edge-identity.ts";
export type { AcceptPolicy, EdgeIdentity } from "./edge-identity.ts";

/**
 * Refusal codes, and the code for an OpenSSL verification error (a refused handshake's `socket.authorizationError`).
 *
 * @example
 * server.on("tlsClientError", (error, socket) => log.warn({ code: refusalCodeForHandshake(error, socket) }, "refused a handshake"));
 */
export { GUARD_REFUSAL_CODES, refusalCodeForHandshake, refusalCodeForOpenSsl } from "./refusal.ts";
export type { GuardRefusal, GuardRefusalCode } from "./refusal.ts";

/**
 * Middleware: the TLS options that make OpenSSL require the edge's certificate, then one line per
 * framework to require an accepted identity; handlers read it with edgeIdentityOf.
 *
 * @example
 * const server = https.createServer({ key, cert, ...guardTlsOptions(trust) }, app);
 * app.use(expressEdgeGuard(verifier));                    // Express
 * fastify.addHook("onRequest", fastifyEdgeGuard(verifier)); // Fastify
 * https.createServer(opts, requireEdgeIdentity(verifier, (req, res, edge) => res.end(edge.spiffeId))); // node:https
 */
export { edgeIdentityOf, expressEdgeGuard, fastifyEdgeGuard, guardTlsOptions, REFUSAL_HEADER, requireEdgeIdentity, sendRefusal } from "./middleware.ts";
export type { GuardTlsOptions } from "./middleware.ts";

/**
 * The `moat guard` sidecar: mTLS in front of an HTTP app. Handshakes without a valid edge certificate
 * fail; an edge of another distribution gets 403 with the reason; the rest is forwarded with the
 * identity in `moat-edge-*` headers (any such header from outside is dropped). Files reload on change.
 *
 * @example
 * const guard = await startGuard({ listen: { host: "0.0.0.0", port: 9443 }, upstream: new URL("http://127.0.0.1:8080"),
 *   files: { cert, key, caBundle, crl }, policy: { trustDomain: "moat.internal", distributions: ["shop"] }, log });
 */
export { startGuard } from "./guard-server.ts";
export type { GuardOptions, RunningGuard } from "./guard-server.ts";
export { GUARD_DIR_FILES, loadGuardMaterial } from "./guard-files.ts";
export type { GuardFilePaths, GuardMaterial } from "./guard-files.ts";
export { IDENTITY_HEADERS } from "./forward-request.ts";

/**
 * A header name as CGI, WSGI, PHP and Rack read it (case and "-"/"_" folded): compare these when
 * stripping a header that an app trusts, or another spelling of it gets through.
 *
 * @example
 * foldedHeaderName("Moat_Edge_Identity") === "moat-edge-identity"; // true
 */
export { foldedHeaderName } from "./header-spelling.ts";

/**
 * Config for nginx, HAProxy, Caddy and Envoy that requires the edge's certificate (and checks its identity where the server can).
 *
 * @example
 * originSnippet("haproxy", { trustDomain: "moat.internal", distributions: ["shop"], files, listen, upstream: "http://127.0.0.1:8080" });
 */
export { originSnippet, SNIPPET_SERVERS } from "./snippets/index.ts";
export type { SnippetInput, SnippetServer } from "./snippets/index.ts";

/**
 * Builds leaf → … → root by OpenSSL's issuer checks and signatures (node:crypto), roots tried first:
 * what enrolment uses to check a certificate presented for renewal.
 *
 * @example
 * const path = buildCertificatePath(leaf, [intermediate], roots); // undefined: does not chain to a root
 */
export { buildPath as buildCertificatePath } from "./verify-path.ts";
