// One snapshot build's memo: each configured file read once, each imported certificate checked once, each set of identical TLS material one SecureContext, shared by every distribution that names them.
// Per build, never global: the next build (a reload, a renewal, a replaced file, a rotation) reads and checks everything again.
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
}

export interface SnapshotMemo {
  /** The file's bytes, read once per build. Rejects with the read error itself: each caller names its own config path. */
  readFile(file: string): Promise<Buffer>;
  /** `make()` once per key; every caller with that key gets the same promise, fulfilled or rejected (callers name their own path in the error). */
  importOnce<T>(key: string, make: () => Promise<T>): Promise<T>;
  /** `make()` once per kind and key, for a value derived from shared material (a client certificate's name, a digest). */
  valueOnce<T>(kind: string, key: string, make: () => T): T;
  /** One SecureContext per distinct set of options; throws what tls.createSecureContext throws, to each caller. */
  secureContext(options: SecureContextMaterial): tls.SecureContext;
  counts(): SnapshotMemoCounts;
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
 * @example
 * const memo = createSnapshotMemo();
 * const a = memo.secureContext({ cert, key, minVersion: "TLSv1.3" });
 * memo.secureContext({ cert, key, minVersion: "TLSv1.3" }) === a; // true
 */
export function createSnapshotMemo(): SnapshotMemo {
  const counts: SnapshotMemoCounts = { fileReads: 0, imports: 0, secureContexts: 0 };
  const files = new Map<string, Promise<Buffer>>();
  const imports = new Map<string, Promise<unknown>>();
  const contexts = new Map<string, { context: tls.SecureContext } | { error: unknown }>();
  const values = new Map<string, unknown>();
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
    valueOnce<T>(kind: string, key: string, make: () => T): T {
      const at = `${kind}\0${key}`;
      if (values.has(at)) return values.get(at) as T;
      const value = make();
      values.set(at, value);
      return value;
    },
    secureContext(material) {
      // The key PEM is part of the map key: in memory for this build only, never logged.
      const key = [material.minVersion, material.cert, material.key, material.ca ?? "", ...(material.crl ?? [])].join("\0");
      let made = contexts.get(key);
      if (made === undefined) {
        counts.secureContexts++;
        made = createContext(material);
        contexts.set(key, made);
      }
      if ("error" in made) throw made.error;
      return made.context;
    },
    counts: () => ({ ...counts }),
  };
}

function createContext(material: SecureContextMaterial): { context: tls.SecureContext } | { error: unknown } {
  const { crl, ...rest } = material;
  try {
    return { context: tls.createSecureContext({ ...rest, ...(crl && crl.length > 0 ? { crl: [...crl] } : {}) }) };
  } catch (error) {
    return { error };
  }
}
