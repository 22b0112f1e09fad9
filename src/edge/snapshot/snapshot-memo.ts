// One snapshot build's memo: each configured file read once, each imported certificate checked once, each set of identical TLS material one SecureContext, shared by every distribution that names them.
// Per build, never global: the next build (a reload, a renewal, a replaced file, a rotation) reads and checks everything again;
// only a SecureContext made from byte-identical material is carried over from the build before.
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import tls from "node:tls";

/** What the memo made, by kind: a test counts them to see that distributions share. */
export interface SnapshotMemoCounts {
  /** Files read from disk. */
  fileReads: number;
  /** Imported certificates parsed and checked (every check but the names, which are each distribution's own). */
  imports: number;
  /** SecureContexts created (OpenSSL parses the certificate and key for each). */
  secureContexts: number;
  /** SecureContexts taken from the build before, made from the very same material. */
  reusedSecureContexts: number;
}

export interface SnapshotMemo {
  /** The file's bytes, read once per build. Rejects with the read error itself: each caller names its own config path. */
  readFile(file: string): Promise<Buffer>;
  /**
   * The file's text (UTF-8), decoded once per build: 10,000 distributions naming one certificate and key share two
   * strings instead of decoding 20,000 copies (garbage for the collector while a build runs). Rejects as readFile.
   */
  readText(file: string): Promise<string>;
  /** `make()` once per key; every caller with that key gets the same promise, fulfilled or rejected (callers name their own path in the error). */
  importOnce<T>(key: string, make: () => Promise<T>): Promise<T>;
  /**
   * `make()` once per kind, owner and key, for a value derived from shared material (a client certificate's name, a digest).
   * The owner is the material object itself (places that import the same certificate share one): looked up by identity,
   * without hashing its PEM text again for every origin.
   */
  valueOnce<T>(kind: string, owner: object, key: string, make: () => T): T;
  /** One SecureContext per distinct set of options; throws what tls.createSecureContext throws, to each caller. */
  secureContext(options: SecureContextMaterial): tls.SecureContext;
  counts(): SnapshotMemoCounts;
  /** The contexts this build made or reused, by a digest of their material: the next build's `previousContexts`. */
  contexts(): ReadonlyMap<string, tls.SecureContext>;
}

/** The options a snapshot's contexts are made from: text and flags only, so that equal options can be told apart from different ones. */
export interface SecureContextMaterial {
  cert: string;
  key: string;
  minVersion: tls.SecureVersion;
  ca?: string;
  crl?: readonly string[];
}

/**
 * `previousContexts`: the contexts of the build being replaced (its memo's `contexts()`). A context is fully made by its
 * options, so one from the very same certificate, key, version, CAs and CRLs is taken rather than made again: a rebuild
 * of 10,000 distributions with a certificate each need not make 10,000 contexts again.
 * @example
 * const memo = createSnapshotMemo();
 * const a = memo.secureContext({ cert, key, minVersion: "TLSv1.3" });
 * memo.secureContext({ cert, key, minVersion: "TLSv1.3" }) === a; // true
 * createSnapshotMemo({ previousContexts: memo.contexts() }).secureContext({ cert, key, minVersion: "TLSv1.3" }) === a; // true
 */
export function createSnapshotMemo(options: { previousContexts?: ReadonlyMap<string, tls.SecureContext> } = {}): SnapshotMemo {
  const counts: SnapshotMemoCounts = { fileReads: 0, imports: 0, secureContexts: 0, reusedSecureContexts: 0 };
  const files = new Map<string, Promise<Buffer>>();
  const texts = new Map<string, Promise<string>>();
  const digests = new MaterialDigests();
  const imports = new Map<string, Promise<unknown>>();
  const contexts = new Map<string, { context: tls.SecureContext } | { error: unknown }>();
  const values = new WeakMap<object, Map<string, unknown>>();
  return {
    readFile(file) {
      let bytes = files.get(file);
      if (bytes === undefined) {
        counts.fileReads++;
        bytes = readFile(file);
        // Every caller awaits it; this one only keeps an unawaited rejection from being reported as unhandled.
        bytes.catch(() => {});
        files.set(file, bytes);
      }
      return bytes;
    },
    readText(file) {
      let text = texts.get(file);
      if (text === undefined) {
        text = this.readFile(file).then((bytes) => bytes.toString("utf8"));
        text.catch(() => {});
        texts.set(file, text);
      }
      return text;
    },
    importOnce<T>(key: string, make: () => Promise<T>): Promise<T> {
      let made = imports.get(key) as Promise<T> | undefined;
      if (made === undefined) {
        counts.imports++;
        made = make();
        made.catch(() => {});
        imports.set(key, made);
      }
      return made;
    },
    valueOnce<T>(kind: string, owner: object, key: string, make: () => T): T {
      let owned = values.get(owner);
      if (owned === undefined) values.set(owner, (owned = new Map()));
      const at = `${kind}\0${key}`;
      if (owned.has(at)) return owned.get(at) as T;
      const value = make();
      owned.set(at, value);
      return value;
    },
    secureContext(material) {
      // A digest, not the text: the key PEM is not kept as a map key, and a rebuild keeps 10,000 short keys, not 10,000 PEMs.
      const key = digests.of(material);
      let made = contexts.get(key);
      if (made === undefined) {
        const previous = options.previousContexts?.get(key);
        if (previous) counts.reusedSecureContexts++;
        else counts.secureContexts++;
        made = previous ? { context: previous } : createContext(material);
        contexts.set(key, made);
      }
      if ("error" in made) throw made.error;
      return made.context;
    },
    counts: () => ({ ...counts }),
    contexts: () => new Map([...contexts].flatMap(([key, made]) => ("context" in made ? [[key, made.context] as const] : []))),
  };
}

/**
 * Each distinct material's digest, hashed once per build: distributions that share a certificate pass the very same strings
 * (readText), which a Map finds by the hash V8 keeps in each string, without hashing their PEM text again.
 */
class MaterialDigests {
  readonly #byCert = new Map<string, Map<string, Map<string, Map<string, string>>>>();

  of(material: SecureContextMaterial): string {
    // CRL lists are arrays made per trust store: rare enough to hash each time.
    if (material.crl && material.crl.length > 0) return materialDigest(material);
    const byKey = lookup(this.#byCert, material.cert, () => new Map());
    // The CA bundle, when there is one, is a shared string too ("" when none: a bundle is never empty).
    const byCa = lookup(byKey, material.key, () => new Map());
    const byVersion = lookup(byCa, material.ca ?? "", () => new Map());
    return lookup(byVersion, material.minVersion, () => materialDigest(material));
  }
}

function lookup<V>(map: Map<string, V>, key: string, make: () => V): V {
  let value = map.get(key);
  if (value === undefined) map.set(key, (value = make()));
  return value;
}

function materialDigest(material: SecureContextMaterial): string {
  const hash = createHash("sha256").update(material.minVersion).update("\0").update(material.cert).update("\0").update(material.key).update("\0").update(material.ca ?? "");
  for (const crl of material.crl ?? []) hash.update("\0").update(crl);
  return hash.digest("base64");
}

function createContext(material: SecureContextMaterial): { context: tls.SecureContext } | { error: unknown } {
  const { crl, ...rest } = material;
  try {
    return { context: tls.createSecureContext({ ...rest, ...(crl && crl.length > 0 ? { crl: [...crl] } : {}) }) };
  } catch (error) {
    return { error };
  }
}
