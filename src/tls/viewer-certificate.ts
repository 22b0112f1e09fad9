// The facts of a viewer's client certificate that logs, origin headers and cache keys use: names (RFC 2253), serial, SHA-256, validity, SANs, PEM, chain.
import { X509Certificate } from "node:crypto";
import type { DetailedPeerCertificate, TLSSocket } from "node:tls";
import { x509, type X509 } from "../pki/x509-lib.ts";

export interface ViewerCertificate {
  /** RFC 2253: most specific RDN first, e.g. `CN=alice,O=Partner,C=FR`. */
  readonly subject: string;
  readonly issuer: string;
  /** Lower-case hex, no colons, no leading zero bytes. */
  readonly serialHex: string;
  /** As Node formats it (`AB:CD:…`), as Moat logs every certificate. */
  readonly fingerprint256: string;
  /** Lower-case hex of the DER's SHA-256, no colons: what headers carry. */
  readonly sha256Hex: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** Node's spelling: `DNS:…`, `URI:…`, `email:…`, `IP Address:…`. */
  readonly sans: readonly string[];
  /** The leaf, PEM. Never logged. */
  readonly pem: string;
  readonly der: Buffer;
  /** DER of the certificates the viewer sent above its leaf (RFC 9440 Client-Cert-Chain); empty for a resumed session. */
  readonly chainDer: readonly Buffer[];
}

/**
 * The viewer's certificate on a connection, or null when it presented none.
 * @example
 * const cert = viewerCertificateOf(socket); // { subject: "CN=alice,O=Partner", serialHex, sha256Hex, … }
 */
export function viewerCertificateOf(socket: TLSSocket): ViewerCertificate | null {
  const peer = socket.getPeerX509Certificate();
  if (!peer) return null;
  return describeViewerCertificate(peer, chainAbove(socket.getPeerCertificate(true)));
}

export function describeViewerCertificate(peer: X509Certificate, chainDer: readonly Buffer[]): ViewerCertificate {
  const parsed = new x509.X509Certificate(peer.raw);
  const sha256Hex = peer.fingerprint256.replaceAll(":", "").toLowerCase();
  return Object.freeze({
    subject: rfc2253(parsed.subjectName),
    issuer: rfc2253(parsed.issuerName),
    serialHex: peer.serialNumber.toLowerCase().replace(/^(00)+(?=[0-9a-f])/, ""),
    fingerprint256: peer.fingerprint256,
    sha256Hex,
    notBefore: peer.validFromDate,
    notAfter: peer.validToDate,
    sans: Object.freeze(splitSans(peer.subjectAltName)),
    pem: peer.toString(),
    der: peer.raw,
    chainDer: Object.freeze([...chainDer]),
  });
}

// getPeerCertificate(true) links each certificate to its issuer; a self-signed root links to itself.
function chainAbove(leaf: DetailedPeerCertificate): Buffer[] {
  const chain: Buffer[] = [];
  let current = leaf;
  while (current.issuerCertificate && current.issuerCertificate !== current && chain.length < 10) {
    current = current.issuerCertificate;
    chain.push(current.raw);
  }
  return chain;
}

// Node quotes a SAN that holds a comma or a quote (JSON string syntax), so splitting on ", " outside quotes is exact.
function splitSans(subjectAltName: string | undefined): string[] {
  if (!subjectAltName) return [];
  return subjectAltName.match(/(?:[^,"]|"(?:\\.|[^"\\])*")+/g)?.map((san) => san.trim()).filter(Boolean) ?? [];
}

// RFC 2253 §2.1: RDNs from the last of the sequence to the first, joined by ","; §2.2: "+" inside a multi-valued RDN.
function rfc2253(name: X509.Name): string {
  return name
    .toJSON()
    .slice()
    .reverse()
    .map((rdn) => Object.entries(rdn).flatMap(([type, values]) => values.map((value) => `${type}=${escapeValue(value)}`)).join("+"))
    .join(",");
}

// RFC 2253 §2.4: escape , + " \ < > ; anywhere, # at the start, a space at either end.
function escapeValue(value: string): string {
  return value
    .replace(/[,+"\\<>;]/g, (c) => `\\${c}`)
    .replace(/^([# ])/, "\\$1")
    .replace(/ $/, "\\ ");
}
