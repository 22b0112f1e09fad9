// Checks that the leaf may do what it is imported for: not a CA, extended key usage serverAuth or clientAuth, a key usage that lets it sign.
import { CertificateImportError } from "../../errors.ts";
import { extendedKeyUsageOf } from "../describe.ts";
import { x509 } from "../x509-lib.ts";
import { certName, type ParsedCert } from "./parsed-cert.ts";
import type { CertificateUse } from "./types.ts";

const PURPOSES: Readonly<Record<CertificateUse, { eku: string; role: string; openssl: string }>> = {
  "viewer-server": { eku: "serverAuth", role: "a TLS server certificate for viewers", openssl: "TLS Web Server Authentication" },
  "origin-client": { eku: "clientAuth", role: "the edge's TLS client certificate towards an origin", openssl: "TLS Web Client Authentication" },
};

function wrongUsage(message: string, fix: string): CertificateImportError {
  return new CertificateImportError("import-wrong-usage", `${message}.`, { fix });
}

function checkNotCa(leaf: ParsedCert, use: CertificateUse): void {
  if (!leaf.node.ca) return;
  throw wrongUsage(
    `${certName(leaf)} is a CA certificate (basicConstraints CA:TRUE) and cannot serve as ${PURPOSES[use].role}`,
    "import the leaf certificate the CA issued for your key; a self-signed certificate from `openssl req -x509` is a CA by default: add `-addext basicConstraints=critical,CA:FALSE`",
  );
}

/**
 * RFC 5280 §4.2.1.12 reads an absent EKU as "any purpose", but Moat requires the purpose
 * explicitly, as the CA/Browser Forum requires of every server certificate (and as the
 * verifiers Moat's origins run do for client certificates: OpenSSL rejects anyExtendedKeyUsage alone).
 */
function checkExtendedKeyUsage(leaf: ParsedCert, use: CertificateUse): void {
  const purpose = PURPOSES[use];
  const ekus = extendedKeyUsageOf(leaf.node);
  if (ekus.includes(purpose.eku)) return;
  const has = ekus.length === 0 ? "has no extended key usage" : `has extended key usage ${ekus.join(", ")}`;
  throw wrongUsage(
    `${certName(leaf)} ${has}, not ${purpose.eku}, so it cannot serve as ${purpose.role}`,
    `get a certificate whose extended key usage includes ${purpose.eku} ("${purpose.openssl}"), or import this one for the use it was issued for`,
  );
}

/** TLS 1.3, and 1.2 with ECDHE, sign the handshake with the leaf's key; a present key usage must allow that. */
function checkKeyUsage(leaf: ParsedCert): void {
  const keyUsage = leaf.peculiar.getExtension(x509.KeyUsagesExtension);
  if (!keyUsage || (keyUsage.usages & x509.KeyUsageFlags.digitalSignature) !== 0) return;
  throw wrongUsage(
    `${certName(leaf)} has a key usage without digitalSignature, which every TLS 1.3 (and ECDHE) handshake needs to sign with its key`,
    "get a certificate whose key usage includes digitalSignature",
  );
}

/** Throws import-wrong-usage unless the leaf can be used as `use`. */
export function checkLeafUsage(leaf: ParsedCert, use: CertificateUse): void {
  checkNotCa(leaf, use);
  checkExtendedKeyUsage(leaf, use);
  checkKeyUsage(leaf);
}
