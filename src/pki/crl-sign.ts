// Signs one X.509 v2 CRL (RFC 5280 §5) with @peculiar/x509: an entry per revoked serial with its reason code, plus CRL Number and Authority Key Identifier.
import { webcrypto } from "node:crypto";
import { signingParams } from "./key-algorithms.ts";
import type { Signer } from "./sign.ts";
import type { CrlSigningOptions, Revocation, RevocationReason, SignedCrl } from "./types.ts";
import { x509, type X509 } from "./x509-lib.ts";

/**
 * RFC 5280 §5.3.1 CRLReason values Moat records. certificateHold (6) and
 * removeFromCRL (8) are left out on purpose: a revocation in Moat is final, so
 * nothing ever leaves a CRL. privilegeWithdrawn (9) and aACompromise (10) are
 * about attribute certificates and authorities, which Moat does not issue.
 */
export const REVOCATION_REASON_CODES: Readonly<Record<RevocationReason, number>> = {
  unspecified: 0,
  keyCompromise: 1,
  cACompromise: 2,
  affiliationChanged: 3,
  superseded: 4,
  cessationOfOperation: 5,
};

const CRL_NUMBER_OID = "2.5.29.20";

/** The PEM label of a CRL (RFC 7468 §5); OpenSSL and Node's `tls` refuse the library's default `BEGIN CRL`. */
const CRL_PEM_LABEL = "X509 CRL";

/** DER of a non-negative INTEGER: big-endian, minimal, with a 0x00 in front when the top bit is set. */
function derInteger(value: number): Uint8Array {
  let hex = value.toString(16);
  if (hex.length % 2 === 1) hex = `0${hex}`;
  if (Number.parseInt(hex.slice(0, 2), 16) >= 0x80) hex = `00${hex}`;
  const content = Buffer.from(hex, "hex");
  return Uint8Array.from([0x02, content.length, ...content]);
}

/**
 * RFC 5280 §5.2.3: the CRL Number, a non-critical extension, "a monotonically
 * increasing sequence number for a given CRL scope and CRL issuer"; it lets a
 * verifier tell which of two CRLs supersedes the other.
 */
function crlNumberExtension(crlNumber: number): X509.Extension {
  return new x509.Extension(CRL_NUMBER_OID, false, derInteger(crlNumber));
}

/** The CRL Number of a parsed CRL, or undefined if it has none (or one too large for a safe integer). */
export function crlNumberOf(crl: X509.X509Crl): number | undefined {
  const extension = crl.getExtension(CRL_NUMBER_OID);
  if (!extension) return undefined;
  const der = new Uint8Array(extension.value);
  if (der[0] !== 0x02 || der[1] === undefined || der[1] !== der.length - 2 || der.length > 9) return undefined;
  const value = Number.parseInt(Buffer.from(der.subarray(2)).toString("hex"), 16);
  return Number.isSafeInteger(value) ? value : undefined;
}

function checkOptions(entries: readonly Revocation[], options: CrlSigningOptions): void {
  if (!(options.nextUpdate.getTime() > options.thisUpdate.getTime())) {
    throw new RangeError(`a CRL's nextUpdate (${options.nextUpdate.toISOString()}) must be later than its thisUpdate (${options.thisUpdate.toISOString()})`);
  }
  if (!Number.isSafeInteger(options.crlNumber) || options.crlNumber < 0) {
    throw new RangeError(`a CRL number is a non-negative integer (got ${options.crlNumber})`);
  }
  const serials = new Set(entries.map((entry) => entry.serialHex));
  if (serials.size !== entries.length) throw new RangeError("a CRL lists each serial once");
}

/** A CRL signed by `signer` (an intermediate, or the root for the root's own CRL) with the signer's signature algorithm. */
export async function signCrlWith(signer: Signer, entries: readonly Revocation[], options: CrlSigningOptions): Promise<SignedCrl> {
  checkOptions(entries, options);
  if (signer.keyId === undefined) throw new TypeError("a CRL signer needs a Subject Key Identifier for the CRL's Authority Key Identifier");
  const crl = await x509.X509CrlGenerator.create(
    {
      issuer: signer.name,
      thisUpdate: options.thisUpdate,
      nextUpdate: options.nextUpdate,
      signingKey: signer.key,
      signingAlgorithm: signingParams(signer.keyAlgorithm),
      // RFC 5280 §5.2: conforming CRL issuers MUST include the Authority Key Identifier and the CRL Number.
      extensions: [new x509.AuthorityKeyIdentifierExtension(signer.keyId), crlNumberExtension(options.crlNumber)],
      entries: entries.map((entry) => ({
        serialNumber: entry.serialHex,
        revocationDate: entry.revokedAt,
        // RFC 5280 §5.3.1: "the reason code CRL entry extension SHOULD be absent instead of using the unspecified (0) reasonCode value".
        ...(entry.reason === "unspecified" ? {} : { reason: REVOCATION_REASON_CODES[entry.reason] }),
      })),
    },
    webcrypto,
  );
  const der = Buffer.from(crl.rawData);
  return { der, pem: `${x509.PemConverter.encode(crl.rawData, CRL_PEM_LABEL)}\n` };
}
