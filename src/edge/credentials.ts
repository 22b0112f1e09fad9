// Certificate material the edge serves or presents: issued by Moat's store, or read from the files a config names.
import { readFile } from "node:fs/promises";
import type { CertificateSource } from "../config/index.ts";
import { ConfiguredFileError } from "../errors.ts";
import { describeCertificate } from "../pki/index.ts";

export interface CredentialMaterial {
  chainPem: string;
  keyPem: string;
  serialHex: string;
  notBefore: Date;
  notAfter: Date;
  /** Issued by Moat's CA (renewed by the edge) or imported (renewed by its owner). */
  isIssued: boolean;
}

/** Reads an imported certificate and key; `path` is the config path, for errors. */
export async function importedCredentials(source: Extract<CertificateSource, { kind: "imported" }>, path: string): Promise<CredentialMaterial> {
  const chainPem = await readConfiguredFile(`${path}.cert`, source.certFile);
  const keyPem = await readConfiguredFile(`${path}.key`, source.keyFile);
  let facts;
  try {
    facts = describeCertificate(chainPem);
  } catch (error) {
    throw new ConfiguredFileError(`${path}.cert`, source.certFile, "is not a PEM certificate", { fix: "give the PEM certificate chain, leaf first", cause: error });
  }
  return { chainPem, keyPem, serialHex: facts.serialHex, notBefore: facts.notBefore, notAfter: facts.notAfter, isIssued: false };
}

export async function readConfiguredFile(path: string, file: string): Promise<string> {
  try {
    return await readFile(file, "utf8");
  } catch (error) {
    throw new ConfiguredFileError(path, file, `cannot be read (${(error as { code?: string }).code ?? error})`, { cause: error });
  }
}

/** How a client certificate is named in logs and errors: its SPIFFE URI (or subject) and serial. */
export function clientIdentity(material: CredentialMaterial): string {
  const facts = describeCertificate(material.chainPem);
  const uri = facts.sans.find((san) => san.startsWith("URI:"));
  return `${uri ? uri.slice(4) : facts.subject} (serial ${material.serialHex})`;
}
