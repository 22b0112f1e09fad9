// Opens a PKCS#12 (.p12/.pfx) with node-forge, which reads both modern (PBES2/AES) and legacy (3DES, RC2) files, and hands its contents to Node's crypto.
import { createPrivateKey, type KeyObject } from "node:crypto";
import { createRequire } from "node:module";
import type forge from "node-forge";
import { CertificateImportError } from "../../errors.ts";
import { keyShape, matchesKey } from "./key-checks.ts";
import { parseCertificateDer, type ParsedCert } from "./parsed-cert.ts";

const require = createRequire(import.meta.url);
let loadedForge: typeof forge | undefined;

/**
 * node-forge, loaded by the first PKCS#12 opened rather than with this module: only importing a .p12 needs it,
 * and loaded at start it cost every edge memory for nothing (42 modules) (docs/BENCHMARKS.md, "Memory").
 * test/cli/run/start-imports.test.ts keeps it out of `moat start`.
 */
function nodeForge(): typeof forge {
  return (loadedForge ??= require("node-forge") as typeof forge);
}

export interface Pkcs12Contents {
  keys: KeyObject[];
  /** In bag order, numbered from 1. */
  certs: ParsedCert[];
}

function unreadable(problem: string, fix = "export the PKCS#12 again (e.g. `openssl pkcs12 -export -inkey key.pem -in fullchain.pem -out cert.p12`), or import the PEM files instead"): CertificateImportError {
  return new CertificateImportError("import-pkcs12-unreadable", `${problem}.`, { fix });
}

function toDerBuffer(asn1: forge.asn1.Asn1): Buffer {
  return Buffer.from(nodeForge().asn1.toDer(asn1).getBytes(), "binary");
}

function parseOuter(data: Buffer): forge.asn1.Asn1 {
  if (data.subarray(0, 64).toString("latin1").includes("-----BEGIN")) {
    throw unreadable("the PKCS#12 data is PEM text, not a binary .p12/.pfx file", "import it as PEM: the certificate chain and the key");
  }
  try {
    return nodeForge().asn1.fromDer(nodeForge().util.createBuffer(data.toString("binary")));
  } catch {
    throw unreadable("the data is not a PKCS#12 file (it does not parse as DER)");
  }
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : "";
}

/** The MAC fails: the passphrase is wrong (or the file damaged); nothing else was tried. */
function isMacError(error: unknown): boolean {
  return errorMessage(error).includes("MAC could not be verified");
}

/** The MAC, or (in a file without one) the decryption of the key, fails with this passphrase. */
function isPassphraseError(error: unknown): boolean {
  return isMacError(error) || errorMessage(error).includes("wrong password");
}

/**
 * forge derives the MAC and legacy PBE keys from the passphrase as a BMPString (as RFC 7292
 * says), but gives PBES2's PBKDF2 the passphrase's UTF-16 code units cut to bytes, where OpenSSL
 * and Windows use its UTF-8 bytes. The first try has verified the MAC when the error was not
 * about the passphrase, so the retry decrypts the same data, without the MAC, with UTF-8 bytes.
 */
function decodePfx(outer: forge.asn1.Asn1, passphrase: string): forge.pkcs12.Pkcs12Pfx {
  try {
    return nodeForge().pkcs12.pkcs12FromAsn1(outer, true, passphrase);
  } catch (error) {
    if (isMacError(error) || /^[\x20-\x7e]*$/.test(passphrase)) throw error;
    const withoutMac = { ...outer, value: (outer.value as forge.asn1.Asn1[]).slice(0, 2) };
    return nodeForge().pkcs12.pkcs12FromAsn1(withoutMac, true, nodeForge().util.encodeUtf8(passphrase));
  }
}

function openPfx(outer: forge.asn1.Asn1, passphrase: string | undefined): forge.pkcs12.Pkcs12Pfx {
  try {
    // No passphrase: try the empty one, which `openssl pkcs12 -export -passout pass:` uses.
    return decodePfx(outer, passphrase ?? "");
  } catch (error) {
    if (!isPassphraseError(error)) {
      // forge's messages name the structure or algorithm that failed, never the data.
      throw unreadable(`the PKCS#12 could not be read: ${errorMessage(error).slice(0, 200) || "unknown error"}`);
    }
    if (!passphrase) {
      throw new CertificateImportError("import-passphrase-missing", "the PKCS#12 is protected by a passphrase and none was given.", {
        fix: "give the passphrase (export password) the PKCS#12 was made with",
      });
    }
    throw new CertificateImportError("import-passphrase-wrong", "the passphrase given does not open the PKCS#12 (its integrity check fails with it).", {
      fix: "check the passphrase (it is case-sensitive); if it is lost, export the PKCS#12 again with a new one",
    });
  }
}

function bagKey(bag: forge.pkcs12.Bag): KeyObject {
  // forge parses RSA keys into its own objects and leaves others (EC) as ASN.1; both go back to PKCS#8 DER for Node.
  const asn1 = bag.key ? nodeForge().pki.wrapRsaPrivateKey(nodeForge().pki.privateKeyToAsn1(bag.key)) : bag.asn1;
  try {
    return createPrivateKey({ key: toDerBuffer(asn1), format: "der", type: "pkcs8" });
  } catch {
    throw unreadable("the private key inside the PKCS#12 is not a key Node can read");
  }
}

function bagCert(bag: forge.pkcs12.Bag, position: number): ParsedCert {
  // forge keeps an RSA certificate's original TBSCertificate, so re-encoding gives back the same DER.
  const asn1 = bag.cert ? nodeForge().pki.certificateToAsn1(bag.cert) : bag.asn1;
  const cert = parseCertificateDer(toDerBuffer(asn1), position);
  if (!cert) throw unreadable(`certificate ${position} inside the PKCS#12 is not a valid X.509 certificate`);
  return cert;
}

/** The keys and certificates of a PKCS#12, decrypted with the passphrase. Throws CertificateImportError. */
export function readPkcs12(data: Buffer, passphrase: string | undefined): Pkcs12Contents {
  const pfx = openPfx(parseOuter(data), passphrase);
  const keys: KeyObject[] = [];
  const certs: ParsedCert[] = [];
  for (const bag of pfx.safeContents.flatMap((contents) => contents.safeBags)) {
    if (bag.type === nodeForge().pki.oids.certBag) certs.push(bagCert(bag, certs.length + 1));
    else if (bag.type === nodeForge().pki.oids.keyBag || bag.type === nodeForge().pki.oids.pkcs8ShroudedKeyBag) keys.push(bagKey(bag));
  }
  return { keys, certs };
}

/** The one key of the PKCS#12 and the certificate it belongs to (the leaf). Throws CertificateImportError. */
export function pkcs12Identity(contents: Pkcs12Contents): { key: KeyObject; leaf: ParsedCert } {
  const { keys, certs } = contents;
  if (keys.length === 0) throw unreadable("the PKCS#12 holds no private key", "export it again with its key (not with -nokeys)");
  if (certs.length === 0) throw unreadable("the PKCS#12 holds no certificate", "export it again with the certificate and its chain");
  const pairs = keys.flatMap((key) => certs.filter((cert) => matchesKey(cert, key)).map((leaf) => ({ key, leaf })));
  const leaves = new Set(pairs.map((pair) => pair.leaf.node.fingerprint256));
  const [first] = pairs;
  if (first && leaves.size === 1) return first;
  if (!first) {
    throw new CertificateImportError(
      "import-key-mismatch",
      `none of the ${certs.length} certificate(s) in the PKCS#12 belongs to its private key (${keys.map(keyShape).join(", ")}).`,
      { fix: "export the PKCS#12 again from the certificate together with its own key" },
    );
  }
  throw unreadable(`the PKCS#12 holds ${leaves.size} certificates with their keys; Moat imports one at a time`, "export a PKCS#12 with only the certificate to import, its key and its chain");
}
