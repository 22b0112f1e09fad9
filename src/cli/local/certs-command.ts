// `moat certs list`: every certificate Moat holds (CA, issued, imported), its state and expiry; a table or JSON; from the data directory, or over the admin API.
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { isDataDirInEnvironment, loadConfigFile, resolveDataDir } from "../../config/index.ts";
import type { ImportedCertificateSource, MoatConfig } from "../../config/index.ts";
import { readPassphraseFile } from "../../edge/index.ts";
import { CliUsageError, MoatError } from "../../errors.ts";
import { DEFAULT_CA_ROTATION_POLICY, listCertificates, pkcs12ChainPem, renewsAt } from "../../pki/index.ts";
import type { ImportedCertificateRef, InventoryEntry } from "../../pki/index.ts";
import { isOverApi } from "../over-api/api-connection.ts";
import { CERTS_LIST_API_FLAGS } from "../over-api/certs-api-command.ts";
import { parseCliArgs } from "../cli-args.ts";

export async function runCertsList(args: string[]): Promise<number> {
  const { values } = parseCliArgs("certs list", args, {
    "data-dir": { type: "string" },
    config: { type: "string", short: "c" },
    ...CERTS_LIST_API_FLAGS,
  });
  // --data-dir or --config (or MOAT_DATA_DIR, when no --api or --context is given) reads the data directory; otherwise the API.
  const isLocalNamed = values["data-dir"] !== undefined || values.config !== undefined;
  if (await isOverApi("certs list", values, { isNamed: isLocalNamed, isInEnvironment: isDataDirInEnvironment() })) {
    return (await import("../over-api/certs-api-command.ts")).runCertsListOverApi(values);
  }
  const filter = (["distribution", "state", "use", "source", "edge"] as const).find((flag) => values[flag] !== undefined);
  if (filter) throw new CliUsageError(`certs list: --${filter} filters the list over the admin API; the data directory's list is whole.`, { fix: "give --api URL (or MOAT_API, or a context), or leave the filter out" });
  const config = values.config ? await loadConfigFile(resolve(values.config)) : null;
  const dataDir = config?.dataDir ?? resolveDataDir(values["data-dir"]);
  const imported = config ? await importedRefs(config) : [];
  const entries = await listCertificates({ dataDir, now: new Date(), imported: imported.flatMap((ref) => ("problem" in ref ? [] : [ref])) });
  for (const ref of imported) {
    if ("problem" in ref) process.stderr.write(`warning: cannot list imported ${ref.use} certificate ${ref.name} (${ref.certFile}): ${ref.problem}\n`);
  }
  // When the edge renews each: the config's pki.renewAtFraction (the default without --config).
  const renewAtFraction = config?.pki.renewAtFraction ?? DEFAULT_CA_ROTATION_POLICY.renewAtFraction;
  if (values.json) {
    process.stdout.write(`${JSON.stringify(entries.map((entry) => ({ ...entry, renewsAt: renewsAt(entry, renewAtFraction) })), null, 2)}\n`);
    return 0;
  }
  process.stdout.write(formatTable(entries, renewAtFraction));
  const warnings = entries.filter((e) => e.expiryWarning);
  for (const e of warnings) {
    process.stdout.write(`warning: imported ${e.use} certificate ${e.name} (serial ${e.serialHex}) expires in ${e.expiryWarning?.daysLeft} day(s), on ${e.notAfter.toISOString()}; import a renewed one\n`);
  }
  if (!config) process.stdout.write("(imported certificates are listed with --config FILE)\n");
  return 0;
}

type ImportedRef = ImportedCertificateRef | (Omit<ImportedCertificateRef, "chainPem"> & { problem: string });

async function importedRefs(config: MoatConfig): Promise<ImportedRef[]> {
  const refs: Promise<ImportedRef>[] = [];
  for (const [index, distribution] of config.distributions.entries()) {
    const viewer = distribution.viewerCertificate;
    if (viewer.kind === "imported") refs.push(importedRef("viewer-server", `viewer-${distribution.id}`, viewer, `distributions[${index}].viewerCertificate`));
    for (const [originIndex, origin] of distribution.origins.entries()) {
      const source = origin.mtls.clientCertificate;
      const path = `distributions[${index}].origins[${originIndex}].mtls.clientCertificate`;
      if (source.kind === "imported") refs.push(importedRef("origin-client", `${distribution.id}/${origin.id}`, source, path));
    }
  }
  return Promise.all(refs);
}

// A PKCS#12 usually encrypts its certificates too, so listing one opens it with its passphrase
// (which decrypts its key in memory as well; nothing of the key is kept or printed).
async function importedRef(use: ImportedCertificateRef["use"], name: string, source: ImportedCertificateSource, path: string): Promise<ImportedRef> {
  if (source.format === "pem") return { use, name, certFile: source.certFile };
  const certFile = source.pkcs12File;
  try {
    const passphrase = source.passphraseFile === null ? undefined : await readPassphraseFile(`${path}.passphraseFile`, source.passphraseFile);
    return { use, name, certFile, chainPem: await pkcs12ChainPem(await readFile(certFile), passphrase) };
  } catch (error) {
    if (!(error instanceof MoatError)) throw error;
    return { use, name, certFile, problem: `${error.code}: ${error.message}` };
  }
}

function formatTable(entries: readonly InventoryEntry[], renewAtFraction: number): string {
  const rows = [
    ["USE", "NAME", "SOURCE", "STATE", "NOT AFTER", "RENEWS", "SERIAL", "NAMES"],
    ...entries.map((e) => [e.use, e.name, e.source, e.state, e.notAfter.toISOString(), renewsAt(e, renewAtFraction)?.toISOString() ?? "-", e.serialHex, e.sans.join(",") || e.subject]),
  ];
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows.map((row) => row.map((cell, column) => cell.padEnd(widths[column]!)).join("  ").trimEnd()).join("\n") + "\n";
}
