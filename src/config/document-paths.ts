// The fields of a config document that name files or directories: made absolute when a file goes into a store, refused there when relative.

import { isAbsolute, resolve } from "node:path";
import type { ConfigIssue } from "../errors.ts";
import { issueAt, type IssuePath } from "./issues.ts";
import { fieldOf, isMapping, listOf } from "./raw.ts";

/** One path-valued field found in a document: where it is, and its (raw) value. */
interface PathField {
  path: IssuePath;
  value: string;
  /** Writes a new value in place (on a copy the caller owns). */
  set(value: string): void;
}

/** The keys of a certificate source (`viewerCertificate`, `mtls.clientCertificate`) that name files. */
const CERTIFICATE_FILE_KEYS = ["cert", "key", "pkcs12", "passphraseFile"] as const;

/**
 * Every `field.filePath` of the schema, read from the raw document (anything malformed is skipped: the schema
 * reports it). test/config/document-paths.test.ts fails when the schema gains a filePath this list does not name.
 */
function pathFields(document: unknown): PathField[] {
  const found: PathField[] = [];
  const add = (owner: unknown, key: string | number, path: IssuePath) => {
    const container = owner as Record<string | number, unknown>;
    const value = Array.isArray(owner) || isMapping(owner) ? container[key] : undefined;
    if (typeof value === "string" && value !== "") found.push({ path: [...path, key], value, set: (next) => (container[key] = next) });
  };
  add(document, "dataDir", []);
  add(fieldOf(document, "pki"), "masterKeyFile", ["pki"]);
  add(fieldOf(fieldOf(document, "cache"), "disk"), "dir", ["cache", "disk"]);
  const otlp = fieldOf(fieldOf(document, "tracing"), "otlp");
  add(otlp, "trustedCa", ["tracing", "otlp"]);
  for (const key of ["cert", "key"]) add(fieldOf(otlp, "clientCertificate"), key, ["tracing", "otlp", "clientCertificate"]);
  add(otlp, "headersFile", ["tracing", "otlp"]);
  const stores = fieldOf(document, "trustStores");
  for (const [name, store] of Object.entries(isMapping(stores) ? stores : {})) {
    add(store, "caBundle", ["trustStores", name]);
    add(store, "crl", ["trustStores", name]);
    listOf(store, "crl").forEach((_file, index) => add(fieldOf(store, "crl"), index, ["trustStores", name, "crl"]));
  }
  listOf(document, "distributions").forEach((distribution, index) => {
    const viewerCertificate = fieldOf(distribution, "viewerCertificate");
    for (const key of CERTIFICATE_FILE_KEYS) add(viewerCertificate, key, ["distributions", index, "viewerCertificate"]);
    listOf(distribution, "origins").forEach((origin, originIndex) => {
      const mtls = fieldOf(origin, "mtls");
      const mtlsPath = ["distributions", index, "origins", originIndex, "mtls"];
      for (const key of CERTIFICATE_FILE_KEYS) add(fieldOf(mtls, "clientCertificate"), key, [...mtlsPath, "clientCertificate"]);
      add(mtls, "trustedCa", mtlsPath);
    });
    add(fieldOf(distribution, "shield"), "trustedCa", ["distributions", index, "shield"]);
  });
  return found;
}

/**
 * A copy of `document` whose relative paths are resolved against `baseDir` (the directory of the file it was read
 * from): what `moat apply` stores, so that the edge finds the same files whatever its working directory.
 *
 * @example
 * withAbsolutePaths({ trustStores: { partners: { caBundle: "./partners.pem" } }, distributions: [] }, "/etc/moat");
 * // { trustStores: { partners: { caBundle: "/etc/moat/partners.pem" } }, distributions: [] }
 */
export function withAbsolutePaths<T>(document: T, baseDir: string): T {
  const copy = structuredClone(document);
  for (const field of pathFields(copy)) if (!isAbsolute(field.value)) field.set(resolve(baseDir, field.value));
  return copy;
}

/**
 * An issue for each relative path: a document in a store has no directory of its own that a relative path could
 * start from, and each edge would read it against its own working directory.
 */
export function relativePathIssues(document: unknown): ConfigIssue[] {
  return pathFields(document)
    .filter((field) => !isAbsolute(field.value))
    .map((field) =>
      // A PEM block pasted where its file's path belongs may be a private key: it is not repeated in the answer.
      isPemText(field.value)
        ? issueAt(field.path, "must be the absolute path of a file, not the file's content (got a PEM block, not repeated here): a stored config names certificate and key files, it never holds them")
        : issueAt(
            field.path,
            `must be an absolute path in a stored config (got ${JSON.stringify(field.value)}); \`moat apply -f FILE\` resolves a file's relative paths against its directory`,
          ),
    );
}

function isPemText(value: string): boolean {
  return /-----BEGIN [A-Z0-9 ]+-----/.test(value);
}
