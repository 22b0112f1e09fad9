// Reads a certificate into the fields Moat logs and compares (serial, fingerprint, names, dates, usages), never the whole PEM.
import { X509Certificate } from "node:crypto";
import { isIP } from "node:net";
import { CertificateUnreadableError } from "../errors.ts";
import { normalizeIpAddress } from "./names.ts";
import type { CertificateDescription } from "./types.ts";
import { x509 } from "./x509-lib.ts";

const EKU_NAMES: Readonly<Record<string, string>> = {
  "1.3.6.1.5.5.7.3.1": "serverAuth",
  "1.3.6.1.5.5.7.3.2": "clientAuth",
  "1.3.6.1.5.5.7.3.3": "codeSigning",
  "1.3.6.1.5.5.7.3.4": "emailProtection",
  "1.3.6.1.5.5.7.3.8": "timeStamping",
  "1.3.6.1.5.5.7.3.9": "OCSPSigning",
};

// Node's own prefixes (X509Certificate.subjectAltName), so our logs read like Node's and OpenSSL's.
const SAN_PREFIXES: Readonly<Record<string, string>> = {
  dns: "DNS",
  ip: "IP Address",
  url: "URI",
  email: "email",
  dn: "DirName",
};

/** Each certificate of a PEM bundle, in order, re-encoded as its own PEM. */
export function splitPemCertificates(pem: string): string[] {
  const certs = x509.PemConverter.decodeWithHeaders(pem).filter((block) => block.type === "CERTIFICATE");
  return certs.map((block) => x509.PemConverter.encode(block.rawData, "CERTIFICATE"));
}

/** One SAN in Node's spelling, e.g. `DNS:shop.example.test`, `IP Address:127.0.0.1`; IPs in canonical form so that SANs compare as strings. */
export function formatSan(name: x509.JsonGeneralName): string {
  const value = name.type === "ip" && isIP(name.value) !== 0 ? normalizeIpAddress(name.value) : name.value;
  return `${SAN_PREFIXES[name.type] ?? name.type}:${value}`;
}

/** The SANs of a certificate, formatted by formatSan. */
export function formatSans(cert: x509.X509Certificate): string[] {
  const extension = cert.getExtension(x509.SubjectAlternativeNameExtension);
  if (!extension) return [];
  return extension.names.items.map((name) => formatSan(name.toJSON()));
}

/** Parses the first certificate of a PEM with both Node and @peculiar/x509; throws CertificateUnreadableError. */
export function parseCertificate(pem: string): { node: X509Certificate; peculiar: x509.X509Certificate } {
  const first = splitPemCertificates(pem)[0];
  if (!first) throw new CertificateUnreadableError("no PEM CERTIFICATE block found");
  try {
    return { node: new X509Certificate(first), peculiar: new x509.X509Certificate(first) };
  } catch (cause) {
    throw new CertificateUnreadableError("the PEM CERTIFICATE block is not a valid X.509 certificate", { cause });
  }
}

/** The log-safe description of the first certificate in a PEM. */
export function describeParsed(node: X509Certificate, peculiar: x509.X509Certificate): CertificateDescription {
  return {
    serialHex: node.serialNumber.toLowerCase(),
    fingerprint256: node.fingerprint256,
    subject: peculiar.subject,
    issuer: peculiar.issuer,
    sans: formatSans(peculiar),
    notBefore: node.validFromDate,
    notAfter: node.validToDate,
    isCa: node.ca,
    extendedKeyUsage: extendedKeyUsageOf(node),
  };
}

/** The certificate's extended key usages by name (`serverAuth`, `clientAuth`, or the OID), read by Node alone: no ASN.1 parse of the other extensions. */
export function extendedKeyUsageOf(node: X509Certificate): string[] {
  // Node names the EKU OIDs `keyUsage` (undefined when the extension is absent).
  return (node.keyUsage ?? []).map((oid) => EKU_NAMES[oid] ?? oid);
}

/** The log-safe description of the first certificate in a PEM (see index.ts). */
export function describeCertificate(pem: string): CertificateDescription {
  const { node, peculiar } = parseCertificate(pem);
  return describeParsed(node, peculiar);
}
