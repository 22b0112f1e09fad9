// The origin side of enrolment: makes a key that never leaves the host, sends a CSR with the token, writes the guard directory, and later renews with a proof by the current key and refreshes the CRL.
import { sign, X509Certificate } from "node:crypto";
import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { Agent, request } from "undici";
import { EnrolmentError } from "../errors.ts";
import { GUARD_DIR_FILES } from "../guard/index.ts";
import { createKeyAndCsr, writeFileAtomic, writeKeyFileAtomic } from "../pki/index.ts";
import { ENROL_PATHS, renewalProofMessage, serialHexOf, type EnrolAnswer, type TrustAnswer } from "./enrol-protocol.ts";

/** `<dir>/enrolment.json`: where to renew and when; no secret in it. */
export const ENROLMENT_STATE_FILE = "enrolment.json";

export interface EnrolmentState {
  url: string;
  notAfter: string;
  renewAt: string;
  trustRefreshAt: string;
}

/** A P-256 key that never leaves this host, and its CSR (pki's one CSR maker). */
function newKeyAndCsr(): Promise<{ keyPem: string; csrPem: string }> {
  return createKeyAndCsr("ecdsa-p256", "moat-enrol");
}

async function call<T>(url: string, path: string, caPem: string, body?: unknown): Promise<T> {
  const dispatcher = new Agent({ connect: { ca: caPem } });
  try {
    const answer = await request(new URL(path, url), {
      dispatcher,
      method: body === undefined ? "GET" : "POST",
      headers: { "content-type": "application/json" },
      body: body === undefined ? null : JSON.stringify(body),
    });
    const json = (await answer.body.json()) as T & { error?: string; message?: string };
    if (answer.statusCode !== 200) {
      throw new EnrolmentError((json.error ?? "enrol-request-invalid") as EnrolmentError["code"], answer.statusCode, `the CA at ${url} refused: ${json.message ?? answer.statusCode}`);
    }
    return json;
  } finally {
    await dispatcher.close();
  }
}

function certificatesIn(pem: string): X509Certificate[] {
  return pem.split(/(?=-----BEGIN CERTIFICATE-----)/).filter((block) => block.includes("-----BEGIN CERTIFICATE-----")).map((block) => new X509Certificate(block));
}

/**
 * The new bundle, plus every intermediate of the old one that is still valid and still signed by a
 * root of the new one. After an intermediate rotation, edges keep certificates from the previous
 * intermediate for a while; a guard that sees only the leaf (nodejs/node#65579) needs that
 * intermediate to complete their path, so it stays until it expires or its root leaves the bundle.
 */
export function mergeBundles(oldPem: string | undefined, newPem: string, now: Date): string {
  const fresh = certificatesIn(newPem);
  const roots = fresh.filter((cert) => cert.checkIssued(cert));
  const kept = certificatesIn(oldPem ?? "").filter(
    (cert) =>
      cert.ca &&
      !cert.checkIssued(cert) &&
      now < cert.validToDate &&
      !fresh.some((other) => other.fingerprint256 === cert.fingerprint256) &&
      roots.some((root) => cert.checkIssued(root) && cert.verify(root.publicKey)),
  );
  return newPem + kept.map((cert) => cert.toString()).join("");
}

async function writeTrust(dir: string, trust: { caBundle: string; crlBundle: string }): Promise<void> {
  // The CRL first: a bundle with a new root must never be live without that root's CRL.
  await writeFileAtomic(join(dir, GUARD_DIR_FILES.crl), trust.crlBundle, 0o644);
  const old = await readFile(join(dir, GUARD_DIR_FILES.caBundle), "utf8").catch(() => undefined);
  await writeFileAtomic(join(dir, GUARD_DIR_FILES.caBundle), mergeBundles(old, trust.caBundle, new Date()), 0o644);
}

async function writeAnswer(dir: string, url: string, keyPem: string, answer: EnrolAnswer, trustRefreshAt: string): Promise<EnrolmentState> {
  await writeTrust(dir, answer);
  await writeKeyFileAtomic(join(dir, GUARD_DIR_FILES.key), keyPem);
  await writeFileAtomic(join(dir, GUARD_DIR_FILES.cert), answer.certificate, 0o644);
  const state: EnrolmentState = { url, notAfter: answer.notAfter, renewAt: answer.renewAt, trustRefreshAt };
  await writeFileAtomic(join(dir, ENROLMENT_STATE_FILE), `${JSON.stringify(state, null, 2)}\n`, 0o644);
  return state;
}

/**
 * First enrolment: a fresh key (written 0600 in `dir`, never sent), a CSR, the token. Writes the guard
 * directory: server.crt, server.key, ca-bundle.pem, crl-bundle.pem, enrolment.json.
 *
 * @example
 * await enrolHost({ url: "https://ca.internal:9444", token, caBundlePem: await readFile("moat-ca.pem", "utf8"), dir: "/etc/moat-guard" });
 */
export async function enrolHost(options: { url: string; token: string; caBundlePem: string; dir: string }): Promise<EnrolmentState> {
  await mkdir(options.dir, { recursive: true, mode: 0o755 });
  const { keyPem, csrPem } = await newKeyAndCsr();
  const answer = await call<EnrolAnswer>(options.url, ENROL_PATHS.enrol, options.caBundlePem, { token: options.token, csr: csrPem });
  const trust = await call<TrustAnswer>(options.url, ENROL_PATHS.trust, answer.caBundle);
  return writeAnswer(options.dir, options.url, keyPem, answer, trust.refreshAt);
}

export async function readEnrolmentState(dir: string): Promise<EnrolmentState> {
  try {
    return JSON.parse(await readFile(join(dir, ENROLMENT_STATE_FILE), "utf8")) as EnrolmentState;
  } catch (cause) {
    throw new EnrolmentError("enrol-request-invalid", 400, `${join(dir, ENROLMENT_STATE_FILE)} is missing or unreadable: this directory was not enrolled.`, { fix: "run `moat enrol request` first", cause });
  }
}

/**
 * Renews the certificate now: a fresh key and CSR, signed over with the current key to prove the
 * request comes from the enrolled host. The CA gives the same names the token granted.
 */
export async function renewHost(options: { dir: string; now?: Date }): Promise<EnrolmentState> {
  const state = await readEnrolmentState(options.dir);
  const [currentChain, currentKey, caBundle] = await Promise.all(
    [GUARD_DIR_FILES.cert, GUARD_DIR_FILES.key, GUARD_DIR_FILES.caBundle].map((file) => readFile(join(options.dir, file), "utf8")),
  ) as [string, string, string];
  const { keyPem, csrPem } = await newKeyAndCsr();
  const signedAt = (options.now ?? new Date()).toISOString();
  const [leaf] = certificatesIn(currentChain);
  if (!leaf) throw new EnrolmentError("enrol-request-invalid", 400, `${join(options.dir, GUARD_DIR_FILES.cert)} holds no certificate: there is nothing to renew.`, { fix: "enrol again: `moat enrol request` with a new token" });
  const current = { fingerprint256: leaf.fingerprint256, serialHex: serialHexOf(leaf.serialNumber) };
  const proof = sign("sha256", renewalProofMessage(csrPem, signedAt, current), currentKey).toString("base64");
  const answer = await call<EnrolAnswer>(state.url, ENROL_PATHS.renew, caBundle, { csr: csrPem, certificate: currentChain, signedAt, proof });
  return writeAnswer(options.dir, state.url, keyPem, answer, state.trustRefreshAt);
}

/** Fetches the CA bundle and a fresh CRL bundle into the directory (the guard reloads them). */
export async function refreshTrust(options: { dir: string }): Promise<EnrolmentState> {
  const state = await readEnrolmentState(options.dir);
  const caBundle = await readFile(join(options.dir, GUARD_DIR_FILES.caBundle), "utf8");
  const trust = await call<TrustAnswer>(state.url, ENROL_PATHS.trust, caBundle);
  await writeTrust(options.dir, trust);
  const next = { ...state, trustRefreshAt: trust.refreshAt };
  await writeFileAtomic(join(options.dir, ENROLMENT_STATE_FILE), `${JSON.stringify(next, null, 2)}\n`, 0o644);
  return next;
}
