// A two-tier CA (root → intermediate → leaves): generating one, and the in-memory CertificateAuthority that issues with it.
import { signCrlWith } from "./crl-sign.ts";
import { describeParsed } from "./describe.ts";
import { exportPrivateKeyPem, generateKeyPair } from "./key-algorithms.ts";
import { issueOriginClientLeaf, issueServerLeaf, joinPem, signServerLeafForKey, type LeafIssuer } from "./issue.ts";
import { intermediateExtensions, rootExtensions } from "./profiles.ts";
import { CLOCK_SKEW_BACKDATE_MS, signCertificate, signerFor } from "./sign.ts";
import type { CertificateAuthority, Clock, KeyAlgorithm } from "./types.ts";
import { x509 } from "./x509-lib.ts";
import { X509Certificate, type webcrypto } from "node:crypto";

const YEAR_MS = 365.25 * 24 * 60 * 60 * 1000;
/** The root is the long-lived trust anchor every peer installs; 10 years, like step-ca's default root. */
export const ROOT_VALIDITY_MS = 10 * YEAR_MS;
/**
 * The intermediate's key is online (it signs every leaf), so it should live
 * much shorter than the root; 5 years keeps it well inside the root's life
 * and, until intermediate rotation exists, spares operators a surprise
 * expiry. Leaves are hours to days, so this is not what limits exposure.
 */
export const INTERMEDIATE_VALIDITY_MS = 5 * YEAR_MS;

export const DEFAULT_CA_NAME = "Moat";

/** What a running CA needs: its certificates, and the intermediate's signing key (never the root's). */
export interface CaMaterial {
  rootPem: string;
  intermediatePem: string;
  bundlePem: string;
  intermediateKey: webcrypto.CryptoKey;
  keyAlgorithm: KeyAlgorithm;
}

/** A newly generated CA: the material, plus both private keys as PKCS#8 PEM for whoever stores them. */
export interface GeneratedCa {
  material: CaMaterial;
  rootKeyPem: string;
  intermediateKeyPem: string;
}

export async function generateCa(options: { keyAlgorithm: KeyAlgorithm; name: string; now: Date }): Promise<GeneratedCa> {
  const { keyAlgorithm, name, now } = options;
  const notBefore = new Date(now.getTime() - CLOCK_SKEW_BACKDATE_MS);
  const rootKeys = await generateKeyPair(keyAlgorithm);
  const rootSubject: x509.JsonName = [{ CN: [`${name} Root CA`] }, { O: [name] }];
  const root = await signCertificate(
    {
      subject: rootSubject,
      publicKey: rootKeys.publicKey,
      notBefore,
      notAfter: new Date(notBefore.getTime() + ROOT_VALIDITY_MS),
      extensions: rootExtensions(),
    },
    { name: new x509.Name(rootSubject), key: rootKeys.privateKey, keyAlgorithm, keyId: undefined },
  );
  const intermediateKeys = await generateKeyPair(keyAlgorithm);
  const intermediate = await signCertificate(
    {
      subject: [{ CN: [`${name} Intermediate CA`] }, { O: [name] }],
      publicKey: intermediateKeys.publicKey,
      notBefore,
      notAfter: new Date(notBefore.getTime() + INTERMEDIATE_VALIDITY_MS),
      extensions: intermediateExtensions(),
    },
    signerFor(root, rootKeys.privateKey, keyAlgorithm),
  );
  // PEM files end with a newline, so `cat root.pem intermediate.pem` stays a valid bundle.
  const rootPem = joinPem(root.toString("pem"));
  return {
    material: {
      rootPem,
      intermediatePem: joinPem(intermediate.toString("pem")),
      bundlePem: rootPem,
      intermediateKey: intermediateKeys.privateKey,
      keyAlgorithm,
    },
    rootKeyPem: exportPrivateKeyPem(rootKeys.privateKey),
    intermediateKeyPem: exportPrivateKeyPem(intermediateKeys.privateKey),
  };
}

/** The CertificateAuthority that issues with this material; time comes from `clock`. */
export function createCertificateAuthority(material: CaMaterial, clock: Clock): CertificateAuthority {
  const intermediate = new x509.X509Certificate(material.intermediatePem);
  const issuer: LeafIssuer = {
    signer: signerFor(intermediate, material.intermediateKey, material.keyAlgorithm),
    certPem: material.intermediatePem,
    notAfter: describeParsed(new X509Certificate(material.intermediatePem), intermediate).notAfter,
  };
  return Object.freeze({
    rootPem: material.rootPem,
    intermediatePem: material.intermediatePem,
    bundlePem: material.bundlePem,
    keyAlgorithm: material.keyAlgorithm,
    issueServerCertificate: (request) => issueServerLeaf(issuer, request, material.keyAlgorithm, clock()),
    signServerCertificate: (request) => signServerLeafForKey(issuer, request, clock()),
    // Client certificates use the CA's algorithm: origins verify them, and the CA's choice is the operator's policy.
    issueOriginClientCertificate: (request) => issueOriginClientLeaf(issuer, request, material.keyAlgorithm, clock()),
    // The intermediate signs the CRL: RFC 5280 §6.3.3 (and OpenSSL) look for the CRL of a leaf's own issuer.
    signCrl: (entries, options) => signCrlWith(issuer.signer, entries, options),
  } satisfies CertificateAuthority);
}
