// `moat doctor origin`: connects to an origin as the edge does (its connector, client certificate, CA and server name) and explains each problem with the edge's own failure codes and fixes.
import { X509Certificate } from "node:crypto";
import net from "node:net";
import type { TLSSocket } from "node:tls";
import { originFailureCatalog } from "../errors.ts";
import type { OriginFailureCode, OriginFailureContext } from "../errors.ts";
import { classifyOriginError, probeOrigin, refusalPageOf } from "../origin/index.ts";
import type { OriginClientOptions, OriginProbeAnswer } from "../origin/index.ts";
import { defaultTlsPolicy } from "../tls/index.ts";
import { certificatesOfPem, chainProblems, describeInLine, nameKey, namesOf, oneLineName } from "./certificate-facts.ts";
import type { ChainProblem } from "./certificate-facts.ts";
import { doctorReport } from "./doctor-report.ts";
import type { DoctorCheck, DoctorReport } from "./doctor-report.ts";
import { inspectHandshake } from "./openssl-inspection.ts";
import type { HandshakeInspection, InspectionResult } from "./openssl-inspection.ts";

export interface OriginDoctorTarget {
  /** The options the edge's client of this origin has (see originClientOptionsFor), or the edge's defaults for a URL. */
  options: OriginClientOptions;
  /** How the target was found, for the report's first line. */
  subject: string;
  /** Checks made while finding the target (the client certificate could not be read): reported first. */
  earlier?: readonly DoctorCheck[];
}

export interface OriginDoctorOptions {
  /** The deadline of each network step. */
  timeoutMs: number;
  now?: Date;
  /** The openssl binary (default: `openssl` on the PATH). */
  openssl?: string;
}

const CERTIFICATE_CODES: ReadonlySet<OriginFailureCode> = new Set(["origin-cert-untrusted", "origin-cert-expired", "origin-cert-not-yet-valid", "origin-name-mismatch"]);
const PROBLEM_CODES: Readonly<Record<ChainProblem["code"], OriginFailureCode>> = {
  untrusted: "origin-cert-untrusted",
  "self-signed": "origin-cert-untrusted",
  expired: "origin-cert-expired",
  "not-yet-valid": "origin-cert-not-yet-valid",
  "name-mismatch": "origin-name-mismatch",
};

/**
 * @example
 * const report = await diagnoseOrigin({ options, subject: "origin api of distribution shop" }, { timeoutMs: 5000 });
 * process.stdout.write(formatDoctorReport(report));
 */
export async function diagnoseOrigin(target: OriginDoctorTarget, doctor: OriginDoctorOptions): Promise<DoctorReport> {
  const now = doctor.now ?? new Date();
  // Each network step gets the doctor's deadline, whatever the config says.
  const options: OriginClientOptions = { ...target.options, connectTimeoutMs: doctor.timeoutMs, responseTimeoutMs: doctor.timeoutMs };
  const context = contextOf(options);
  const earlier = target.earlier ?? [];
  const checks: DoctorCheck[] = earlier.some((check) => check.id === "client-certificate") ? [...earlier] : [...earlier, presentedCertificateCheck(options, now)];
  const url = new URL(options.url);
  const host = url.hostname.replace(/^\[|\]$/g, "");
  const port = Number(url.port || 443);

  const tcp = await tcpCheck(host, port, doctor.timeoutMs, context);
  checks.push(tcp);
  if (tcp.status === "fail") {
    for (const id of ["tls-handshake", "origin-certificate", "client-certificate-request", "client-certificate-accepted", "http-answer"]) checks.push(skipped(id, "no TCP connection"));
    return doctorReport(target.subject, checks);
  }

  // Read at once: the probe closes its connection when it is done.
  let socket: SocketFacts | null = null;
  const [answer, inspected] = await Promise.all([
    // GET, not the edge's HEAD: an origin that refuses a certificate with an error page says why in its body.
    probeOrigin(options, (connected) => (socket ??= socketFacts(connected)), "GET"),
    inspectHandshake({ host, port, serverName: options.serverName, timeoutMs: doctor.timeoutMs, openssl: doctor.openssl }),
  ]);
  const facts: Facts = { options, context, answer, inspected, socket, now, caPem: options.caPem };
  checks.push(handshakeCheck(facts), originCertificateCheck(facts), certificateRequestCheck(facts), acceptedCheck(facts), httpCheck(facts));
  return doctorReport(target.subject, checks);
}

interface SocketFacts {
  protocol: string;
  cipher: string;
  chain: X509Certificate[];
  /** The TLS alert the origin sent after the handshake, e.g. "certificate_required". */
  alert: string | null;
}

function socketFacts(socket: TLSSocket): SocketFacts {
  const cipher = socket.getCipher();
  const facts: SocketFacts = { protocol: socket.getProtocol() ?? "TLS", cipher: cipher.standardName ?? cipher.name, chain: peerChain(socket), alert: null };
  // Under TLS 1.3 an origin refuses a client certificate after the client's handshake is done: its alert
  // (certificate_required, unknown_ca, …) arrives as an error on the first read, which undici may report only as a close.
  socket.on("error", (error: NodeJS.ErrnoException) => {
    const alert = /ALERT_([A-Z_]+)/.exec(error.code ?? "")?.[1] ?? /alert ([a-z ]+)/i.exec(error.message)?.[1];
    if (alert) facts.alert ??= alert.toLowerCase().replaceAll(" ", "_");
  });
  return facts;
}

interface Facts {
  options: OriginClientOptions;
  context: OriginFailureContext;
  answer: OriginProbeAnswer;
  inspected: InspectionResult;
  /** The edge's TLS connection, when its handshake completed. */
  socket: SocketFacts | null;
  now: Date;
  caPem: string;
}

function failureCode(facts: Facts): OriginFailureCode | null {
  return "failure" in facts.answer ? facts.answer.failure.code : null;
}

function failureDetail(facts: Facts): string {
  if (!("failure" in facts.answer)) return "";
  const cause = facts.answer.failure.cause;
  return cause ? classifyOriginError(cause).detail : facts.answer.failure.message;
}

function inspection(facts: Facts): HandshakeInspection | null {
  return facts.inspected.ok ? facts.inspected.inspection : null;
}

function presentedCertificateCheck(options: OriginClientOptions, now: Date): DoctorCheck {
  const presented = options.clientCertificate;
  if (!presented) return { id: "client-certificate", status: "pass", summary: "the edge presents no client certificate to this origin" };
  const chain = certificatesOfPem(presented.chainPem, "the client certificate");
  const leaf = chain[0] as X509Certificate;
  const details = chain.map((cert, index) => `${index === 0 ? "certificate" : "issuer"}: ${describeInLine(cert)}`);
  if (leaf.validToDate.getTime() <= now.getTime()) {
    return {
      id: "client-certificate",
      status: "fail",
      summary: `the edge presents ${presented.identity}, which has expired`,
      code: "origin-client-cert-expired",
      cause: `the certificate expired at ${leaf.validToDate.toISOString()}`,
      fix: "start (or restart) the edge so that it renews its issued certificates, or import a renewed one",
      details,
    };
  }
  return { id: "client-certificate", status: "pass", summary: `the edge presents ${presented.identity}, valid until ${leaf.validToDate.toISOString()}`, details };
}

async function tcpCheck(host: string, port: number, timeoutMs: number, context: OriginFailureContext): Promise<DoctorCheck> {
  const error = await new Promise<Error | null>((resolve) => {
    const socket = net.connect({ host, port });
    socket.setTimeout(timeoutMs, () => {
      socket.destroy();
      resolve(Object.assign(new Error(`no TCP connection within ${timeoutMs} ms`), { code: "ETIMEDOUT" }));
    });
    socket.once("connect", () => {
      socket.destroy();
      resolve(null);
    });
    socket.once("error", (err) => resolve(err));
  });
  if (!error) return { id: "tcp-connect", status: "pass", summary: `connected to ${host}:${port}` };
  return failed("tcp-connect", `no TCP connection to ${host}:${port}`, classifyOriginError(error), context);
}

function handshakeCheck(facts: Facts): DoctorCheck {
  const socket = facts.socket;
  if (socket) {
    return { id: "tls-handshake", status: "pass", summary: `${socket.protocol} with ${socket.cipher}, server name ${facts.options.serverName}` };
  }
  const code = failureCode(facts);
  if (!code) return skipped("tls-handshake", "no connection was made");
  if (CERTIFICATE_CODES.has(code)) {
    return { ...failed("tls-handshake", "the edge ended the handshake: the origin's certificate failed verification", { code, detail: failureDetail(facts) }, facts.context), cause: "see origin-certificate below" };
  }
  if (code === "origin-tls-failed" && /WRONG_VERSION_NUMBER|wrong version number|packet length too long|http request/i.test(failureDetail(facts))) {
    return {
      ...failed("tls-handshake", "the origin does not answer with TLS on that port", { code, detail: failureDetail(facts) }, facts.context),
      cause: `what came back to the edge's ClientHello is not a TLS record: the port serves something else, most likely plain HTTP (${failureDetail(facts)})`,
      fix: "point origins[].url at the origin's HTTPS port, or enable TLS on the origin",
    };
  }
  if (code === "origin-tls-failed" && /PROTOCOL_VERSION|unsupported protocol/i.test(failureDetail(facts))) {
    const seen = inspection(facts);
    const theirs = seen?.protocol ? `; it negotiates ${seen.protocol} with a client that offers it` : "";
    return {
      ...failed("tls-handshake", "the origin refused the edge's TLS versions", { code, detail: failureDetail(facts) }, facts.context),
      cause: `the origin answered the ClientHello with a protocol_version alert: it speaks neither TLS 1.2 nor TLS 1.3, the versions the edge offers${theirs} (${failureDetail(facts)})`,
      fix: "enable TLS 1.2 or, better, TLS 1.3 on the origin; the edge never offers older versions",
    };
  }
  if (code === "origin-tls-failed") {
    const seen = inspection(facts);
    const offered = `the edge offers TLS 1.2 and 1.3, groups ${defaultTlsPolicy().ecdhCurves.join(", ")}, TLS 1.2 ciphers ${defaultTlsPolicy().ciphers.join(", ")}`;
    const theirs = seen?.protocol ? `; offered everything, the origin chose ${seen.protocol}${seen.cipher ? ` with ${seen.cipher}` : ""}, which the edge does not offer` : "";
    return { ...failed("tls-handshake", "no TLS version, cipher suite or key exchange group in common with the origin", { code, detail: failureDetail(facts) }, facts.context), cause: `${offered}${theirs} (${failureDetail(facts)})` };
  }
  if (code === "origin-rejected-client-cert") return failed("tls-handshake", "the origin ended the handshake after the edge's certificate", { code, detail: failureDetail(facts) }, facts.context);
  if (code === "origin-connect-timeout") return failed("tls-handshake", "the TLS handshake did not finish in time", { code, detail: failureDetail(facts) }, facts.context);
  return failed("tls-handshake", "the TLS handshake failed", { code, detail: failureDetail(facts) }, facts.context);
}

function originCertificateCheck(facts: Facts): DoctorCheck {
  const chain = facts.socket ? facts.socket.chain : (inspection(facts)?.chain ?? []);
  const details = chain.map((cert, index) => `${index === 0 ? `certificate (${namesOf(cert)})` : "chain"}: ${describeInLine(cert)}`);
  const code = failureCode(facts);
  if (code && CERTIFICATE_CODES.has(code)) {
    const cas = certificatesOfPem(facts.caPem, facts.context.trustedCa);
    const problems = chainProblems(chain, cas, facts.options.serverName, facts.now);
    // The verdict is OpenSSL's (through the edge's connector); the chain says why.
    const named = problems.filter((problem) => PROBLEM_CODES[problem.code] === code);
    const why = (named.length > 0 ? named : problems).map((problem) => problem.cause);
    const text = originFailureCatalog[code];
    return {
      id: "origin-certificate",
      status: "fail",
      summary: text.summary,
      code,
      cause: [...why, chain.length === 0 && !facts.inspected.ok ? `the chain could not be read: ${facts.inspected.reason}` : "", `OpenSSL: ${failureDetail(facts)}`].filter(Boolean).join("; "),
      fix: text.fix(facts.context),
      details,
    };
  }
  if (!facts.socket) return { ...skipped("origin-certificate", "the handshake did not get as far as verifying it"), details };
  return { id: "origin-certificate", status: "pass", summary: `verified against ${facts.context.trustedCa} for ${facts.options.serverName}`, details };
}

function certificateRequestCheck(facts: Facts): DoctorCheck {
  if (!facts.inspected.ok) return skipped("client-certificate-request", facts.inspected.reason);
  const seen = facts.inspected.inspection;
  const presented = facts.options.clientCertificate;
  if (!seen.isClientCertRequested) {
    if (!presented) return { id: "client-certificate-request", status: "pass", summary: "the origin does not ask for a client certificate (and the edge presents none)" };
    return {
      id: "client-certificate-request",
      status: "fail",
      summary: "the origin does not ask for a client certificate",
      code: "origin-client-cert-not-requested",
      cause: `the origin sent no CertificateRequest, so it never sees ${presented.identity}: anyone who can reach it gets in without going through the edge`,
      fix: "make the origin require client certificates issued by Moat's CA (`moat origin-snippet` prints the settings for nginx, Node and others; `moat ca bundle` the CA)",
    };
  }
  const details = seen.acceptedCaNames.length > 0 ? seen.acceptedCaNames.map((name) => `accepts certificates issued by: ${name}`) : ["names no CAs (accepts any issuer it can verify)"];
  return { id: "client-certificate-request", status: "pass", summary: "the origin asks for a client certificate", details };
}

/** The origin answered, but with a page that says it refused the client certificate. */
function refusalPage(facts: Facts): string | null {
  return "statusCode" in facts.answer ? refusalPageOf(facts.answer.statusCode, facts.answer.bodyStart) : null;
}

function acceptedCheck(facts: Facts): DoctorCheck {
  const code = failureCode(facts);
  const presented = facts.options.clientCertificate;
  const page = refusalPage(facts);
  if (page) {
    const text = originFailureCatalog["origin-rejected-client-cert"];
    return {
      id: "client-certificate-accepted",
      status: "fail",
      summary: presented ? `the origin refused ${presented.identity} in its HTTP answer` : "the origin requires a client certificate and the edge presents none",
      code: "origin-rejected-client-cert",
      cause: [`the TLS handshake completed, then the origin answered 400 "${page}" (nginx checks client certificates after the handshake; the edge answers viewers such a 400 as a 502 with Moat-Error: origin-rejected-client-cert)`, caListCause(facts)].filter(Boolean).join("; "),
      fix: text.fix(facts.context),
    };
  }
  if (code === "origin-rejected-client-cert") {
    const text = originFailureCatalog[code];
    return {
      id: "client-certificate-accepted",
      status: "fail",
      summary: presented ? `the origin refused ${presented.identity}` : "the origin requires a client certificate and the edge presents none",
      code,
      cause: [text.what(facts.context, failureDetail(facts)), alertCause(facts), caListCause(facts)].filter(Boolean).join("; "),
      fix: text.fix(facts.context),
    };
  }
  if (!facts.socket || (code && CERTIFICATE_CODES.has(code))) return skipped("client-certificate-accepted", "no TLS connection to present it on");
  if (code === "origin-connection-reset" && presented) {
    return {
      id: "client-certificate-accepted",
      status: "fail",
      summary: `the origin closed the connection after the handshake: it may have refused ${presented.identity}`,
      code,
      cause: [originFailureCatalog[code].what(facts.context, failureDetail(facts)), caListCause(facts)].filter(Boolean).join("; "),
      fix: originFailureCatalog[code].fix(facts.context),
    };
  }
  if (!presented) return { id: "client-certificate-accepted", status: "pass", summary: "the origin answered without a client certificate" };
  return { id: "client-certificate-accepted", status: "pass", summary: `the origin accepted ${presented.identity}` };
}

function alertCause(facts: Facts): string {
  return facts.socket?.alert ? `the origin's TLS alert after the handshake: ${facts.socket.alert}` : "";
}

/** Whether the CA names the origin accepts include an issuer of the edge's certificate. */
function caListCause(facts: Facts): string {
  const seen = inspection(facts);
  const presented = facts.options.clientCertificate;
  if (!seen?.isClientCertRequested || seen.acceptedCaNames.length === 0) return "";
  const accepted = seen.acceptedCaNames;
  if (!presented) return `the origin accepts certificates issued by ${accepted.join("; ")}`;
  const chain = certificatesOfPem(presented.chainPem, "the client certificate");
  const issuers = [...new Set(chain.flatMap((cert) => [cert.issuer, ...(cert === chain[0] ? [] : [cert.subject])]))];
  const acceptedKeys = new Set(accepted.map(nameKey));
  if (issuers.some((issuer) => acceptedKeys.has(nameKey(issuer)))) {
    return `the origin lists an issuer of the edge's certificate among the CAs it accepts (${accepted.join("; ")}): look at its logs for why it refused it (revoked? a name rule?)`;
  }
  return `the origin accepts certificates issued by ${accepted.join("; ")}, and the edge's certificate is issued by ${issuers.map(oneLineName).join(" under ")}`;
}

function httpCheck(facts: Facts): DoctorCheck {
  if ("statusCode" in facts.answer) {
    const page = refusalPage(facts);
    if (page) return { id: "http-answer", status: "fail", summary: `GET ${facts.options.basePath}/ answered 400 "${page}"`, code: "origin-rejected-client-cert", cause: "see client-certificate-accepted above", fix: originFailureCatalog["origin-rejected-client-cert"].fix(facts.context) };
    return { id: "http-answer", status: "pass", summary: `GET ${facts.options.basePath}/ answered ${facts.answer.statusCode}` };
  }
  const code = facts.answer.failure.code;
  if (code === "origin-response-timeout" || code === "origin-bad-response" || (code === "origin-connection-reset" && !facts.options.clientCertificate)) {
    return failed("http-answer", `GET ${facts.options.basePath}/ got no answer`, { code, detail: failureDetail(facts) }, facts.context);
  }
  return skipped("http-answer", `no connection to ask on (${code})`);
}

function failed(id: string, summary: string, classified: { code: OriginFailureCode; detail: string }, context: OriginFailureContext): DoctorCheck {
  const text = originFailureCatalog[classified.code];
  return { id, status: "fail", summary, code: classified.code, cause: text.what(context, classified.detail), fix: text.fix(context) };
}

function skipped(id: string, why: string): DoctorCheck {
  return { id, status: "skip", summary: `not checked: ${why}` };
}

/** The chain Node verified, leaf first (the peer's issuerCertificate links, up to a self-issued one). */
function peerChain(socket: TLSSocket): X509Certificate[] {
  const chain: X509Certificate[] = [];
  let current = socket.getPeerCertificate(true);
  const seen = new Set<unknown>();
  while (current && current.raw && !seen.has(current)) {
    seen.add(current);
    chain.push(new X509Certificate(current.raw));
    current = current.issuerCertificate;
  }
  return chain;
}

function contextOf(options: OriginClientOptions): OriginFailureContext {
  return {
    distributionId: options.distributionId,
    originId: options.originId,
    url: options.url,
    serverName: options.serverName,
    trustedCa: options.trustedCaLabel,
    clientIdentity: options.clientCertificate?.identity ?? null,
    connectTimeoutMs: options.connectTimeoutMs,
    responseTimeoutMs: options.responseTimeoutMs,
  };
}
