// The files a config refers to (imported certificates, keys, PKCS#12 files and passphrase files; CA bundles), and whether each can be read.

import { constants } from "node:fs";
import { access, stat } from "node:fs/promises";
import { resolve } from "node:path";
import type { ConfigIssue } from "../errors.ts";
import { issueAt, type IssuePath } from "./issues.ts";
import { fieldOf, isMapping, listOf, stringOf } from "./raw.ts";

export interface FileReference {
  /** Where the config names the file, e.g. distributions[0].origins[0].mtls.trustedCa. */
  path: IssuePath;
  /** Absolute. */
  file: string;
}

/** The keys of an imported certificate source that name files. */
const CERTIFICATE_FILE_KEYS = ["cert", "key", "pkcs12", "passphraseFile"] as const;

// Read from the raw document, like references.ts, so that a missing file is reported in the
// same pass as any other issue; keep in step with the file fields of schema.ts.
export function referencedFiles(document: unknown, baseDir: string): FileReference[] {
  const found: FileReference[] = [];
  // Thousands of distributions name the same few files: each spelling is resolved once.
  const resolved = new Map<string, string>();
  const absolute = (file: string) => {
    let path = resolved.get(file);
    if (path === undefined) resolved.set(file, (path = resolve(baseDir, file)));
    return path;
  };
  const add = (owner: unknown, key: string, path: IssuePath) => {
    const file = stringOf(owner, key);
    if (file !== undefined && file !== "") found.push({ path: [...path, key], file: absolute(file) });
  };
  const addCertificate = (source: unknown, path: IssuePath) => {
    for (const key of CERTIFICATE_FILE_KEYS) add(source, key, path);
  };
  const stores = fieldOf(document, "trustStores");
  for (const [name, store] of Object.entries(isMapping(stores) ? stores : {})) {
    add(store, "caBundle", ["trustStores", name]);
    add(store, "crl", ["trustStores", name]);
    listOf(store, "crl").forEach((file, index) => {
      if (typeof file === "string" && file !== "") found.push({ path: ["trustStores", name, "crl", index], file: absolute(file) });
    });
  }
  const otlp = fieldOf(fieldOf(document, "tracing"), "otlp");
  add(otlp, "trustedCa", ["tracing", "otlp"]);
  add(fieldOf(otlp, "clientCertificate"), "cert", ["tracing", "otlp", "clientCertificate"]);
  add(fieldOf(otlp, "clientCertificate"), "key", ["tracing", "otlp", "clientCertificate"]);
  listOf(document, "distributions").forEach((distribution, index) => {
    const path = ["distributions", index];
    addCertificate(fieldOf(distribution, "viewerCertificate"), [...path, "viewerCertificate"]);
    listOf(distribution, "origins").forEach((origin, originIndex) => {
      const mtlsPath = [...path, "origins", originIndex, "mtls"];
      const mtls = fieldOf(origin, "mtls");
      addCertificate(fieldOf(mtls, "clientCertificate"), [...mtlsPath, "clientCertificate"]);
      add(mtls, "trustedCa", mtlsPath);
    });
  });
  return found;
}

/** An issue for each file that does not exist, is not a file, or cannot be read. */
export async function checkFiles(references: readonly FileReference[]): Promise<ConfigIssue[]> {
  // Each distinct file is looked at once, and awaited once: ten thousand distributions naming one certificate make one
  // stat and one promise, not ten thousand of each.
  const files = [...new Set(references.map((reference) => reference.file))];
  const problems = new Map(await Promise.all(files.map(async (file) => [file, await fileProblem(file)] as const)));
  return references.flatMap((reference) => {
    const problem = problems.get(reference.file);
    return problem ? [issueAt(reference.path, problem)] : [];
  });
}

async function fileProblem(file: string): Promise<string | null> {
  try {
    if (!(await stat(file)).isFile()) return `not a regular file: ${file}`;
    await access(file, constants.R_OK);
    return null;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return `file not found: ${file}`;
    if (code === "EACCES" || code === "EPERM") return `file not readable (permission denied): ${file}`;
    return `cannot read ${file}: ${(error as Error).message}`;
  }
}
