// Certificates for joined edges through the store: the edge's side puts a CSR there and waits for the answer; the CA node's side signs what each edge is entitled to, and refuses the rest with a reason.
import { X509Certificate } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "pino";
import { loadConfigDocument } from "../config/index.ts";
import type { MoatConfig } from "../config/index.ts";
import { CertificateRequestRefusedError, CertificateRequestUnansweredError, MoatError } from "../errors.ts";
import { CRL_FILES, readRevocations, verifiedCsrPublicKey } from "../pki/index.ts";
import type { CertificateAuthority, CertificateSigningChannel, CsrSubject } from "../pki/index.ts";
import type { CertificateRequestRecord, FleetCaCertificates, FleetRevocations, Store } from "../store/index.ts";

/** How long an edge waits for the CA node's answer before its build fails (it asks again at its next build). */
export const CERTIFICATE_REQUEST_DEADLINE_MS = 30_000;
/** How often the edge reads its request's state while it waits, and the CA node looks for pending ones while it hears no NOTIFY. */
export const CERTIFICATE_REQUEST_POLL_MS = 250;
/** The CA node's poll while it listens: a NOTIFY wakes it at each request's commit, and this catches one lost on the way. */
const LISTENING_POLL_MS = 5_000;
/** Answered requests are deleted this long after their answer: the edge read it within its deadline. */
const ANSWERED_KEPT_MS = 86_400_000;
/** At most this many requests are signed in one pass; the next pass takes the rest. */
const PASS_LIMIT = 100;

/** What a request asks for, for messages and logs. */
export function describeSubject(subject: CsrSubject): string {
  return subject.use === "viewer-server" ? `a viewer certificate for ${[...subject.dnsNames, ...subject.ipAddresses].join(", ")}` : `the origin client certificate of ${subject.distributionId}/${subject.originId}`;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/**
 * The joined edge's signing channel: each CSR goes into the store's certificate_requests as `edge`, and the
 * answer is read back until `deadlineMs`: the chain, or a CertificateRequestRefusedError with the CA node's
 * reason, or a CertificateRequestUnansweredError.
 *
 * @example
 * const ca = createCsrCertificateAuthority(published, storeSigningChannel({ store, edge: "fra-1" }));
 */
export function storeSigningChannel(options: { store: Pick<Store, "certificateRequests">; edge: string; deadlineMs?: number; pollMs?: number; log?: Logger }): CertificateSigningChannel {
  const deadlineMs = options.deadlineMs ?? CERTIFICATE_REQUEST_DEADLINE_MS;
  const pollMs = options.pollMs ?? CERTIFICATE_REQUEST_POLL_MS;
  return {
    async sign(request) {
      const startedAt = Date.now();
      const id = await options.store.certificateRequests.submit({ edge: options.edge, ...request, now: new Date() });
      options.log?.info({ request: id, asks: describeSubject(request.subject) }, "certificate request sent to the CA node");
      while (Date.now() - startedAt < deadlineMs) {
        const answer = await options.store.certificateRequests.get(id);
        if (answer?.state === "issued" && answer.chainPem) return answer.chainPem;
        if (answer?.state === "refused") throw new CertificateRequestRefusedError(options.edge, describeSubject(request.subject), answer.reason ?? "no reason given");
        await delay(pollMs);
      }
      throw new CertificateRequestUnansweredError(options.edge, describeSubject(request.subject), deadlineMs);
    },
  };
}

/** The CA's public certificates as a joined edge takes them (no key). */
export function publicCertificatesOf(ca: CertificateAuthority): Omit<FleetCaCertificates, "updatedAt"> {
  return { bundlePem: ca.bundlePem, intermediatePem: ca.intermediatePem, previousIntermediatePems: [...ca.previousIntermediatePems], keyAlgorithm: ca.keyAlgorithm, crlBaseUrl: ca.crlBaseUrl };
}

// DNS names compare without case (RFC 4343); the certificate store asks in the config's spelling.
const lowerCase = (name: string) => name.toLowerCase();

/** Why `config` does not entitle an edge to `subject` at `validityMs`; undefined when it does. The names must be exactly what local issuance would ask. */
export function entitlementProblem(config: MoatConfig, subject: CsrSubject, validityMs: number): string | undefined {
  if (subject.use === "viewer-server") {
    if (subject.ipAddresses.length > 0) return "a viewer certificate names a distribution's aliases, never an IP address";
    const asked = [...new Set(subject.dnsNames.map(lowerCase))].sort().join(",");
    const distribution = config.distributions.find((d) => d.viewerCertificate.kind === "issued" && [...new Set(d.aliases.map(lowerCase))].sort().join(",") === asked);
    if (!distribution) return `no distribution of the current config has exactly these aliases with a certificate issued by Moat (${subject.dnsNames.join(", ")})`;
    if (validityMs > config.pki.serverCertValidityMs) return `it asks for ${validityMs} ms, more than pki.serverCertValidity (${config.pki.serverCertValidityMs} ms)`;
    return undefined;
  }
  if (subject.trustDomain !== config.pki.trustDomain) return `the trust domain ${subject.trustDomain} is not the config's (${config.pki.trustDomain})`;
  const distribution = config.distributions.find((d) => d.id === subject.distributionId);
  if (!distribution) return `the current config has no distribution ${subject.distributionId}`;
  const origin = distribution.origins.find((o) => o.id === subject.originId);
  if (!origin) return `distribution ${subject.distributionId} has no origin ${subject.originId}`;
  if (!distribution.shield && origin.mtls.clientCertificate.kind !== "issued") return `origin ${subject.distributionId}/${subject.originId} does not present a certificate issued by Moat`;
  if (validityMs > config.pki.clientCertValidityMs) return `it asks for ${validityMs} ms, more than pki.clientCertValidity (${config.pki.clientCertValidityMs} ms)`;
  return undefined;
}

/** One request judged and, when the edge is entitled to it, signed: the chain, or the reason it is refused. */
async function judge(request: CertificateRequestRecord, config: MoatConfig, ca: CertificateAuthority, store: Pick<Store, "joins">): Promise<{ state: "issued"; chainPem: string } | { state: "refused"; reason: string }> {
  if (!(await store.joins.joined(request.edge))) return { state: "refused", reason: `no edge joined as ${request.edge} (\`moat edge join\` records it)` };
  const problem = entitlementProblem(config, request.subject, request.validityMs);
  if (problem) return { state: "refused", reason: problem };
  let publicKeyPem: string;
  try {
    publicKeyPem = await verifiedCsrPublicKey(request.csrPem);
  } catch (error) {
    if (error instanceof MoatError) return { state: "refused", reason: error.message };
    throw error;
  }
  const { subject, validityMs } = request;
  const signed =
    subject.use === "viewer-server"
      ? await ca.signServerCertificate({ dnsNames: subject.dnsNames, ipAddresses: [], validityMs, publicKeyPem })
      : await ca.signOriginClientCertificate({ trustDomain: subject.trustDomain, distributionId: subject.distributionId, originId: subject.originId, validityMs, publicKeyPem });
  return { state: "issued", chainPem: signed.chainPem };
}

/** The newest revision's config, read again only when the store has a newer one than `last`. */
async function newestConfig(store: Pick<Store, "revision" | "read">, last: { revision: number; config: MoatConfig } | undefined): Promise<{ revision: number; config: MoatConfig } | undefined> {
  const revision = await store.revision();
  if (revision === 0) return undefined;
  if (last && last.revision === revision) return last;
  const read = await store.read();
  return { revision: read.revision, config: await loadConfigDocument(read.document, { source: `revision ${read.revision}`, baseDir: "/", isStored: true }) };
}

/** The CA node's revocation registry and CRL bundle, from its data directory, as joined edges take them. */
async function revocationsIn(dataDir: string): Promise<FleetRevocations> {
  const revocations = (await readRevocations(dataDir)).map((revocation) => ({ serialHex: revocation.serialHex, reason: revocation.reason, revokedAt: revocation.revokedAt.toISOString() }));
  let crlBundlePem: string | null = null;
  try {
    crlBundlePem = await readFile(join(dataDir, "ca", CRL_FILES.bundle), "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  return { revocations, crlBundlePem };
}

export interface CertificateSigning {
  /** One pass now: publishes the CA's public certificates when they changed, signs or refuses every pending request. */
  runOnce(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The CA node's side (`moat start --store ADDRESS --ca`): publishes the CA's public certificates and (from `dataDir`) its
 * revocations and CRL bundle for joined edges; at each request's NOTIFY (and every 5 s while it listens, every
 * `pollMs` while it does not), the pending requests are judged against the
 * store's newest revision (the edge is a joined one, the CSR's signature verifies, the names are exactly what that
 * revision gives it) and signed with the CA, or refused with a reason. Each answer is logged; a failed pass is
 * logged and tried again at the next.
 *
 * @example
 * const signing = startCertificateSigning({ store, ca: () => ca, log });
 * await signing.stop();
 */
export function startCertificateSigning(options: { store: Store; ca: () => CertificateAuthority; log: Logger; pollMs?: number; dataDir?: string }): CertificateSigning {
  const { store, log } = options;
  let judgedBy: { revision: number; config: MoatConfig } | undefined;
  let published: string | undefined;
  let publishedRevocations: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  let isStopped = false;
  let running: Promise<void> = Promise.resolve();

  async function pass(): Promise<void> {
    const ca = options.ca();
    const current = JSON.stringify(publicCertificatesOf(ca));
    if (current !== published) {
      await store.certificateRequests.publishCa(publicCertificatesOf(ca), new Date());
      published = current;
      log.info({ intermediate: new X509Certificate(ca.intermediatePem).fingerprint256, roots: ca.bundlePem.match(/BEGIN CERTIFICATE/g)?.length ?? 0 }, "CA certificates published for joined edges");
    }
    // The revocations and the CRL follow the CA (each pass: `moat ca revoke` writes the registry, a CRL refresh the bundle).
    if (options.dataDir !== undefined) {
      const revocations = await revocationsIn(options.dataDir);
      const text = JSON.stringify(revocations);
      if (text !== publishedRevocations && (await store.certificateRequests.publishRevocations(revocations, new Date()))) {
        publishedRevocations = text;
        log.info({ revoked: revocations.revocations.length }, "revocations and CRL published for joined edges");
      }
    }
    const pending = await store.certificateRequests.pending(PASS_LIMIT);
    if (pending.length === 0) return;
    judgedBy = await newestConfig(store, judgedBy);
    for (const request of pending) {
      const answer = judgedBy ? await judge(request, judgedBy.config, ca, store) : { state: "refused" as const, reason: "the store holds no config revision yet" };
      if (!(await store.certificateRequests.decide(request.id, answer, new Date()))) continue;
      const fields = { request: request.id, edge: request.edge, asks: describeSubject(request.subject), revision: judgedBy?.revision };
      if (answer.state === "issued") log.info(fields, "certificate request signed");
      else log.warn({ ...fields, reason: answer.reason }, "certificate request refused");
    }
    await store.certificateRequests.pruneDecided(new Date(Date.now() - ANSWERED_KEPT_MS));
  }

  function runOnce(): Promise<void> {
    running = running.then(pass).catch((error: Error & { code?: string }) => log.error({ error: { code: error.code, message: error.message } }, "signing certificate requests failed; trying again"));
    return running;
  }

  // PostgreSQL announces each request at its commit: the pass runs then, and the poll slows down while that works.
  const signals = store.changeSignals({
    onSignal: (signal) => {
      if (signal.kind === "certificate-request" || signal.kind === "listening") wake();
    },
  });
  function schedule(): void {
    clearTimeout(timer);
    if (isStopped) return;
    timer = setTimeout(wake, signals.isLive() ? LISTENING_POLL_MS : (options.pollMs ?? CERTIFICATE_REQUEST_POLL_MS));
    timer.unref();
  }
  function wake(): void {
    clearTimeout(timer);
    if (!isStopped) void runOnce().then(schedule);
  }
  wake();
  return {
    runOnce,
    async stop() {
      isStopped = true;
      clearTimeout(timer);
      await Promise.all([running, signals.close()]);
    },
  };
}
