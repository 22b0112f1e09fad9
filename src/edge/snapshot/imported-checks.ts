// Runs the import checks of every certificate a config imports, as the edge would at start: for `moat config check`.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { MoatConfig } from "../../config/index.ts";
import { MoatError } from "../../errors.ts";
import { importedSlotDir, readStoredImport } from "../../pki/index.ts";
import type { CertificateUse, MasterKey } from "../../pki/index.ts";
import { importedCredentials, storedCredentials } from "./credentials.ts";
import { createSnapshotMemo } from "./snapshot-memo.ts";

/** What the checks found: each refusal (config path, check, fix), and the `{ imported: NAME }` ones found but not opened (no master key). */
export interface ImportedCertificateChecks {
  problems: string[];
  /** Config paths of certificates imported through the API that are in the data directory but were not checked: their keys are sealed. */
  unopened: string[];
}

/** Thrown by the key-less reader: the certificate is there, and its sealed key cannot be opened to check it. */
class SealedWithoutKey extends Error {}

/**
 * Every imported certificate's refusal; empty when all would load. With `stored`, certificates imported through
 * the admin API (`{ imported: NAME }`) are read from the config's data directory too: with the master key, checked in
 * full as the edge checks them; without it, only found (a name nothing was imported under is refused all the same).
 * Without `stored` they are left alone (`moat apply` writes a config for edges whose data directory may be elsewhere).
 * @example
 * const { problems } = await checkImportedCertificates(config, { stored: { masterKey } });
 */
export async function checkImportedCertificates(config: MoatConfig, options: { stored?: { masterKey?: MasterKey | undefined } } = {}): Promise<ImportedCertificateChecks> {
  const problems: string[] = [];
  const unopened: string[] = [];
  // As a snapshot build does: a certificate many distributions import is read and checked once, each refusal still names its place.
  const memo = createSnapshotMemo();
  const now = new Date();
  const dataDir = config.dataDir;
  const store = {
    importedCertificate: async (use: CertificateUse, name: string) => {
      const masterKey = options.stored?.masterKey;
      if (masterKey) return readStoredImport({ dataDir, masterKey, use, name });
      const active = (await readFile(join(importedSlotDir(dataDir, use, name), "active"), "utf8").catch(() => "")).trim();
      if (active === "") return undefined;
      throw new SealedWithoutKey();
    },
  };
  const attempt = async (path: string, run: () => Promise<unknown>) => {
    try {
      await run();
    } catch (error) {
      if (error instanceof SealedWithoutKey) unopened.push(path);
      else if (error instanceof MoatError) problems.push(error.message);
      else throw error;
    }
  };
  for (const [index, distribution] of config.distributions.entries()) {
    const path = `distributions[${index}]`;
    const viewer = distribution.viewerCertificate;
    const viewerCheck = { use: "viewer-server" as const, expectedNames: distribution.aliases, now };
    if (viewer.kind === "imported") await attempt(`${path}.viewerCertificate`, () => importedCredentials(viewer, `${path}.viewerCertificate`, viewerCheck, memo));
    if (viewer.kind === "stored" && options.stored) await attempt(`${path}.viewerCertificate`, () => storedCredentials(viewer, `${path}.viewerCertificate`, viewerCheck, { store, dataDir }, memo));
    for (const [originIndex, origin] of distribution.origins.entries()) {
      const client = origin.mtls.clientCertificate;
      const where = `${path}.origins[${originIndex}].mtls.clientCertificate`;
      if (client.kind === "imported") await attempt(where, () => importedCredentials(client, where, { use: "origin-client", now }, memo));
      if (client.kind === "stored" && options.stored) await attempt(where, () => storedCredentials(client, where, { use: "origin-client", now }, { store, dataDir }, memo));
    }
  }
  return { problems, unopened };
}
