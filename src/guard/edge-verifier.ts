// Verifies an edge: the peer chain from a TLS socket (or as DER) against the trust snapshot, then its SPIFFE identity against what the origin accepts.
import type { X509Certificate } from "node:crypto";
import type { TLSSocket } from "node:tls";
import { checkAccepted, identityFromUris, type AcceptPolicy, type EdgeIdentity } from "./edge-identity.ts";
import type { GuardTrust } from "./guard-trust.ts";
import { refuse, type GuardRefusal } from "./refusal.ts";
import { validatePath } from "./verify-path.ts";
import { x509 } from "./x509-lib.ts";

/** A verifier's answer: the identity, or why not. */
export type EdgeVerification = { ok: true; identity: EdgeIdentity } | GuardRefusal;

export interface EdgeVerifier {
  /** The trust snapshot in use now. */
  trust(): GuardTrust;
  /** Swaps in a new snapshot (a reloaded bundle or CRL): every later verification uses it, on old connections too. */
  setTrust(trust: GuardTrust): void;
  readonly policy: AcceptPolicy;
  /** Verifies a chain as DER, leaf first (what the peer sent, in order). */
  verifyChain(chain: readonly Buffer[]): Promise<EdgeVerification>;
  /** Verifies the peer of a TLS socket; the verdict is kept per socket until the trust changes or a certificate or CRL in it runs out. */
  verifySocket(socket: TLSSocket): Promise<EdgeVerification>;
}

export interface EdgeVerifierOptions {
  trust: GuardTrust;
  policy: AcceptPolicy;
  clock?: () => Date;
}

/**
 * The peer's chain as DER, leaf first, from `getPeerCertificate(true)`. Node links each certificate to
 * its issuer (the chain the peer sent, completed from the server's `ca`); a root links to itself.
 */
export function peerChain(socket: TLSSocket): Buffer[] {
  const chain: Buffer[] = [];
  const seen = new Set<string>();
  let current: ReturnType<TLSSocket["getPeerCertificate"]> | undefined = socket.getPeerCertificate(true);
  while (current && current.raw && !seen.has(current.fingerprint256)) {
    seen.add(current.fingerprint256);
    chain.push(current.raw);
    current = (current as { issuerCertificate?: typeof current }).issuerCertificate;
  }
  return chain;
}

function uriSans(leaf: X509Certificate): string[] {
  const san = new x509.X509Certificate(leaf.raw).getExtension(x509.SubjectAlternativeNameExtension);
  return (san?.names.items ?? []).filter((name) => name.type === "url").map((name) => name.value);
}

const NEVER = new Date(8.64e15);

/** Never throws: a certificate that trips a parser is the peer's problem, answered as malformed, not a crash. */
async function verify(chain: readonly Buffer[], trust: GuardTrust, policy: AcceptPolicy, now: Date): Promise<{ result: EdgeVerification; recheckAt: Date }> {
  try {
    return await verifyOrThrow(chain, trust, policy, now);
  } catch {
    return { result: refuse("malformed-certificate", "a certificate the peer presented could not be read (an extension does not parse)"), recheckAt: NEVER };
  }
}

async function verifyOrThrow(chain: readonly Buffer[], trust: GuardTrust, policy: AcceptPolicy, now: Date): Promise<{ result: EdgeVerification; recheckAt: Date }> {
  const path = await validatePath(chain, trust, now);
  const never = NEVER;
  if (!path.ok) return { result: path, recheckAt: never };
  const leaf = path.path[0] as X509Certificate;
  const parsed = identityFromUris(uriSans(leaf));
  if (!parsed || "ok" in parsed) return { result: parsed ?? refuse("not-an-edge-identity", "no SPIFFE ID"), recheckAt: never };
  const refusal = checkAccepted(parsed, policy);
  if (refusal) return { result: refusal, recheckAt: never };
  const identity: EdgeIdentity = {
    ...parsed,
    serialHex: leaf.serialNumber.toLowerCase().replace(/^(00)+(?=.)/, ""),
    fingerprint256: leaf.fingerprint256,
    notAfter: leaf.validToDate,
  };
  return { result: { ok: true, identity: Object.freeze(identity) }, recheckAt: path.recheckAt };
}

/**
 * @example
 * const verifier = createEdgeVerifier({ trust: createGuardTrust({ bundlePem, crlPem }), policy: { trustDomain: "moat.internal", distributions: ["shop"] } });
 * const verdict = await verifier.verifySocket(req.socket as TLSSocket);
 * if (!verdict.ok) log.warn({ code: verdict.code, detail: verdict.detail }, "refused");
 */
export function createEdgeVerifier(options: EdgeVerifierOptions): EdgeVerifier {
  const clock = options.clock ?? (() => new Date());
  const policy = Object.freeze({ ...options.policy, distributions: Object.freeze([...options.policy.distributions]), origins: options.policy.origins && Object.freeze([...options.policy.origins]) });
  let current = options.trust;
  // Per connection: a keep-alive connection pays for path validation once per trust snapshot.
  const verdicts = new WeakMap<TLSSocket, { trust: GuardTrust; recheckAt: Date; result: Promise<EdgeVerification> }>();
  return {
    policy,
    trust: () => current,
    setTrust: (trust) => {
      current = trust;
    },
    verifyChain: async (chain) => (await verify(chain, current, policy, clock())).result,
    verifySocket: (socket) => {
      const now = clock();
      const kept = verdicts.get(socket);
      if (kept && kept.trust === current && now < kept.recheckAt) return kept.result;
      const pending = verify(peerChain(socket), current, policy, now);
      const entry = { trust: current, recheckAt: NEVER, result: pending.then(({ result }) => result) };
      void pending.then(({ recheckAt }) => {
        entry.recheckAt = recheckAt;
      });
      verdicts.set(socket, entry);
      return entry.result;
    },
  };
}
