// One certificate of an import, parsed by Node (verification) and @peculiar/x509 (extensions), with the name messages call it by.
import { X509Certificate } from "node:crypto";
import { CertificateImportError } from "../../errors.ts";
import { x509, type X509 } from "../x509-lib.ts";
import { missingBlock, readPemBlocks } from "./pem-blocks.ts";

export interface ParsedCert {
  /** 1-based position in what the user gave (PEM order, or bag order in a PKCS#12), so messages point at the right block. */
  position: number;
  node: X509Certificate;
  peculiar: X509.X509Certificate;
}

/** Parses one DER certificate; undefined when it is not X.509. */
export function parseCertificateDer(der: Buffer, position: number): ParsedCert | undefined {
  try {
    return { position, node: new X509Certificate(der), peculiar: new x509.X509Certificate(der) };
  } catch {
    return undefined;
  }
}

/** Every CERTIFICATE block of `text`, in order; other blocks (a key pasted alongside) are skipped. Throws import-pem-malformed. */
export function parseCertificatesPem(text: string, where: string): ParsedCert[] {
  const blocks = readPemBlocks(text, where);
  const certBlocks = blocks.filter((block) => block.label === "CERTIFICATE");
  if (certBlocks.length === 0) throw missingBlock(where, "CERTIFICATE", blocks);
  return certBlocks.map((block, index) => {
    const cert = parseCertificateDer(block.der, index + 1);
    if (cert) return cert;
    throw new CertificateImportError(
      "import-pem-malformed",
      `${where}: certificate ${index + 1} (PEM block ${block.position}) is not a valid X.509 certificate.`,
      { fix: "give the certificate exactly as the CA sent it; a certificate request (CSR) or a truncated copy will not do" },
    );
  });
}

/** How messages name a certificate: `certificate 2 (CN=Example Intermediate CA)`. */
export function certName(cert: ParsedCert): string {
  const subject = cert.peculiar.subject || `no subject, serial ${cert.node.serialNumber.toLowerCase()}`;
  return `certificate ${cert.position} (${subject})`;
}

/** The certificate as one PEM block ending with "\n", re-encoded from its DER so that nothing pasted around it survives. */
export function certPem(cert: ParsedCert): string {
  const pem = cert.node.toString();
  return pem.endsWith("\n") ? pem : `${pem}\n`;
}
