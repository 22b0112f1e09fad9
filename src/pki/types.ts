// The shapes the pki module hands out: key algorithms, issued certificates, the CA and the certificate store.

export type KeyAlgorithm = "ecdsa-p256" | "ecdsa-p384" | "rsa-2048" | "rsa-3072";

/** A certificate Moat issued, with its key: everything a TLS endpoint needs, plus what to log it by. */
export interface IssuedCertificate {
  /** The leaf alone. */
  certPem: string;
  /** Leaf + intermediate: what a TLS peer presents (`cert` in `tls.createSecureContext`). */
  chainPem: string;
  /** PKCS#8 PEM, unencrypted in memory. Never log it. */
  keyPem: string;
  /** Lower-case hex, no colons. */
  serialHex: string;
  /** SHA-256 fingerprint as Node's `X509Certificate.fingerprint256` formats it (`AB:CD:…`). */
  fingerprint256: string;
  notBefore: Date;
  notAfter: Date;
  /** One line, RFC 4514 style, e.g. `CN=shop.example.test`. */
  subject: string;
  /** As Node prints them: `DNS:shop.example.test`, `IP Address:127.0.0.1`, `URI:spiffe://…`. */
  sans: readonly string[];
}

export interface ServerCertificateRequest {
  dnsNames: readonly string[];
  ipAddresses?: readonly string[];
  validityMs: number;
  /** Overrides the default (now − 1 minute); tests use it to make not-yet-valid certificates. */
  notBefore?: Date;
  /** Overrides the default (notBefore + validityMs); tests use it to make expired certificates. */
  notAfter?: Date;
  /** Defaults to the CA's own algorithm. */
  keyAlgorithm?: KeyAlgorithm;
}

/** A server certificate for a key the requester keeps (enrolment: the key never leaves the origin host). */
export interface ServerCertificateForKeyRequest extends Omit<ServerCertificateRequest, "keyAlgorithm"> {
  /** SPKI PEM (`BEGIN PUBLIC KEY`), e.g. from a verified CSR; its algorithm is the certificate's. */
  publicKeyPem: string;
}

/** An audit checkpoint signer's certificate for its own ECDSA P-256 key (see profiles.ts's AUDIT_CHECKPOINT_SIGNING_EKU). */
export interface AuditSignerCertificateRequest {
  /** SPKI PEM of an ECDSA P-256 key. */
  publicKeyPem: string;
  /** For people: the subject is `CN=moat audit signer <name>`. */
  name: string;
  validityMs: number;
}

/** A certificate Moat signed for a key it never held: an IssuedCertificate without `keyPem`. */
export type SignedCertificate = Omit<IssuedCertificate, "keyPem">;

export interface OriginClientCertificateRequest {
  trustDomain: string;
  distributionId: string;
  originId: string;
  validityMs: number;
  notBefore?: Date;
  notAfter?: Date;
  /** The leaf's key algorithm; default: the CA's. */
  keyAlgorithm?: KeyAlgorithm;
}

/** An origin client certificate for a key the requester keeps (a joined edge's CSR: the key never leaves the edge). */
export interface OriginClientCertificateForKeyRequest extends Omit<OriginClientCertificateRequest, "keyAlgorithm"> {
  /** SPKI PEM, from a verified CSR; its algorithm is the certificate's. */
  publicKeyPem: string;
}

/** A client certificate for the admin API: the role it may act with, and who holds it. */
export interface AdminClientCertificateRequest {
  trustDomain: string;
  /** `viewer`, `operator` or `admin` (the API checks which; the CA only writes it). */
  role: string;
  /** Who holds it ("alice", "ci"): logs name requests by it. */
  name: string;
  validityMs: number;
  notBefore?: Date;
  notAfter?: Date;
  keyAlgorithm?: KeyAlgorithm;
}

export interface CertificateAuthority {
  readonly rootPem: string;
  readonly intermediatePem: string;
  /** What peers should trust: the root(s); during a root rollover, the old and the new root. */
  readonly bundlePem: string;
  /**
   * Earlier intermediates of this CA that are still valid: leaves they issued may still be in
   * use (a rotation replaces them soon after), and their CRLs are still published.
   */
  readonly previousIntermediatePems: readonly string[];
  readonly keyAlgorithm: KeyAlgorithm;
  /**
   * The CA's CRL base URL (publication.json, ending in `/`), or null. When set, every certificate it
   * issues carries a CRL Distribution Point: `<base>crl/<issuing intermediate serial>.der`.
   */
  readonly crlBaseUrl: string | null;
  /** A TLS server certificate: EKU serverAuth only, DNS and IP SANs. */
  issueServerCertificate(request: ServerCertificateRequest): Promise<IssuedCertificate>;
  /** A TLS server certificate (EKU serverAuth only) for the requester's own public key. */
  signServerCertificate(request: ServerCertificateForKeyRequest): Promise<SignedCertificate>;
  /** An edge's client certificate for one origin: EKU clientAuth only, exactly one URI SAN (the SPIFFE ID), a fresh key. */
  issueOriginClientCertificate(request: OriginClientCertificateRequest): Promise<IssuedCertificate>;
  /** An origin client certificate (the same profile) for the requester's own public key: how the CA node signs a joined edge's CSR. */
  signOriginClientCertificate(request: OriginClientCertificateForKeyRequest): Promise<SignedCertificate>;
  /** An admin API client certificate: EKU clientAuth only, one URI SAN `spiffe://<trust domain>/admin/<role>/<name>`, a fresh key. */
  issueAdminClientCertificate(request: AdminClientCertificateRequest): Promise<IssuedCertificate>;
  /** An audit checkpoint signer's certificate (EKU AUDIT_CHECKPOINT_SIGNING_EKU only) for the requester's own ECDSA P-256 key. */
  signAuditSignerCertificate(request: AuditSignerCertificateRequest): Promise<SignedCertificate>;
  /**
   * A CRL signed by the intermediate (the issuer of every leaf) with the CA's signature algorithm:
   * a reason code per entry, CRL Number and Authority Key Identifier. The key never leaves the CA.
   */
  signCrl(entries: readonly Revocation[], options: CrlSigningOptions): Promise<SignedCrl>;
}

export interface IssuedCertificateStore {
  /**
   * A certificate imported into the data directory (the admin API's POST /certificates) under `name`: its chain and
   * key, not checked (the caller runs the import checks); undefined when none was imported under it.
   */
  importedCertificate(use: "viewer-server" | "origin-client", name: string): Promise<{ chainPem: string; keyPem: string } | undefined>;
  /** The certificate stored as `certs/server/<name>/`, reused while fresh, else issued and written. */
  serverCertificate(request: {
    name: string;
    dnsNames: readonly string[];
    ipAddresses?: readonly string[];
    validityMs: number;
    /** Default: the CA's. A stored certificate with another key algorithm is replaced. */
    keyAlgorithm?: KeyAlgorithm;
  }): Promise<IssuedCertificate>;
  /** The certificate stored as `certs/origin-client/<distributionId>/<originId>/`, reused while fresh, else issued and written. */
  originClientCertificate(request: {
    trustDomain: string;
    distributionId: string;
    originId: string;
    validityMs: number;
    /** Default: the CA's. A stored certificate with another key algorithm is replaced. */
    keyAlgorithm?: KeyAlgorithm;
  }, proving?: {
    /**
     * Called with a renewed certificate before it replaces a still-valid one: resolve false and the
     * current certificate stays in use (the renewed one waits as `next` and is offered again).
     */
    prove?(candidate: IssuedCertificate): Promise<boolean>;
  }): Promise<IssuedCertificate>;
}

export interface CertificateDescription {
  serialHex: string;
  fingerprint256: string;
  subject: string;
  issuer: string;
  sans: string[];
  notBefore: Date;
  notAfter: Date;
  isCa: boolean;
  /** `serverAuth`, `clientAuth`, … (the dotted OID for any other purpose); empty when the certificate has no EKU extension. */
  extendedKeyUsage: string[];
}

export type Clock = () => Date;

/**
 * RFC 5280 §5.3.1 reasons Moat records. No certificateHold: a revocation in Moat is final,
 * and a serial never leaves the CRL once listed.
 */
export type RevocationReason =
  | "unspecified"
  | "keyCompromise"
  | "cACompromise"
  | "affiliationChanged"
  | "superseded"
  | "cessationOfOperation";

/** One revoked certificate, as `<dataDir>/ca/revoked.json` keeps it and a CRL lists it. */
export interface Revocation {
  /** Lower-case hex, no colons, no leading zero bytes: as `IssuedCertificate.serialHex`. */
  serialHex: string;
  reason: RevocationReason;
  revokedAt: Date;
}

export interface CrlSigningOptions {
  thisUpdate: Date;
  nextUpdate: Date;
  /** RFC 5280 §5.2.3: increases with every CRL the issuer signs. */
  crlNumber: number;
}

/** A signed CRL: PEM (`-----BEGIN X509 CRL-----`, RFC 7468 §5, ending in a newline) and DER. */
export interface SignedCrl {
  pem: string;
  der: Buffer;
}
