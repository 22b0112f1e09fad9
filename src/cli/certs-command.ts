// `moat certs list`: every certificate Moat holds (CA, issued, imported), its state and expiry; a table or JSON.
import { resolve } from "node:path";
import { loadConfigFile, resolveDataDir } from "../config/index.ts";
import type { MoatConfig } from "../config/index.ts";
import { listCertificates } from "../pki/index.ts";
import type { ImportedCertificateRef, InventoryEntry } from "../pki/index.ts";
import { parseCliArgs } from "./cli-args.ts";

export async function runCertsList(args: string[]): Promise<number> {
  const { values } = parseCliArgs("certs list", args, {
    "data-dir": { type: "string" },
    config: { type: "string", short: "c" },
    json: { type: "boolean", default: false },
  });
  const config = values.config ? await loadConfigFile(resolve(values.config)) : null;
  const dataDir = config?.dataDir ?? resolveDataDir(values["data-dir"]);
  const entries = await listCertificates({ dataDir, now: new Date(), imported: config ? importedRefs(config) : [] });
  if (values.json) {
    process.stdout.write(`${JSON.stringify(entries, null, 2)}\n`);
    return 0;
  }
  process.stdout.write(formatTable(entries));
  const warnings = entries.filter((e) => e.expiryWarning);
  for (const e of warnings) {
    process.stdout.write(`warning: imported ${e.use} certificate ${e.name} (serial ${e.serialHex}) expires in ${e.expiryWarning?.daysLeft} day(s), on ${e.notAfter.toISOString()}; import a renewed one\n`);
  }
  if (!config) process.stdout.write("(imported certificates are listed with --config FILE)\n");
  return 0;
}

function importedRefs(config: MoatConfig): ImportedCertificateRef[] {
  const refs: ImportedCertificateRef[] = [];
  for (const distribution of config.distributions) {
    if (distribution.viewerCertificate.kind === "imported") {
      refs.push({ use: "viewer-server", name: `viewer-${distribution.id}`, certFile: distribution.viewerCertificate.certFile });
    }
    for (const origin of distribution.origins) {
      const source = origin.mtls.clientCertificate;
      if (source.kind === "imported") refs.push({ use: "origin-client", name: `${distribution.id}/${origin.id}`, certFile: source.certFile });
    }
  }
  return refs;
}

function formatTable(entries: readonly InventoryEntry[]): string {
  const rows = [
    ["USE", "NAME", "SOURCE", "STATE", "NOT AFTER", "SERIAL", "NAMES"],
    ...entries.map((e) => [e.use, e.name, e.source, e.state, e.notAfter.toISOString(), e.serialHex, e.sans.join(",") || e.subject]),
  ];
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows.map((row) => row.map((cell, column) => cell.padEnd(widths[column]!)).join("  ").trimEnd()).join("\n") + "\n";
}
