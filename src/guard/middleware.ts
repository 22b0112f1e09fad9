// One line to require an accepted edge in a node:http(s) server, an Express app or a Fastify app; handlers read the identity with edgeIdentityOf.
import { constants } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { TLSSocket } from "node:tls";
// Directly: a node:tls-only module, where tls/index.ts would load the edge's PKI into moat/guard.
import { tlsPolicyOptions } from "../tls/cipher-policy.ts";
import type { EdgeIdentity } from "./edge-identity.ts";
import type { EdgeVerification, EdgeVerifier } from "./edge-verifier.ts";
import type { GuardTrust } from "./guard-trust.ts";
import { refuse, type GuardRefusal } from "./refusal.ts";

/** The response header that names a refusal's code (the body says why in a sentence). */
export const REFUSAL_HEADER = "moat-guard-refusal";

const IDENTITY = Symbol.for("moat.edgeIdentity");

/** What guardTlsOptions gives: plain values, so they spread into https, Express and Fastify server options alike. */
export interface GuardTlsOptions {
  ca: string;
  crl?: string[];
  requestCert: true;
  rejectUnauthorized: true;
  /** No renegotiation: a verdict is kept per connection, so its peer certificate must never change. */
  secureOptions: number;
  /** A peer that does not finish its handshake in this many ms is dropped (Node's default is 120 s). */
  handshakeTimeout: number;
  /** Moat's TLS policy, as on every Moat endpoint: under TLS 1.2 only ECDHE with AES-GCM or ChaCha20-Poly1305. */
  ciphers: string;
  ecdhCurve: string;
  honorCipherOrder: true;
}

/** Long enough for a slow network, short enough that half-open handshakes cannot pile up for minutes. */
export const GUARD_HANDSHAKE_TIMEOUT_MS = 10_000;

/**
 * TLS server options that make OpenSSL require a client certificate chaining to the bundle and not
 * revoked by the CRLs, before any request is read. Also what `server.setSecureContext` takes on a reload.
 */
export function guardTlsOptions(trust: GuardTrust): GuardTlsOptions {
  const { ciphers, ecdhCurve } = tlsPolicyOptions();
  return {
    ciphers,
    ecdhCurve,
    honorCipherOrder: true,
    ca: trust.bundlePem,
    ...(trust.crlPems.length > 0 ? { crl: [...trust.crlPems] } : {}),
    requestCert: true,
    rejectUnauthorized: true,
    secureOptions: constants.SSL_OP_NO_RENEGOTIATION,
    handshakeTimeout: GUARD_HANDSHAKE_TIMEOUT_MS,
  };
}

/** The accepted edge of this request, once a guard middleware let it through; undefined otherwise. Takes a node/Express request or a Fastify request. */
export function edgeIdentityOf(request: IncomingMessage | { raw: IncomingMessage }): EdgeIdentity | undefined {
  const raw = "raw" in request ? request.raw : request;
  return (raw as unknown as Record<symbol, EdgeIdentity | undefined>)[IDENTITY];
}

/** Verifies the request's connection and, when accepted, attaches the identity to the request. */
export async function verifyRequest(verifier: EdgeVerifier, req: IncomingMessage): Promise<EdgeVerification> {
  const socket = req.socket as Partial<TLSSocket>;
  if (typeof socket.getPeerCertificate !== "function") return refuse("no-client-certificate", "the connection is not TLS; serve with guardTlsOptions()");
  const verdict = await verifier.verifySocket(socket as TLSSocket);
  if (verdict.ok) (req as unknown as Record<symbol, EdgeIdentity>)[IDENTITY] = verdict.identity;
  return verdict;
}

/** The body of a 403 for a refusal: the code and the sentence, one line. */
export function refusalBody(refusal: GuardRefusal): string {
  return `403 Forbidden: ${refusal.code}: ${refusal.publicDetail ?? refusal.detail}\n`;
}

/** Answers 403 with the refusal's code in a header and the reason in the body; never cached. */
export function sendRefusal(res: ServerResponse, refusal: GuardRefusal): void {
  const body = refusalBody(refusal);
  res.writeHead(403, {
    "content-type": "text/plain; charset=utf-8",
    "content-length": Buffer.byteLength(body),
    "cache-control": "no-store",
    [REFUSAL_HEADER]: refusal.code,
  });
  res.end(body);
}

/**
 * Wraps a node:http(s) request handler: it runs only for an accepted edge, with the identity.
 *
 * @example
 * https.createServer({ key, cert, ...guardTlsOptions(trust) }, requireEdgeIdentity(verifier, (req, res, edge) => res.end(edge.distributionId)));
 */
export function requireEdgeIdentity(
  verifier: EdgeVerifier,
  handler: (req: IncomingMessage, res: ServerResponse, identity: EdgeIdentity) => void,
  onRefusal?: (refusal: GuardRefusal, req: IncomingMessage) => void,
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    verifyRequest(verifier, req).then(
      (verdict) => {
        if (verdict.ok) return handler(req, res, verdict.identity);
        onRefusal?.(verdict, req);
        sendRefusal(res, verdict);
      },
      (error: unknown) => res.destroy(error as Error),
    );
  };
}

/**
 * Express middleware: refuses with 403 unless the edge is accepted; `edgeIdentityOf(req)` and `res.locals.edgeIdentity` then hold the identity.
 *
 * @example
 * app.use(expressEdgeGuard(verifier));
 * app.get("/", (req, res) => res.send(edgeIdentityOf(req)?.distributionId));
 */
export function expressEdgeGuard(
  verifier: EdgeVerifier,
): (req: IncomingMessage, res: ServerResponse & { locals?: Record<string, unknown> }, next: (error?: unknown) => void) => void {
  return (req, res, next) => {
    verifyRequest(verifier, req).then((verdict) => {
      if (!verdict.ok) return sendRefusal(res, verdict);
      if (res.locals) res.locals.edgeIdentity = verdict.identity;
      next();
    }, next);
  };
}

/** The parts of a Fastify reply the hook uses. */
interface ReplyLike {
  code(statusCode: number): ReplyLike;
  header(name: string, value: string): ReplyLike;
  send(payload: string): ReplyLike;
}

/**
 * Fastify onRequest hook: refuses with 403 unless the edge is accepted; `edgeIdentityOf(request)` then holds the identity.
 *
 * @example
 * app.addHook("onRequest", fastifyEdgeGuard(verifier));
 * app.get("/", async (request) => edgeIdentityOf(request)?.distributionId);
 */
export function fastifyEdgeGuard(verifier: EdgeVerifier): (request: { raw: IncomingMessage }, reply: ReplyLike) => Promise<unknown> {
  return async (request, reply) => {
    const verdict = await verifyRequest(verifier, request.raw);
    if (verdict.ok) return undefined;
    // Fastify: an async hook that answers early sends, then returns the reply.
    return reply.code(403).header(REFUSAL_HEADER, verdict.code).header("cache-control", "no-store").header("content-type", "text/plain; charset=utf-8").send(refusalBody(verdict));
  };
}
