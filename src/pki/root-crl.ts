// The root's CRL, <dataDir>/ca/root-crl.{der,pem}: says the intermediate is not revoked, so that verifiers checking every level of the chain accept Moat's leaves.
//
// OpenSSL-based origins check a CRL for every certificate of the chain, not only
// the leaf: Node's `tls` (the `crl` option) and nginx (`ssl_crl`) both set
// X509_V_FLAG_CRL_CHECK_ALL, and then a chain whose intermediate has no CRL from
// the root fails with "unable to get certificate CRL". The root's CRL lists
// nothing (Moat revokes an intermediate by creating a new CA), so it is signed
// rarely: it stays valid for as long as the intermediate it speaks about.
import { X509Certificate } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { CaExpiredError } from "../errors.ts";
import { loadCaSigner, rootKeyPath } from "./ca-signer.ts";
import { signCrlWith } from "./crl-sign.ts";
import { CERT_FILE_MODE, writeFileAtomic } from "./key-files.ts";
import type { MasterKey } from "./master-key.ts";
import { CLOCK_SKEW_BACKDATE_MS } from "./sign.ts";
import type { CertificateAuthority, SignedCrl } from "./types.ts";
import { x509, type X509 } from "./x509-lib.ts";

export const ROOT_CRL_FILES = { der: "root-crl.der", pem: "root-crl.pem" } as const;

// X.509 times have one-second precision.
const TIME_SLACK_MS = 1_000;

/** The stored root CRL, if it is the current root's, verifies, and covers the intermediate's whole life. */
async function readValidRootCrl(dataDir: string, ca: CertificateAuthority): Promise<{ crl: X509.X509Crl; pem: string } | undefined> {
  const caDir = join(dataDir, "ca");
  try {
    const [der, pem] = await Promise.all([readFile(join(caDir, ROOT_CRL_FILES.der)), readFile(join(caDir, ROOT_CRL_FILES.pem), "utf8")]);
    const crl = new x509.X509Crl(der);
    const root = new x509.X509Certificate(ca.rootPem);
    const intermediateNotAfter = new X509Certificate(ca.intermediatePem).validToDate;
    const isCurrent = crl.issuer === root.subject && (await crl.verify({ publicKey: root }));
    const isLongEnough = (crl.nextUpdate?.getTime() ?? 0) >= intermediateNotAfter.getTime() - TIME_SLACK_MS;
    const isSame = Buffer.from(new x509.X509Crl(pem).rawData).equals(der);
    return isCurrent && isLongEnough && isSame ? { crl, pem } : undefined;
  } catch {
    return undefined; // missing, unreadable or another CA's: sign a new one
  }
}

/**
 * The root's CRL PEM, signing and writing a new one (numbered by `reserveCrlNumber`) when the
 * stored one is missing, not this root's, or ends before the intermediate does.
 */
export async function ensureRootCrl(options: {
  ca: CertificateAuthority;
  dataDir: string;
  /** Decrypts root.key when the root's CRL must be signed. */
  masterKey: MasterKey;
  now: Date;
  reserveCrlNumber: () => Promise<number>;
}): Promise<string> {
  const { ca, dataDir, now } = options;
  const stored = await readValidRootCrl(dataDir, ca);
  if (stored) return stored.pem;
  const intermediateNotAfter = new X509Certificate(ca.intermediatePem).validToDate;
  if (now.getTime() >= intermediateNotAfter.getTime()) throw new CaExpiredError(intermediateNotAfter);
  // Decrypted only now: once per CA (and per intermediate renewal) in practice; the CertificateAuthority never holds it.
  const signer = await loadCaSigner(rootKeyPath(dataDir), ca.rootPem, options.masterKey);
  const signed: SignedCrl = await signCrlWith(signer, [], {
    thisUpdate: new Date(now.getTime() - CLOCK_SKEW_BACKDATE_MS),
    nextUpdate: intermediateNotAfter,
    crlNumber: await options.reserveCrlNumber(),
  });
  const caDir = join(dataDir, "ca");
  await writeFileAtomic(join(caDir, ROOT_CRL_FILES.der), signed.der, CERT_FILE_MODE);
  await writeFileAtomic(join(caDir, ROOT_CRL_FILES.pem), signed.pem, CERT_FILE_MODE);
  return signed.pem;
}
