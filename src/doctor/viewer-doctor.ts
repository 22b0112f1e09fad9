// `moat doctor viewer`: judges a viewer certificate against a trust store exactly as the edge's viewer check does: OpenSSL's verification (through `openssl verify`, with the trust store's CAs and CRLs) then the edge's own verdict function.
import { spawn } from "node:child_process";
import type { X509Certificate } from "node:crypto";
import { judgeConnection, pathToStore, REFUSAL_SUMMARIES } from "../tls/index.ts";
import type { ClientCertRefusalReason, LoadedTrustStore } from "../tls/index.ts";
import { certificatesOfPem, describeInLine, oneLineName } from "./certificate-facts.ts";
import { doctorReport } from "./doctor-report.ts";
import type { DoctorCheck, DoctorReport } from "./doctor-report.ts";

export interface ViewerDoctorTarget {
  /** The PEM file of the viewer's certificate (leaf first, then any intermediates it sends). */
  certFile: string;
  certPem: string;
  /** The trust store the edge would use, loaded as the edge loads it. */
  trustStore: LoadedTrustStore;
  /** Its CA bundle and CRL files, for OpenSSL. */
  caBundleFile: string;
  crlFiles: readonly string[];
  subject: string;
}

const CLIENT_AUTH = "1.3.6.1.5.5.7.3.2";
const ANY_EKU = "2.5.29.37.0";

/** What to do about each refusal, said to the operator (REFUSAL_SUMMARIES says what it is). */
const FIXES: Readonly<Record<ClientCertRefusalReason, string>> = {
  "client-cert-missing": "present a client certificate",
  "client-cert-untrusted": "issue the viewer's certificate from a CA of the trust store, or add its CA (and any intermediate the viewer does not send) to the trust store's caBundle",
  "client-cert-expired": "issue the viewer a new certificate",
  "client-cert-not-yet-valid": "check the clocks of the edge and of the issuing CA, or wait until the certificate's notBefore",
  "client-cert-revoked": "issue the viewer a new certificate (a revoked one is never accepted again)",
  "client-cert-wrong-usage": "issue a certificate with extendedKeyUsage clientAuth (or, for certificates with no EKU at all, set allowNoEku on the trust store)",
  "client-cert-crl-missing": "add the CRL of every CA of the chain to the trust store's crls (OpenSSL checks a CRL for each one when any is configured)",
  "client-cert-crl-stale": "fetch a current CRL from the CA and replace the trust store's CRL file (the edge reloads it)",
  "client-cert-session-unverified": "open a new connection",
  "client-cert-invalid": "check the certificate with `openssl verify -CAfile <trust store bundle> -purpose sslclient <cert>`",
};

// OpenSSL's verify error numbers (X509_V_ERR_*, stable across versions) as Node names them in `authorizationError`.
const OPENSSL_ERRORS: Readonly<Record<number, string>> = {
  2: "UNABLE_TO_GET_ISSUER_CERT",
  3: "UNABLE_TO_GET_CRL",
  4: "UNABLE_TO_DECRYPT_CERT_SIGNATURE",
  5: "UNABLE_TO_DECRYPT_CRL_SIGNATURE",
  6: "UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY",
  7: "CERT_SIGNATURE_FAILURE",
  8: "CRL_SIGNATURE_FAILURE",
  9: "CERT_NOT_YET_VALID",
  10: "CERT_HAS_EXPIRED",
  11: "CRL_NOT_YET_VALID",
  12: "CRL_HAS_EXPIRED",
  18: "DEPTH_ZERO_SELF_SIGNED_CERT",
  19: "SELF_SIGNED_CERT_IN_CHAIN",
  20: "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  21: "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  22: "CERT_CHAIN_TOO_LONG",
  23: "CERT_REVOKED",
  24: "INVALID_CA",
  25: "PATH_LENGTH_EXCEEDED",
  26: "INVALID_PURPOSE",
  27: "CERT_UNTRUSTED",
  28: "CERT_REJECTED",
  33: "UNABLE_TO_GET_CRL_ISSUER",
};

/**
 * @example
 * const report = await diagnoseViewer({ certFile, certPem, trustStore, caBundleFile, crlFiles, subject: "trust store partners" }, { timeoutMs: 5000 });
 */
export async function diagnoseViewer(target: ViewerDoctorTarget, doctor: { timeoutMs: number; now?: Date; openssl?: string }): Promise<DoctorReport> {
  const now = doctor.now ?? new Date();
  const store = target.trustStore;
  let sent: X509Certificate[];
  try {
    sent = certificatesOfPem(target.certPem, target.certFile);
  } catch (error) {
    const cause = error instanceof Error ? error.message : String(error);
    return doctorReport(target.subject, [{ id: "certificate", status: "fail", summary: `${target.certFile} cannot be read as a certificate`, code: "client-cert-invalid", cause, fix: "give the viewer's certificate in PEM (-----BEGIN CERTIFICATE-----), leaf first" }]);
  }
  const leaf = sent[0];
  if (!leaf) {
    return doctorReport(target.subject, [{ id: "certificate", status: "fail", summary: `${target.certFile} holds no certificate`, code: "client-cert-missing", cause: "no PEM CERTIFICATE block in the file", fix: "give the viewer's certificate in PEM (-----BEGIN CERTIFICATE-----)" }]);
  }
  const checks: DoctorCheck[] = [{ id: "certificate", status: "pass", summary: describeInLine(leaf), details: [`names: ${leaf.subjectAltName ?? "(no subjectAltName)"}`, `extended key usage: ${leaf.keyUsage?.join(", ") ?? "(none)"}`] }];
  const path = pathToStore(leaf, sent.slice(1), store.cas);
  checks.push(chainCheck(path, leaf, store), validityCheck(path ?? [leaf], now), usageCheck(leaf, store), revocationCheck(path ?? [leaf], store, target.crlFiles));

  const verified = await opensslVerify(target, doctor);
  if (!verified.ok) {
    checks.push({ id: "edge-verdict", status: "fail", summary: "could not run OpenSSL's verification", code: "doctor-openssl-unavailable", cause: verified.reason, fix: "install openssl (apt-get install openssl) or put it on the PATH" });
    return doctorReport(target.subject, checks);
  }
  // The edge's own verdict function, with OpenSSL's result as the handshake would have given it.
  const verdict = judgeConnection({ mode: "required", trustStore: store, peer: leaf, sentChain: sent.slice(1), authorizationError: verified.error, isResumed: false, wasVerifiedBefore: false, now });
  if (verdict.ok) {
    checks.push({ id: "edge-verdict", status: "pass", summary: `the edge accepts this certificate for trust store ${store.name}` });
  } else {
    checks.push({ id: "edge-verdict", status: "fail", summary: `the edge refuses it: ${REFUSAL_SUMMARIES[verdict.reason]}`, code: verdict.reason, cause: verdict.detail, fix: FIXES[verdict.reason] });
  }
  return doctorReport(target.subject, checks);
}

function chainCheck(path: X509Certificate[] | null, leaf: X509Certificate, store: LoadedTrustStore): DoctorCheck {
  if (path) {
    const anchor = store.cas.find((ca) => path.at(-1)!.checkIssued(ca) && path.at(-1)!.verify(ca.publicKey));
    const names = [...path.map((cert) => oneLineName(cert.subject)), anchor ? `${oneLineName(anchor.subject)} (trust store ${store.name})` : ""].filter(Boolean);
    return { id: "chain", status: "pass", summary: `chains to a CA of trust store ${store.name}`, details: names.map((name, index) => `${index}: ${name}`) };
  }
  return {
    id: "chain",
    status: "fail",
    summary: `does not chain to a CA of trust store ${store.name}`,
    code: "client-cert-untrusted",
    cause: `the certificate is issued by ${oneLineName(leaf.issuer)}; the trust store holds ${store.caSubjects.join("; ") || "no CA"}`,
    fix: FIXES["client-cert-untrusted"],
  };
}

function validityCheck(path: readonly X509Certificate[], now: Date): DoctorCheck {
  for (const [index, cert] of path.entries()) {
    const what = index === 0 ? "the certificate" : `its issuer ${oneLineName(cert.subject)}`;
    if (cert.validToDate.getTime() <= now.getTime()) return { id: "validity", status: "fail", summary: `${what} has expired`, code: "client-cert-expired", cause: `${what} expired at ${cert.validToDate.toISOString()} (now ${now.toISOString()})`, fix: FIXES["client-cert-expired"] };
    if (cert.validFromDate.getTime() > now.getTime()) return { id: "validity", status: "fail", summary: `${what} is not valid yet`, code: "client-cert-not-yet-valid", cause: `${what} is not valid before ${cert.validFromDate.toISOString()} (now ${now.toISOString()})`, fix: FIXES["client-cert-not-yet-valid"] };
  }
  return { id: "validity", status: "pass", summary: `valid until ${path[0]!.validToDate.toISOString()}` };
}

function usageCheck(leaf: X509Certificate, store: LoadedTrustStore): DoctorCheck {
  const ekus = leaf.keyUsage;
  if (ekus === undefined) {
    if (store.allowNoEku) return { id: "key-usage", status: "pass", summary: `no EKU extension, which trust store ${store.name} allows (allowNoEku)` };
    return { id: "key-usage", status: "fail", summary: "no EKU extension", code: "client-cert-wrong-usage", cause: `trust store ${store.name} requires extendedKeyUsage clientAuth`, fix: FIXES["client-cert-wrong-usage"] };
  }
  if (ekus.includes(CLIENT_AUTH) || ekus.includes(ANY_EKU)) return { id: "key-usage", status: "pass", summary: "extendedKeyUsage includes clientAuth" };
  return { id: "key-usage", status: "fail", summary: "extendedKeyUsage lacks clientAuth", code: "client-cert-wrong-usage", cause: `the certificate's EKU is ${ekus.join(", ")}: it is not meant for client authentication`, fix: FIXES["client-cert-wrong-usage"] };
}

function revocationCheck(path: readonly X509Certificate[], store: LoadedTrustStore, crlFiles: readonly string[]): DoctorCheck {
  if (crlFiles.length === 0) return { id: "revocation", status: "pass", summary: `not checked: trust store ${store.name} has no CRLs` };
  const revoked = path.find((cert) => store.isRevoked(cert));
  if (revoked) {
    const what = revoked === path[0] ? "the certificate" : `its issuer ${oneLineName(revoked.subject)}`;
    return { id: "revocation", status: "fail", summary: `${what} is revoked`, code: "client-cert-revoked", cause: `serial ${revoked.serialNumber.toLowerCase()} is listed on a CRL of trust store ${store.name}`, fix: FIXES["client-cert-revoked"] };
  }
  return { id: "revocation", status: "pass", summary: `not listed on the CRLs of trust store ${store.name} (${crlFiles.length} file(s))` };
}

type VerifyResult = { ok: true; error: string | null } | { ok: false; reason: string };

/**
 * OpenSSL's verdict as the edge's handshake reaches it: the trust store's CAs, its CRLs checked for the whole
 * chain (Node sets CRL_CHECK and CRL_CHECK_ALL when a context has CRLs), and the TLS client purpose. The last
 * error is kept, as Node's `authorizationError` keeps it.
 */
function opensslVerify(target: ViewerDoctorTarget, doctor: { timeoutMs: number; openssl?: string }): Promise<VerifyResult> {
  const crls = target.crlFiles.flatMap((file) => ["-CRLfile", file]);
  const args = ["verify", "-CAfile", target.caBundleFile, ...crls, ...(crls.length > 0 ? ["-crl_check_all"] : []), "-purpose", "sslclient", "-untrusted", target.certFile, target.certFile];
  return new Promise((resolve) => {
    const child = spawn(doctor.openssl ?? "openssl", args, { stdio: ["ignore", "pipe", "pipe"] });
    const out: Buffer[] = [];
    child.stdout.on("data", (chunk: Buffer) => out.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => out.push(chunk));
    const timer = setTimeout(() => child.kill("SIGKILL"), doctor.timeoutMs);
    child.on("error", (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve({ ok: false, reason: error.code === "ENOENT" ? "openssl is not installed" : error.message });
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (signal === "SIGKILL") return resolve({ ok: false, reason: `openssl verify did not finish within ${doctor.timeoutMs} ms` });
      const text = Buffer.concat(out).toString("utf8");
      const numbers = [...text.matchAll(/^error (\d+) at \d+ depth lookup/gm)].map((match) => Number(match[1]));
      const last = numbers.at(-1);
      if (code === 0 && last === undefined) return resolve({ ok: true, error: null });
      resolve({ ok: true, error: last === undefined ? "CERT_REJECTED" : (OPENSSL_ERRORS[last] ?? `X509_V_ERR_${last}`) });
    });
  });
}
