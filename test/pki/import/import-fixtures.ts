// Test helper: certificates and keys in every form an import accepts, made at run time (no PEM or key is ever committed).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createPrivateKey, webcrypto } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import forge from "node-forge";
import { CertificateImportError, type CertificateImportCode } from "../../../src/errors.ts";
import type { CertificateAuthority, IssuedCertificate } from "../../../src/pki/index.ts";
import { x509, type X509 } from "../../../src/pki/x509-lib.ts";

export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;
export const PASSPHRASE = "correct horse battery staple";
export const originIdentity = { trustDomain: "moat.internal", distributionId: "shop", originId: "api", validityMs: HOUR_MS };

/** Each certificate block of a PEM, as text. */
export function pemCerts(pem: string): string[] {
  return pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n/g) ?? [];
}

/** The issued certificate's key re-encoded: PKCS#1 (RSA), SEC1 (EC), or PKCS#8, optionally encrypted. */
export function keyAs(issued: IssuedCertificate, type: "pkcs1" | "sec1" | "pkcs8", cipher?: string): string {
  const key = createPrivateKey(issued.keyPem);
  if (!cipher) return key.export({ type, format: "pem" }) as string;
  return key.export({ type, format: "pem", cipher, passphrase: PASSPHRASE }) as string;
}

/** Asserts the import rejects with this code, the message mentions each fragment, and no key material or passphrase leaks into it. */
export async function assertRefused(
  promise: Promise<unknown>,
  code: CertificateImportCode,
  mentions: readonly (string | RegExp)[] = [],
  secrets: readonly string[] = [],
): Promise<CertificateImportError> {
  const error = await promise.then(
    () => assert.fail(`expected ${code}, but the import succeeded`),
    (caught: unknown) => caught,
  );
  assert.ok(error instanceof CertificateImportError, `expected CertificateImportError, got ${String(error)}`);
  assert.equal(error.code, code, error.message);
  assert.equal(error.status, 400);
  assert.ok(error.fix && error.fix.length > 0, "every refusal says how to fix it");
  for (const fragment of mentions) {
    if (typeof fragment === "string") assert.ok(error.message.includes(fragment), `message lacks "${fragment}": ${error.message}`);
    else assert.match(error.message, fragment);
  }
  for (const secret of [PASSPHRASE, ...secrets]) assertNotLeaked(error, secret);
  return error;
}

/** No passphrase, and no line of a key's base64, in the message, the fix or the cause. */
function assertNotLeaked(error: CertificateImportError, secret: string): void {
  const text = `${error.message}\n${error.fix}\n${String(error.cause ?? "")}`;
  const fragments = secret.includes("-----BEGIN") ? secret.split("\n").filter((line) => line.length > 16 && !line.startsWith("-----")) : [secret];
  for (const fragment of fragments) assert.ok(!text.includes(fragment), "the error text carries key material or the passphrase");
}

/** A self-signed certificate with chosen extensions (for what Moat's CA never issues: a CA leaf, no EKU, odd key usage). */
export async function selfSigned(options: { isCa: boolean; eku?: string[]; keyUsage?: number; dnsName?: string }): Promise<{ certPem: string; keyPem: string }> {
  const alg = EC_ALG;
  const keys = await ecKeys();
  const extensions: X509.Extension[] = [new x509.BasicConstraintsExtension(options.isCa, undefined, true)];
  if (options.eku) extensions.push(new x509.ExtendedKeyUsageExtension(options.eku, false));
  if (options.keyUsage !== undefined) extensions.push(new x509.KeyUsagesExtension(options.keyUsage, true));
  extensions.push(new x509.SubjectAlternativeNameExtension([{ type: "dns", value: options.dnsName ?? "self.test" }]));
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    name: `CN=${options.dnsName ?? "self.test"}`,
    keys,
    signingAlgorithm: alg,
    notBefore: new Date(Date.now() - HOUR_MS),
    notAfter: new Date(Date.now() + DAY_MS),
    extensions,
  });
  const keyPem = webcrypto.subtle.exportKey("pkcs8", keys.privateKey).then((der) => x509.PemConverter.encode(der, "PRIVATE KEY"));
  return { certPem: `${cert.toString("pem")}\n`, keyPem: `${await keyPem}\n` };
}

const EC_ALG = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };

async function ecKeys(): Promise<webcrypto.CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(EC_ALG, true, ["sign", "verify"])) as webcrypto.CryptoKeyPair;
}

/** root → intermediate → server leaf, made with @peculiar/x509 directly for what Moat's CA never issues: a leaf that outlives its intermediate. */
export async function craftChain(intermediateNotAfter: Date): Promise<{ chainPem: string; keyPem: string; rootPem: string }> {
  const [rootKeys, intermediateKeys, leafKeys] = await Promise.all([ecKeys(), ecKeys(), ecKeys()]);
  const notBefore = new Date(intermediateNotAfter.getTime() - 30 * DAY_MS);
  const caExtensions = () => [new x509.BasicConstraintsExtension(true, undefined, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true)];
  const root = await x509.X509CertificateGenerator.createSelfSigned({
    name: "CN=Crafted Root", keys: rootKeys, signingAlgorithm: EC_ALG, notBefore, notAfter: new Date(Date.now() + 365 * DAY_MS), extensions: caExtensions(),
  });
  const intermediate = await x509.X509CertificateGenerator.create({
    subject: "CN=Crafted Intermediate", issuer: root.subject, publicKey: intermediateKeys.publicKey, signingKey: rootKeys.privateKey,
    signingAlgorithm: EC_ALG, notBefore, notAfter: intermediateNotAfter, extensions: caExtensions(),
  });
  const leaf = await x509.X509CertificateGenerator.create({
    subject: "CN=shop.example.test", issuer: intermediate.subject, publicKey: leafKeys.publicKey, signingKey: intermediateKeys.privateKey,
    signingAlgorithm: EC_ALG, notBefore, notAfter: new Date(Date.now() + 30 * DAY_MS),
    extensions: [new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]), new x509.SubjectAlternativeNameExtension([{ type: "dns", value: "shop.example.test" }])],
  });
  const keyDer = await webcrypto.subtle.exportKey("pkcs8", leafKeys.privateKey);
  return {
    chainPem: `${leaf.toString("pem")}\n${intermediate.toString("pem")}\n`,
    keyPem: `${x509.PemConverter.encode(keyDer, "PRIVATE KEY")}\n`,
    rootPem: `${root.toString("pem")}\n`,
  };
}

export type Pkcs12Flavor = "modern" | "legacy";

/** A PKCS#12 made by node-forge: "modern" = PBES2/AES-256-CBC key bag, "legacy" = pbeWithSHAAnd3-KeyTripleDES-CBC. RSA only (forge's limit). */
export function forgePkcs12(keyPem: string, certsPem: readonly string[], passphrase: string, flavor: Pkcs12Flavor): Buffer {
  const key = forge.pki.privateKeyFromPem(createPrivateKey(keyPem).export({ type: "pkcs1", format: "pem" }) as string);
  const certs = certsPem.map((pem) => forge.pki.certificateFromPem(pem));
  const asn1 = forge.pkcs12.toPkcs12Asn1(key, certs, passphrase, { algorithm: flavor === "modern" ? "aes256" : "3des" });
  return Buffer.from(forge.asn1.toDer(asn1).getBytes(), "binary");
}

/** Whether the openssl binary is on PATH (and whether it is OpenSSL 3, whose default export is AES-256-CBC/PBES2). */
export function opensslVersion(): { isPresent: boolean; isV3: boolean } {
  const result = spawnSync("openssl", ["version"], { encoding: "utf8" });
  if (result.error || result.status !== 0) return { isPresent: false, isV3: false };
  return { isPresent: true, isV3: /^OpenSSL 3\./.test(result.stdout) };
}

/** A PKCS#12 made by `openssl pkcs12 -export` (3.x default: PBES2/AES-256-CBC, HMAC-SHA256 MAC; `-legacy`: RC2-40 + 3DES, SHA-1 MAC). */
export async function opensslPkcs12(keyPem: string, chainPem: string, passphrase: string, flavor: Pkcs12Flavor): Promise<Buffer> {
  const dir = await mkdtemp(join(tmpdir(), "moat-p12-"));
  try {
    await writeFile(join(dir, "key.pem"), keyPem, { mode: 0o600 });
    await writeFile(join(dir, "chain.pem"), chainPem);
    const legacy = flavor === "legacy" && opensslVersion().isV3 ? ["-legacy"] : [];
    const args = ["pkcs12", "-export", "-inkey", join(dir, "key.pem"), "-in", join(dir, "chain.pem"), "-out", join(dir, "out.p12"), "-passout", "env:MOAT_TEST_P12_PASS", ...legacy];
    // The passphrase goes through the environment, never argv (visible in ps).
    const result = spawnSync("openssl", args, { env: { ...process.env, MOAT_TEST_P12_PASS: passphrase }, encoding: "utf8" });
    assert.equal(result.status, 0, `openssl pkcs12 -export failed: ${result.stderr}`);
    return await readFile(join(dir, "out.p12"));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A PKCS#12 from openssl when it is on PATH (interop), else the same content from node-forge, so the suite passes without the binary. */
export async function pkcs12(keyPem: string, certsPem: readonly string[], passphrase: string, flavor: Pkcs12Flavor): Promise<{ data: Buffer; madeBy: string }> {
  if (opensslVersion().isPresent) return { data: await opensslPkcs12(keyPem, certsPem.join(""), passphrase, flavor), madeBy: "openssl" };
  return { data: forgePkcs12(keyPem, certsPem, passphrase, flavor), madeBy: "node-forge" };
}

/** Issues a server certificate from `ca` for the names, valid for an hour from now unless overridden. */
export function serverCert(ca: CertificateAuthority, dnsNames: string[], extra: { notBefore?: Date; notAfter?: Date } = {}): Promise<IssuedCertificate> {
  return ca.issueServerCertificate({ dnsNames, ipAddresses: ["127.0.0.1"], validityMs: HOUR_MS, ...extra });
}
