// A config document as a store holds it: validated by the file's schema, with every path absolute (where the store is: store-address.ts).
import type { ConfigIssue } from "../errors.ts";
import { relativePathIssues } from "./document-paths.ts";
import { validateConfig } from "./parse.ts";

/**
 * The store's validator (openStore's `validate`): every issue of the schema and cross-references, and every
 * relative path (a stored document has no directory of its own). Files are not looked at: they must exist on the
 * edge that builds the revision, not on the host that writes it.
 */
export function validateStoredDocument(document: Record<string, unknown>): ConfigIssue[] {
  const result = validateConfig(document, { source: "store", baseDir: "/", env: {} });
  return [...(result.ok ? [] : result.issues), ...relativePathIssues(document)];
}
