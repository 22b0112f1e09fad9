// A CA built in the test with @peculiar/x509, so that certificates Moat's CA would never issue (extra URI SANs, unknown critical extensions, odd key usages, a leaf signing a leaf) can be put in front of the verifier.
import { webcrypto, X509Certificate } from "node:crypto";
import { x509 } from "../../src/guard/x509-lib.ts";

const ALGORITHM = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };
const HOUR = 3_600_000;

export interface CraftedCert {
  cert: x509.X509Certificate;
  keys: webcrypto.CryptoKeyPair;
  der: Buffer;
}

export interface CraftedCa {
  root: CraftedCert;
  intermediate: CraftedCert;
  bundlePem: string;
  crlPem: string;
  /** A leaf under the intermediate (or under `issuer`): clientAuth, digitalSignature, the given URI SANs, plus `extensions`. */
  leaf(options: { uris: string[]; extensions?: x509.Extension[]; keyUsage?: number; eku?: string[]; issuer?: CraftedCert; isCa?: boolean }): Promise<CraftedCert>;
}

let serial = 1;

async function make(subject: string, issuer: { name: string; keys: webcrypto.CryptoKeyPair } | undefined, extensions: x509.Extension[]): Promise<CraftedCert> {
  const keys = (await webcrypto.subtle.generateKey(ALGORITHM, true, ["sign", "verify"])) as webcrypto.CryptoKeyPair;
  const signer = issuer ?? { name: subject, keys };
  const cert = await x509.X509CertificateGenerator.create(
    {
      serialNumber: (serial++).toString(16).padStart(4, "0"),
      subject,
      issuer: signer.name,
      notBefore: new Date(Date.now() - HOUR),
      notAfter: new Date(Date.now() + 24 * HOUR),
      publicKey: keys.publicKey,
      signingKey: signer.keys.privateKey,
      signingAlgorithm: ALGORITHM,
      extensions: [...extensions, await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, webcrypto)],
    },
    webcrypto,
  );
  return { cert, keys, der: Buffer.from(cert.rawData) };
}

async function emptyCrl(issuer: CraftedCert): Promise<string> {
  const crl = await x509.X509CrlGenerator.create(
    { issuer: issuer.cert.subject, thisUpdate: new Date(Date.now() - HOUR), nextUpdate: new Date(Date.now() + 24 * HOUR), entries: [], signingKey: issuer.keys.privateKey, signingAlgorithm: ALGORITHM },
    webcrypto,
  );
  return `${x509.PemConverter.encode(crl.rawData, "X509 CRL")}\n`;
}

const caUsage = () => new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true);

export async function createCraftedCa(options: { intermediateExtensions?: x509.Extension[] } = {}): Promise<CraftedCa> {
  const root = await make("CN=Crafted Root", undefined, [new x509.BasicConstraintsExtension(true, undefined, true), caUsage()]);
  const intermediate = await make("CN=Crafted Intermediate", { name: root.cert.subject, keys: root.keys }, [new x509.BasicConstraintsExtension(true, 0, true), caUsage(), ...(options.intermediateExtensions ?? [])]);
  return {
    root,
    intermediate,
    bundlePem: `${root.cert.toString("pem")}\n${intermediate.cert.toString("pem")}\n`,
    crlPem: (await emptyCrl(intermediate)) + (await emptyCrl(root)),
    leaf: (leaf) => {
      const issuer = leaf.issuer ?? intermediate;
      return make(`CN=leaf ${serial}`, { name: issuer.cert.subject, keys: issuer.keys }, [
        new x509.BasicConstraintsExtension(leaf.isCa ?? false, undefined, true),
        new x509.KeyUsagesExtension(leaf.keyUsage ?? x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension(leaf.eku ?? [x509.ExtendedKeyUsage.clientAuth], false),
        new x509.SubjectAlternativeNameExtension(leaf.uris.map((value) => ({ type: "url" as const, value })), false),
        ...(leaf.extensions ?? []),
      ]);
    },
  };
}

/** Sanity: Node reads what was crafted. */
export function asNode(cert: CraftedCert): X509Certificate {
  return new X509Certificate(cert.der);
}
