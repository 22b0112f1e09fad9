// The store's validator: the config loader's own checks of a whole document, so that the store holds nothing a file could not.
import { validateConfig } from "../config/index.ts";
import type { DocumentValidator } from "../store/index.ts";

/**
 * Paths in a stored document are not resolved against a directory (a store has none): `baseDir` is `/`, and files
 * are not opened here (the edge checks them when it builds its snapshot).
 */
export const storeDocumentValidator: DocumentValidator = (document) => {
  const result = validateConfig(document, { source: "store", baseDir: "/", env: {} });
  return result.ok ? [] : result.issues;
};
