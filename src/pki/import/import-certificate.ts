// Imports a certificate from another CA: reads the PEM or PKCS#12, runs every check in the order a user would fix things, packages the result.
import type { KeyObject } from "node:crypto";
import { describeParsed } from "../describe.ts";
import { buildPath, withoutRoot } from "./chain-links.ts";
import { checkLeafFirst, checkPemChainOrder } from "./chain-order.ts";
import { checkChainAnchored } from "./chain-trust.ts";
import { checkKeySupported } from "./key-checks.ts";
import { checkLeafUsage } from "./leaf-usage.ts";
import { nameCoverage } from "./name-coverage.ts";
import { certName, certPem, parseCertificatesPem, type ParsedCert } from "./parsed-cert.ts";
import { pkcs12Identity, readPkcs12 } from "./pkcs12-input.ts";
import { readPrivateKeyPem } from "./private-key.ts";
import { checkValidity } from "./validity.ts";
import type { CheckedImport, ImportedCertificate, ImportRequest } from "./types.ts";

/** The key and the chain, leaf first, each certificate followed by its issuer. */
interface Identity {
  key: KeyObject;
  path: ParsedCert[];
}

function readPemIdentity(chainPem: string, keyPem: string, passphrase: string | undefined): Identity {
  const certs = parseCertificatesPem(chainPem, "chainPem");
  const key = readPrivateKeyPem(keyPem, passphrase);
  checkKeySupported(key);
  checkLeafFirst(certs, key);
  checkPemChainOrder(certs);
  return { key, path: certs };
}

function readPkcs12Identity(data: Buffer, passphrase: string | undefined): Identity {
  const contents = readPkcs12(data, passphrase);
  const { key, leaf } = pkcs12Identity(contents);
  checkKeySupported(key);
  // PKCS#12 bags have no defined order (Windows and Java write them in any), so the path is built; certificates off it are left out.
  return { key, path: buildPath(leaf, contents.certs) };
}

function readIdentity(request: ImportRequest): Identity {
  const { source, passphrase } = request;
  return source.kind === "pem"
    ? readPemIdentity(source.chainPem, source.keyPem, passphrase)
    : readPkcs12Identity(source.data, passphrase);
}

function packageIdentity({ key, path }: Identity): ImportedCertificate {
  const leaf = path[0] as ParsedCert;
  const description = describeParsed(leaf.node, leaf.peculiar);
  return {
    chainPem: withoutRoot(path).map(certPem).join(""),
    keyPem: key.export({ type: "pkcs8", format: "pem" }) as string,
    serialHex: description.serialHex,
    fingerprint256: description.fingerprint256,
    subject: description.subject,
    issuer: description.issuer,
    sans: description.sans,
    notBefore: description.notBefore,
    notAfter: description.notAfter,
  };
}

/** See index.ts. */
export function pkcs12ChainPem(data: Buffer, passphrase: string | undefined): string {
  const contents = readPkcs12(data, passphrase);
  return buildPath(pkcs12Identity(contents).leaf, contents.certs).map(certPem).join("");
}

/** See index.ts. */
export async function checkImport(request: Omit<ImportRequest, "expectedNames">): Promise<CheckedImport> {
  const identity = readIdentity(request);
  const leaf = identity.path[0] as ParsedCert;
  checkChainAnchored(identity.path, request.trustedCaPem);
  checkLeafUsage(leaf, request.use);
  checkValidity(identity.path, request.now);
  const certificate = packageIdentity(identity);
  // Only strings outlive this call: the parsed certificates and the key object go with it.
  const coverage = nameCoverage(certName(leaf), certificate.sans);
  return { certificate, checkNames: (expectedNames) => coverage.check(expectedNames) };
}

/** See index.ts. */
export async function importCertificate(request: ImportRequest): Promise<ImportedCertificate> {
  const checked = await checkImport(request);
  checked.checkNames(request.expectedNames ?? []);
  return checked.certificate;
}
