// Remembers which certificates passed a full handshake for which distribution and set of CAs, so that a resumed TLS session is trusted only where its certificate was verified.

export interface VerifiedCertificates {
  remember(key: VerifiedKey): void;
  wasVerified(key: VerifiedKey): boolean;
}

export interface VerifiedKey {
  distributionId: string;
  /** LoadedTrustStore.caSetId. */
  caSetId: string;
  /** The certificate's SHA-256 fingerprint. */
  fingerprint256: string;
}

/**
 * Bounded, least recently verified out first. A session whose entry was pushed out is refused once
 * (`client-cert-session-unverified`) and the viewer's next connection makes a full handshake.
 * @example
 * const verified = createVerifiedCertificates(10_000);
 * verified.remember({ distributionId: "shop", caSetId: store.caSetId, fingerprint256 });
 */
export function createVerifiedCertificates(maxEntries: number): VerifiedCertificates {
  const entries = new Set<string>();
  const keyOf = (key: VerifiedKey) => `${key.distributionId}\n${key.caSetId}\n${key.fingerprint256}`;
  return {
    remember(key) {
      const text = keyOf(key);
      entries.delete(text);
      entries.add(text);
      if (entries.size > maxEntries) {
        const oldest = entries.values().next();
        if (!oldest.done) entries.delete(oldest.value);
      }
    },
    wasVerified: (key) => entries.has(keyOf(key)),
  };
}
