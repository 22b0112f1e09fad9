// The cipher policy of every Moat TLS endpoint: TLS 1.2 only with ECDHE and AEAD ciphers, OpenSSL's TLS 1.3 suites, modern key-exchange groups, no renegotiation.
// node:* only: the guard (shipped as moat/guard) and the config layer import this file directly.
import { constants } from "node:crypto";
import { createSecureContext, getCiphers } from "node:tls";

/**
 * The TLS 1.2 ciphers Moat accepts, in its order of preference (Mozilla's "intermediate" list,
 * without DHE): forward secrecy by ECDHE, authenticated encryption by AES-GCM or ChaCha20-Poly1305.
 * No CBC (Lucky13, padding oracles), no static RSA key exchange (no forward secrecy, ROBOT), no DHE
 * (weak or slow groups), no CCM, ARIA or Camellia. A configured list may reorder or shorten it only.
 */
export const TLS12_CIPHERS = [
  "ECDHE-ECDSA-AES128-GCM-SHA256",
  "ECDHE-RSA-AES128-GCM-SHA256",
  "ECDHE-ECDSA-AES256-GCM-SHA384",
  "ECDHE-RSA-AES256-GCM-SHA384",
  "ECDHE-ECDSA-CHACHA20-POLY1305",
  "ECDHE-RSA-CHACHA20-POLY1305",
] as const;

/**
 * The TLS 1.3 suites a list may name (RFC 8446 §9.1 and its AEADs with a full tag; CCM_8's short
 * tag is left out). A list that names none keeps OpenSSL's default TLS 1.3 suites: Node passes
 * names starting with TLS_ to SSL_CTX_set_ciphersuites and the rest to SSL_CTX_set_cipher_list.
 */
export const TLS13_CIPHERS = ["TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_GCM_SHA256", "TLS_AES_128_CCM_SHA256"] as const;

/** Key-exchange groups in order of preference; the hybrid post-quantum group first where OpenSSL (3.5+) has it. */
export const PREFERRED_GROUPS = ["X25519MLKEM768", "X25519", "P-256", "P-384"] as const;

export interface TlsPolicy {
  /** OpenSSL names, TLS 1.2 (`ECDHE-…`) and optionally TLS 1.3 (`TLS_…`), in order of preference. */
  readonly ciphers: readonly string[];
  /** OpenSSL group names (`X25519`, `P-256`, `X25519MLKEM768`), in order of preference. */
  readonly ecdhCurves: readonly string[];
}

/** What Node's TLS server and client options take for a policy. */
export interface TlsPolicyOptions {
  ciphers: string;
  ecdhCurve: string;
  /** The server's order wins over the client's (SSL_OP_CIPHER_SERVER_PREFERENCE). */
  honorCipherOrder: true;
  /** TLS 1.2 renegotiation is refused (TLS 1.3 has none): a connection's peer is the one its handshake proved. */
  secureOptions: number;
}

let supportedGroups: readonly string[] | undefined;

/** The default groups: PREFERRED_GROUPS less the ones this OpenSSL does not know. */
function defaultGroups(): readonly string[] {
  supportedGroups ??= PREFERRED_GROUPS.filter((group) => groupListProblem([group]) === null);
  return supportedGroups;
}

/** The default policy: every cipher of TLS12_CIPHERS, OpenSSL's TLS 1.3 suites, the preferred groups. */
export function defaultTlsPolicy(): TlsPolicy {
  return { ciphers: [...TLS12_CIPHERS], ecdhCurves: [...defaultGroups()] };
}

/**
 * The node:tls options of a policy, for a server (`tls.createServer`, `setSecureContext`) or a client.
 * @example
 * https.createServer({ key, cert, ...tlsPolicyOptions(defaultTlsPolicy()) }, handler);
 */
export function tlsPolicyOptions(policy: TlsPolicy = defaultTlsPolicy()): TlsPolicyOptions {
  return {
    ciphers: policy.ciphers.join(":"),
    ecdhCurve: policy.ecdhCurves.join(":"),
    honorCipherOrder: true,
    secureOptions: constants.SSL_OP_NO_RENEGOTIATION,
  };
}

/** Why a known cipher is not in the allowed lists, in a few words. */
function weakness(name: string): string {
  if (name.startsWith("TLS_")) return "a truncated 8-byte authentication tag";
  if (/^(DHE|EDH)-/.test(name)) return "finite-field DHE key exchange";
  if (!name.startsWith("ECDHE-")) return "no ECDHE key exchange, so no forward secrecy";
  if (/ARIA|CAMELLIA/.test(name)) return "ARIA and Camellia are not offered";
  if (/CCM/.test(name)) return "CCM is not offered";
  return "CBC mode";
}

/** Why a cipher name is refused, or null. Names are OpenSSL's (`openssl ciphers -V` lists them), not cipher-string keywords. */
export function cipherProblem(name: string): string | null {
  const isTls13 = name.startsWith("TLS_");
  const allowed: readonly string[] = isTls13 ? TLS13_CIPHERS : TLS12_CIPHERS;
  if (allowed.includes(name)) return null;
  const choices = `use some of ${allowed.join(", ")}`;
  if (!getCiphers().includes(name.toLowerCase())) {
    return `${JSON.stringify(name)} is not a cipher this OpenSSL knows (names only, no keywords such as HIGH or !aNULL): ${choices}`;
  }
  return `${name} is refused as weak (${weakness(name)}): ${choices}`;
}

/** Why a group list is refused, or null: OpenSSL itself is asked, by building a context with it. */
export function groupListProblem(groups: readonly string[]): string | null {
  try {
    createSecureContext({ ecdhCurve: groups.join(":") });
    return null;
  } catch {
    return `OpenSSL does not know ${groups.length === 1 ? "this group" : "one of these groups"} (${groups.join(":")}): use some of X25519MLKEM768, X25519, P-256, P-384, P-521, X448`;
  }
}

/**
 * Why a whole cipher list is refused (each name checked, then OpenSSL asked), or null. A list of
 * TLS 1.3 suites only makes the endpoint TLS 1.3 only (Node then raises its minimum version).
 */
export function cipherListProblem(ciphers: readonly string[]): string | null {
  for (const name of ciphers) {
    const problem = cipherProblem(name);
    if (problem) return problem;
  }
  try {
    createSecureContext({ ciphers: ciphers.join(":") });
    return null;
  } catch (error) {
    return `OpenSSL refuses this list (${(error as Error).message})`;
  }
}
