// Reads a certificate into the fields Moat logs and compares (serial, fingerprint, names, dates, usages), never the whole PEM.
import { X509Certificate } from "node:crypto";
import { isIP } from "node:net";
import { CertificateUnreadableError } from "../errors.ts";
import { normalizeIpAddress } from "./names.ts";
import type { CertificateDescription } from "./types.ts";
import { x509, type X509 } from "./x509-lib.ts";

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

// RFC 7468 §2: a CERTIFICATE block; lines with a colon are RFC 1421 headers (never in a certificate, skipped as @peculiar/x509 skips them).
const CERTIFICATE_BLOCK = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g;

/** Each certificate of a PEM bundle, in order, re-encoded as its own PEM (64-column base64, no final newline). Node only: an edge reads PEMs at start. */
export function splitPemCertificates(pem: string): string[] {
  return [...pem.matchAll(CERTIFICATE_BLOCK)].map((match) => {
    const base64 = Buffer.from(match[1]!.split("\n").filter((line) => !line.includes(":")).join("").replace(/\s+/g, ""), "base64").toString("base64");
    const lines = base64.match(/.{1,64}/g) ?? [];
    return ["-----BEGIN CERTIFICATE-----", ...lines, "-----END CERTIFICATE-----"].join("\n");
  });
}

/** One SAN in Node's spelling, e.g. `DNS:shop.example.test`, `IP Address:127.0.0.1`; IPs in canonical form so that SANs compare as strings. */
export function formatSan(name: X509.JsonGeneralName): string {
  const value = name.type === "ip" && isIP(name.value) !== 0 ? normalizeIpAddress(name.value) : name.value;
  return `${SAN_PREFIXES[name.type] ?? name.type}:${value}`;
}

/** The SANs of a certificate, formatted by formatSan. */
export function formatSans(cert: X509.X509Certificate): string[] {
  const extension = cert.getExtension(x509.SubjectAlternativeNameExtension);
  if (!extension) return [];
  return extension.names.items.map((name) => formatSan(name.toJSON()));
}

/** Parses the first certificate of a PEM with both Node and @peculiar/x509; throws CertificateUnreadableError. */
export function parseCertificate(pem: string): { node: X509Certificate; peculiar: X509.X509Certificate } {
  const first = splitPemCertificates(pem)[0];
  if (!first) throw new CertificateUnreadableError("no PEM CERTIFICATE block found");
  try {
    return { node: new X509Certificate(first), peculiar: new x509.X509Certificate(first) };
  } catch (cause) {
    throw new CertificateUnreadableError("the PEM CERTIFICATE block is not a valid X.509 certificate", { cause });
  }
}

/** The log-safe description of the first certificate in a PEM. */
export function describeParsed(node: X509Certificate, peculiar: X509.X509Certificate): CertificateDescription {
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
  // Node reads the names when it spells them as @peculiar/x509 does, as it does for every certificate Moat
  // issues: an edge that reads its stored certificates then does not load @peculiar/x509 at all. Other names
  // (attribute types the two call differently, escaped or non-ASCII values, other SAN types) go to @peculiar/x509.
  const first = splitPemCertificates(pem)[0];
  if (!first) throw new CertificateUnreadableError("no PEM CERTIFICATE block found");
  let node: X509Certificate;
  try {
    node = new X509Certificate(first);
  } catch (cause) {
    throw new CertificateUnreadableError("the PEM CERTIFICATE block is not a valid X.509 certificate", { cause });
  }
  return describeNode(node, first);
}

/** describeCertificate of a certificate Node has parsed already; `pem` is that certificate alone, for @peculiar/x509 when Node's spelling could differ. */
export function describeNode(node: X509Certificate, pem: string): CertificateDescription {
  const subject = nodeName(node.subject);
  const issuer = nodeName(node.issuer);
  const sans = nodeSans(node.subjectAltName);
  if (subject === undefined || issuer === undefined || sans === undefined) return describeParsed(node, parseCertificate(pem).peculiar);
  return {
    serialHex: node.serialNumber.toLowerCase(),
    fingerprint256: node.fingerprint256,
    subject,
    issuer,
    sans,
    notBefore: node.validFromDate,
    notAfter: node.validToDate,
    isCa: node.ca,
    extendedKeyUsage: extendedKeyUsageOf(node),
  };
}

// Attribute types both libraries name alike; values of printable ASCII with nothing RFC 4514 escapes or Node quotes.
const PLAIN_ATTRIBUTE = /^(CN|C|O|OU|L|ST|DC)=[\x20-\x7e]*$/;
const ESCAPED = /[\\"+,;<>=#]/;
const PLAIN_SAN = /^(DNS|IP Address|URI|email):([\x20-\x7e]*)$/;

/** Node's one-attribute-a-line name as @peculiar/x509 prints it (`CN=a, O=b`); undefined when they could differ. */
function nodeName(name: string): string | undefined {
  if (name === "") return "";
  const attributes = name.split("\n");
  const isPlain = attributes.every((attribute) => PLAIN_ATTRIBUTE.test(attribute) && !ESCAPED.test(attribute.slice(attribute.indexOf("=") + 1)));
  return isPlain ? attributes.join(", ") : undefined;
}

/** Node's subjectAltName as formatSan spells each SAN; undefined when they could differ. */
function nodeSans(subjectAltName: string | undefined): string[] | undefined {
  if (subjectAltName === undefined) return [];
  const sans: string[] = [];
  for (const entry of subjectAltName.split(", ")) {
    const match = PLAIN_SAN.exec(entry);
    if (!match || entry.includes('"')) return undefined;
    const [, type, value] = match as unknown as [string, string, string];
    sans.push(type === "IP Address" ? formatSan({ type: "ip", value }) : entry);
  }
  return sans;
}
