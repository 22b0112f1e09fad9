// Checks where a chain ends: at a root, at an issuer among the trusted roots when given, and never at a leaf whose intermediate is missing.
import { CertificateImportError } from "../../errors.ts";
import { isSelfSigned, linkProblem } from "./chain-links.ts";
import { certName, parseCertificatesPem, type ParsedCert } from "./parsed-cert.ts";

const UNTRUSTED_FIX = "import a certificate issued under one of the trusted roots, or add the root that issued it to trustedCaPem";

function untrusted(message: string, fix = UNTRUSTED_FIX): CertificateImportError {
  return new CertificateImportError("import-chain-untrusted", `${message}.`, { fix });
}

/** The trusted certificate that is `top` itself or issued it, if any. */
function anchorOf(top: ParsedCert, anchors: readonly ParsedCert[]): ParsedCert | undefined {
  return anchors.find((anchor) => anchor.node.fingerprint256 === top.node.fingerprint256 || linkProblem(top, anchor) === undefined);
}

function subjects(anchors: readonly ParsedCert[]): string {
  return anchors.map((anchor) => `"${anchor.peculiar.subject}"`).join(", ");
}

/**
 * A lone leaf that no trusted root issued: almost surely the intermediate is missing, the most common
 * import mistake (cert.pem given instead of fullchain.pem). Public CAs never sign leaves with a root
 * (CA/Browser Forum Baseline Requirements §6.1.7), and private CAs rarely do; for one that does,
 * giving its root as trustedCaPem lets the leaf through.
 */
function missingIntermediate(leaf: ParsedCert): CertificateImportError {
  const issuer = leaf.peculiar.issuer;
  return new CertificateImportError(
    "import-chain-broken",
    `${certName(leaf)} was issued by "${issuer}", which is neither in the chain nor a trusted root: the intermediate is missing.`,
    {
      fix: `append the certificate of "${issuer}" (and any intermediate above it) after the leaf: use the CA's full chain (e.g. fullchain.pem); if "${issuer}" is itself a root, give it as trustedCaPem`,
    },
  );
}

/** Throws import-chain-broken or import-chain-untrusted unless the chain (leaf first, in order) ends where it should. */
export function checkChainAnchored(path: readonly ParsedCert[], trustedCaPem: string | undefined): void {
  const top = path.at(-1) as ParsedCert;
  const anchors = trustedCaPem === undefined ? [] : parseCertificatesPem(trustedCaPem, "trustedCaPem");
  if (anchorOf(top, anchors)) return;
  if (isSelfSigned(top)) {
    if (trustedCaPem === undefined) return;
    throw untrusted(`the chain ends at the self-signed ${certName(top)}, which is not one of the trusted roots (${subjects(anchors)})`);
  }
  const sameName = anchors.find((anchor) => anchor.peculiar.subject === top.peculiar.issuer);
  if (sameName) {
    throw untrusted(`${certName(top)} names the trusted root "${sameName.peculiar.subject}" as issuer, but does not verify with that root's key (a different root of the same name)`);
  }
  if (path.length === 1) throw missingIntermediate(top);
  // No trusted roots given: leaving the root out of a chain is normal (RFC 8446 §4.4.2), so the chain may end at an intermediate.
  if (trustedCaPem === undefined) return;
  const issuer = top.peculiar.issuer;
  throw untrusted(
    `the chain ends at ${certName(top)}, issued by "${issuer}", which is not one of the trusted roots (${subjects(anchors)})`,
    `${UNTRUSTED_FIX}; if "${issuer}" is an intermediate under one of them, append it to the chain`,
  );
}
