// Runs the import checks of every certificate a config imports, as the edge would at start: for `moat config check`.
import type { MoatConfig } from "../config/index.ts";
import { MoatError } from "../errors.ts";
import { importedCredentials } from "./credentials.ts";
import { createSnapshotMemo } from "./snapshot-memo.ts";

/**
 * Every imported certificate's refusal (config path, check, fix); empty when all would load.
 * @example
 * for (const problem of await checkImportedCertificates(config)) console.error(problem);
 */
export async function checkImportedCertificates(config: MoatConfig): Promise<string[]> {
  const problems: string[] = [];
  // As a snapshot build does: a certificate many distributions import is read and checked once, each refusal still names its place.
  const memo = createSnapshotMemo();
  const now = new Date();
  const attempt = async (run: () => Promise<unknown>) => {
    try {
      await run();
    } catch (error) {
      if (!(error instanceof MoatError)) throw error;
      problems.push(error.message);
    }
  };
  for (const [index, distribution] of config.distributions.entries()) {
    const path = `distributions[${index}]`;
    const viewer = distribution.viewerCertificate;
    if (viewer.kind === "imported") {
      await attempt(() => importedCredentials(viewer, `${path}.viewerCertificate`, { use: "viewer-server", expectedNames: distribution.aliases, now }, memo));
    }
    for (const [originIndex, origin] of distribution.origins.entries()) {
      const client = origin.mtls.clientCertificate;
      if (client.kind !== "imported") continue;
      await attempt(() => importedCredentials(client, `${path}.origins[${originIndex}].mtls.clientCertificate`, { use: "origin-client", now }, memo));
    }
  }
  return problems;
}
