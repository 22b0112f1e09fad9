// Test helper: a partner CA (one level, as many partner PKIs are) that mints viewer client certificates of every kind a test needs, and its CRL; all made at run time.
import { webcrypto } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomSerialHex } from "../../src/pki/sign.ts";
import { x509, type X509 } from "../../src/pki/x509-lib.ts";

const HOUR_MS = 3_600_000;
const EC_ALG = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };

export type ViewerCertKind = "valid" | "expired" | "not-yet-valid" | "server-auth-only" | "no-eku";

export interface ViewerCert {
  certPem: string;
  /** Leaf then the CA (what a client sends). */
  chainPem: string;
  keyPem: string;
  serialHex: string;
  subject: string;
}

export interface ViewerCa {
  certPem: string;
  subject: string;
  issue(kind: ViewerCertKind, commonName?: string): Promise<ViewerCert>;
  /** A CRL listing these serials, valid for an hour (or until `nextUpdate`). */
  crl(revokedSerials: readonly string[], options?: { thisUpdate?: Date; nextUpdate?: Date }): Promise<string>;
}

async function ecKeys(): Promise<webcrypto.CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(EC_ALG, true, ["sign", "verify"])) as webcrypto.CryptoKeyPair;
}


/**
 * @example
 * const partners = await createViewerCa("Partner CA");
 * const alice = await partners.issue("valid", "alice");
 * tls.connect({ cert: alice.chainPem, key: alice.keyPem, ... });
 */
export async function createViewerCa(name: string, options: { isCa?: boolean; notAfter?: Date } = {}): Promise<ViewerCa> {
  const keys = await ecKeys();
  const now = Date.now();
  const extensions: X509.Extension[] = [new x509.BasicConstraintsExtension(options.isCa ?? true, undefined, true)];
  if (options.isCa ?? true) extensions.push(new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true));
  extensions.push(await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, webcrypto));
  const ca = await x509.X509CertificateGenerator.createSelfSigned(
    { serialNumber: randomSerialHex(), name: `O=Moat Tests, CN=${name}`, keys, signingAlgorithm: EC_ALG, notBefore: new Date(now - 2 * HOUR_MS), notAfter: options.notAfter ?? new Date(now + 24 * HOUR_MS), extensions },
    webcrypto,
  );
  const certPem = `${ca.toString("pem")}\n`;
  const keyId = ca.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId ?? "";

  async function issue(kind: ViewerCertKind, commonName = `viewer-${kind}`): Promise<ViewerCert> {
    const leafKeys = await ecKeys();
    const t = Date.now();
    const window =
      kind === "expired" ? { notBefore: new Date(t - 3 * HOUR_MS), notAfter: new Date(t - HOUR_MS) }
      : kind === "not-yet-valid" ? { notBefore: new Date(t + HOUR_MS), notAfter: new Date(t + 3 * HOUR_MS) }
      : { notBefore: new Date(t - HOUR_MS), notAfter: new Date(t + 2 * HOUR_MS) };
    const eku = kind === "no-eku" ? [] : [new x509.ExtendedKeyUsageExtension([kind === "server-auth-only" ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth], false)];
    const serialHex = randomSerialHex();
    const leaf = await x509.X509CertificateGenerator.create(
      {
        serialNumber: serialHex,
        subject: `C=FR, O=Partner, CN=${commonName}`,
        issuer: ca.subject,
        publicKey: leafKeys.publicKey,
        signingKey: keys.privateKey,
        signingAlgorithm: EC_ALG,
        ...window,
        extensions: [
          new x509.BasicConstraintsExtension(false, undefined, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
          ...eku,
          new x509.SubjectAlternativeNameExtension([{ type: "dns", value: `${commonName}.partner.test` }, { type: "url", value: `spiffe://partner.test/${commonName}` }]),
          new x509.AuthorityKeyIdentifierExtension(keyId),
        ],
      },
      webcrypto,
    );
    const keyDer = await webcrypto.subtle.exportKey("pkcs8", leafKeys.privateKey);
    const leafPem = `${leaf.toString("pem")}\n`;
    return { certPem: leafPem, chainPem: leafPem + certPem, keyPem: `${x509.PemConverter.encode(keyDer, "PRIVATE KEY")}\n`, serialHex: serialHex.toLowerCase(), subject: leaf.subject };
  }

  async function crl(revokedSerials: readonly string[], crlOptions: { thisUpdate?: Date; nextUpdate?: Date } = {}): Promise<string> {
    const t = Date.now();
    const signed = await x509.X509CrlGenerator.create(
      {
        issuer: ca.subject,
        thisUpdate: crlOptions.thisUpdate ?? new Date(t - 60_000),
        nextUpdate: crlOptions.nextUpdate ?? new Date(t + HOUR_MS),
        signingKey: keys.privateKey,
        signingAlgorithm: EC_ALG,
        extensions: [new x509.AuthorityKeyIdentifierExtension(keyId)],
        entries: revokedSerials.map((serialNumber) => ({ serialNumber, revocationDate: new Date(t - 1000), reason: 1 })),
      },
      webcrypto,
    );
    return `${x509.PemConverter.encode(signed.rawData, "X509 CRL")}\n`;
  }

  return { certPem, subject: ca.subject, issue, crl };
}

/** A temporary directory for trust store files; `write` returns the absolute path. */
export async function createFileDir(): Promise<{ dir: string; write(name: string, text: string): Promise<string>; remove(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), "moat-viewer-pki-"));
  return {
    dir,
    write: async (name, text) => {
      const file = join(dir, name);
      await writeFile(file, text);
      return file;
    },
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}
