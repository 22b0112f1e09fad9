// Where the CA says its CRLs are published (<dataDir>/ca/publication.json), and the CRL Distribution Point each issuer's certificates carry.
//
// A CA property, as step-ca's crl.idpURL or EJBCA's default CDP: every path that issues
// (the edge, `moat ca issue-server`, enrolment, the admin API) opens the CA and so reads
// the same setting, with no configuration to plumb. Each issuer's CRL has its own URL,
// `<base>crl/<issuer serial>.der`, so a leaf of a retired intermediate, or an
// intermediate under the new root of a rollover, still points at a CRL its own issuer signed.
import { mkdir, readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { CaCorruptError, CrlBaseUrlInvalidError } from "../errors.ts";
import { readOptional } from "./ca-layout.ts";
import { CERT_FILE_MODE, PRIVATE_DIR_MODE, writeFileAtomic } from "./key-files.ts";

export const PUBLICATION_FILE = "publication.json";
/** `<dataDir>/ca/crls/<serial>.der`: each issuer's current CRL, DER, named by the serial of the certificate that signs it. */
export const CRLS_DIR = "crls";
/** A serial as Moat names it: lower-case hex (20 octets at most, RFC 5280 §4.1.2.2). */
export const SERIAL_FILE_PATTERN = /^([0-9a-f]{1,40})\.der$/;

export interface CaPublication {
  /** Ends in `/`; certificates carry `<crlBaseUrl>crl/<issuer serial>.der`. Null: no CRL Distribution Point. */
  crlBaseUrl: string | null;
}

/**
 * Checks a CRL base URL and returns it ending in `/`. http: only: RFC 5280 §4.2.1.13 recommends
 * http (or ldap) distribution points, and a CRL fetched over https would need revocation
 * checking of its own server's certificate first. Throws CrlBaseUrlInvalidError naming the fault.
 *
 * @example
 * parseCrlBaseUrl("http://edge.example.com:8080/.well-known/moat") // "http://edge.example.com:8080/.well-known/moat/"
 */
export function parseCrlBaseUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new CrlBaseUrlInvalidError(text, "it is not an absolute URL (it needs http:// and a host)");
  }
  if (url.protocol !== "http:") {
    const why = url.protocol === "https:" ? "a CRL must be fetchable without TLS, whose certificates it is there to check (RFC 5280 §4.2.1.13)" : "certificates point at CRLs over plain HTTP";
    throw new CrlBaseUrlInvalidError(text, `its scheme is ${url.protocol.slice(0, -1)}, not http (${why})`);
  }
  if (url.hostname === "") throw new CrlBaseUrlInvalidError(text, "it has no host");
  if (url.username !== "" || url.password !== "") throw new CrlBaseUrlInvalidError(text, "it carries a user name or password, which every certificate would publish");
  if (url.search !== "" || text.includes("?")) throw new CrlBaseUrlInvalidError(text, "it has a query string");
  if (url.hash !== "" || text.includes("#")) throw new CrlBaseUrlInvalidError(text, "it has a fragment");
  return url.href.endsWith("/") ? url.href : `${url.href}/`;
}

/** The URL of the CRL that the CA certificate with `issuerSerialHex` signs, or undefined when no base URL is set. */
export function crlDistributionUrl(crlBaseUrl: string | null, issuerSerialHex: string): string | undefined {
  return crlBaseUrl === null ? undefined : `${crlBaseUrl}crl/${issuerSerialHex.toLowerCase()}.der`;
}

/** The CA's publication setting; none set (no file) is `{ crlBaseUrl: null }`. Throws CaCorruptError if the file is damaged. */
export async function readCaPublication(dataDir: string): Promise<CaPublication> {
  const caDir = join(dataDir, "ca");
  const text = await readOptional(join(caDir, PUBLICATION_FILE));
  if (text === undefined) return { crlBaseUrl: null };
  try {
    const raw = JSON.parse(text) as { crlBaseUrl?: unknown };
    if (raw.crlBaseUrl === null || raw.crlBaseUrl === undefined) return { crlBaseUrl: null };
    if (typeof raw.crlBaseUrl !== "string") throw new Error("crlBaseUrl is not a string");
    return { crlBaseUrl: parseCrlBaseUrl(raw.crlBaseUrl) };
  } catch (cause) {
    throw new CaCorruptError(caDir, `${PUBLICATION_FILE} is unreadable: ${(cause as Error).message}`, { cause });
  }
}

export function serializePublication(publication: CaPublication): string {
  return `${JSON.stringify({ crlBaseUrl: publication.crlBaseUrl }, null, 2)}\n`;
}

/**
 * Sets (a checked URL) or clears (null) the CRL base URL, atomically. Certificates issued from
 * then on carry it; those already issued keep what they have until they are renewed.
 *
 * @example
 * await writeCaPublication(dataDir, { crlBaseUrl: "http://edge.example.com/.well-known/moat/" });
 */
export async function writeCaPublication(dataDir: string, publication: CaPublication): Promise<CaPublication> {
  const checked = { crlBaseUrl: publication.crlBaseUrl === null ? null : parseCrlBaseUrl(publication.crlBaseUrl) };
  await writeFileAtomic(join(dataDir, "ca", PUBLICATION_FILE), serializePublication(checked), CERT_FILE_MODE);
  return checked;
}

/**
 * Writes `<dataDir>/ca/crls/<serial>.der` for each issuer still trusted, atomically, then deletes the
 * CRLs of issuers no longer among them (pruned or rolled-over authorities: nothing they signed is
 * trusted any more). The caller holds the revocation lock.
 */
export async function writeIssuerCrls(dataDir: string, crls: readonly { issuerSerialHex: string; der: Uint8Array }[]): Promise<void> {
  const dir = join(dataDir, "ca", CRLS_DIR);
  await mkdir(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  const names = new Set<string>();
  for (const { issuerSerialHex, der } of crls) {
    const name = `${issuerSerialHex.toLowerCase()}.der`;
    if (!SERIAL_FILE_PATTERN.test(name)) throw new RangeError(`not a serial: ${issuerSerialHex}`);
    await writeFileAtomic(join(dir, name), der, CERT_FILE_MODE);
    names.add(name);
  }
  for (const name of await readdir(dir)) {
    if (SERIAL_FILE_PATTERN.test(name) && !names.has(name)) await rm(join(dir, name), { force: true });
  }
}
