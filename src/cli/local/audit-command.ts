// `moat audit verify|export|list|checkpoint --store ADDRESS` (or over the admin API): the store's audit trail: walk its hash chain and signed checkpoints, write it out for another system, show it, sign its head.
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { once } from "node:events";
import { isDataDirInEnvironment, resolveDataDir, resolveStoreAddress } from "../../config/index.ts";
import { AuditChainBrokenError, CliUsageError } from "../../errors.ts";
import { AUDIT_ACTIONS, parseStoreAddress } from "../../store/index.ts";
import type { AuditQuery, AuditRecord, AuditVerification } from "../../store/index.ts";
import { API_FLAGS } from "../over-api/api-connection.ts";
import { isConfigOverApi } from "./apply-command.ts";
import { parseCliArgs } from "../cli-args.ts";
import { openCommandStore, STORE_FLAG } from "../store-flags.ts";

const EXPORT_PAGE = 1_000;

function wholeNumber(command: string, flag: string, value: string | undefined, least: number): number | undefined {
  if (value === undefined) return undefined;
  const number = Number(value);
  if (!/^\d+$/.test(value) || number < least) throw new CliUsageError(`${command}: --${flag} must be a whole number, ${least} or more (got ${JSON.stringify(value)}).`);
  return number;
}

/**
 * Where verify finds the CA bundle and the signer's record: --data-dir, else the store's own directory
 * (`--store /var/lib/moat`), else MOAT_DATA_DIR; one found only by default and holding no CA is not used.
 */
function verifyDataDir(flag: string | undefined, address: string | undefined): string | undefined {
  if (flag !== undefined) return resolve(flag);
  const implied = (address === undefined ? undefined : parseStoreAddress(address).dataDir) ?? (isDataDirInEnvironment() ? resolveDataDir(undefined) : undefined);
  return implied !== undefined && existsSync(join(implied, "ca", "bundle.pem")) ? implied : undefined;
}

export async function runAuditVerify(args: string[]): Promise<number> {
  const { values } = parseCliArgs("audit verify", args, { json: { type: "boolean" }, "data-dir": { type: "string" }, "ca-bundle": { type: "string" }, ...STORE_FLAG, ...API_FLAGS });
  if (await isConfigOverApi("audit verify", values)) return (await import("../over-api/audit-api-command.ts")).runAuditVerifyOverApi(values);
  const dataDir = verifyDataDir(values["data-dir"], resolveStoreAddress(values.store));
  const bundlePem = values["ca-bundle"] === undefined ? undefined : await readFile(resolve(values["ca-bundle"]), "utf8");
  const { verifyAuditTrail } = await import("../../control/audit-checkpoints.ts");
  const store = await openCommandStore("audit verify", values.store);
  const result = await verifyAuditTrail(store.audit, { ...(dataDir ? { dataDir } : {}), ...(bundlePem ? { bundlePem } : {}) }).finally(() => store.close());
  return reportVerification(store.label, result, values.json === true);
}

/**
 * The result as JSON or a sentence; warnings (an unanchored trail, signatures not checked) on stderr either way.
 * A broken trail or checkpoint throws AuditChainBrokenError (exit 1), as before checkpoints existed.
 */
export async function reportVerification(label: string, result: AuditVerification, json: boolean): Promise<number> {
  const { describeCoverage } = await import("../../control/audit-checkpoints.ts");
  if (json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  for (const warning of result.checkpoints?.warnings ?? []) process.stderr.write(`moat: warning: ${warning}\n`);
  if (!result.ok) throw new AuditChainBrokenError(label, result.problem, result.records);
  if (!json) {
    process.stdout.write(`${label}: the audit trail is intact: ${result.records} records, head record ${result.head.seq} (hash ${result.head.hash}); ${describeCoverage(result)}.\n`);
  }
  return 0;
}

/** `moat audit checkpoint`: signs the trail's head now with the data directory's audit signer (made the first time). */
export async function runAuditCheckpoint(args: string[]): Promise<number> {
  const { values } = parseCliArgs("audit checkpoint", args, { "data-dir": { type: "string" }, "master-key-file": { type: "string" }, json: { type: "boolean" }, ...STORE_FLAG });
  const address = resolveStoreAddress(values.store);
  const dataDir = values["data-dir"] !== undefined ? resolve(values["data-dir"]) : ((address === undefined ? undefined : parseStoreAddress(address).dataDir) ?? resolveDataDir(undefined));
  const [{ openCertificateAuthority, readCaBundle }, { loadCommandMasterKey }, { makeAuditCheckpoint }] = await Promise.all([import("../../pki/index.ts"), import("../master-key.ts"), import("../../control/audit-checkpoints.ts")]);
  // A data directory without a CA is refused (CaNotFoundError, fix: moat ca init) before the store is opened.
  await readCaBundle(dataDir);
  const masterKey = await loadCommandMasterKey({ dataDir, ...(values["master-key-file"] !== undefined ? { flagFile: values["master-key-file"] } : {}) });
  const ca = await openCertificateAuthority({ dataDir, masterKey });
  const store = await openCommandStore("audit checkpoint", values.store);
  const { made, checkpoint } = await makeAuditCheckpoint({ audit: store.audit, label: store.label, dataDir, masterKey, ca, name: "cli" }).finally(() => store.close());
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ made, checkpoint: checkpoint ? { number: checkpoint.number, seq: checkpoint.seq, hash: checkpoint.hash, at: checkpoint.at } : null }, null, 2)}\n`);
  } else if (!checkpoint) {
    process.stdout.write(`${store.label}: the audit trail is empty: nothing to sign.\n`);
  } else {
    process.stdout.write(`${store.label}: ${made ? "signed" : "no record since"} checkpoint ${checkpoint.number}: records 1..${checkpoint.seq} (hash ${checkpoint.hash}).\n`);
  }
  return 0;
}

/** One JSON object per line, in the order and shape the API answers: an external system checks each `hash` from the rest (docs/explanation/audit-trail.md). */
export async function runAuditExport(args: string[]): Promise<number> {
  const { values } = parseCliArgs("audit export", args, { since: { type: "string" }, format: { type: "string", default: "jsonl" }, ...STORE_FLAG, ...API_FLAGS });
  if (values.format !== "jsonl") throw new CliUsageError(`audit export: --format must be jsonl (got ${JSON.stringify(values.format)}).`);
  let after = wholeNumber("audit export", "since", values.since, 0) ?? 0;
  if (await isConfigOverApi("audit export", values)) return (await import("../over-api/audit-api-command.ts")).runAuditExportOverApi(values, after);
  const store = await openCommandStore("audit export", values.store);
  try {
    for (;;) {
      const records = await store.audit.list({ after, limit: EXPORT_PAGE });
      const text = records.map((record) => `${JSON.stringify(record)}\n`).join("");
      // A reader slower than the store (a pipe to another host) holds the next page back rather than memory growing.
      if (text !== "" && !process.stdout.write(text)) await once(process.stdout, "drain");
      if (records.length < EXPORT_PAGE) break;
      after = (records.at(-1) as AuditRecord).seq;
    }
  } finally {
    await store.close();
  }
  return 0;
}

export async function runAuditList(args: string[]): Promise<number> {
  const { values } = parseCliArgs("audit list", args, {
    limit: { type: "string", short: "n" },
    since: { type: "string" },
    resource: { type: "string" },
    actor: { type: "string" },
    action: { type: "string" },
    distribution: { type: "string" },
    json: { type: "boolean" },
    ...STORE_FLAG,
    ...API_FLAGS,
  });
  const limit = wholeNumber("audit list", "limit", values.limit, 1) ?? 20;
  const since = wholeNumber("audit list", "since", values.since, 0);
  if (values.action !== undefined && !(AUDIT_ACTIONS as readonly string[]).includes(values.action)) {
    throw new CliUsageError(`audit list: --action must be one of ${AUDIT_ACTIONS.join(", ")} (got ${JSON.stringify(values.action)}).`);
  }
  const filters: Omit<AuditQuery, "limit"> = {};
  for (const key of ["resource", "actor", "action", "distribution"] as const) if (values[key] !== undefined) filters[key] = values[key];
  const { records, label } = (await isConfigOverApi("audit list", values))
    ? await (await import("../over-api/audit-api-command.ts")).listAuditOverApi(values, filters, limit, since)
    : await listFromStore(values.store, filters, limit, since);
  if (values.json) {
    process.stdout.write(`${JSON.stringify(records, null, 2)}\n`);
    return 0;
  }
  if (records.length === 0) {
    process.stdout.write(`${label}: no audit record${Object.keys(filters).length > 0 || since !== undefined ? " matches" : " yet"}.\n`);
    return 0;
  }
  const rows = [["SEQ", "TIME", "ACTOR", "ACTION", "RESOURCE", "REVISION"], ...records.map((record) => [String(record.seq), record.at, record.actor, record.action, record.resource, record.revision === null ? "-" : String(record.revision)])];
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  process.stdout.write(`${rows.map((row) => row.map((cell, column) => cell.padEnd(widths[column]!)).join("  ").trimEnd()).join("\n")}\n`);
  return 0;
}

async function listFromStore(address: string | undefined, filters: Omit<AuditQuery, "limit">, limit: number, since: number | undefined): Promise<{ records: AuditRecord[]; label: string }> {
  const store = await openCommandStore("audit list", address);
  // Without --since: the newest records, shown oldest first as a log reads.
  const query: AuditQuery = since === undefined ? { ...filters, limit, newestFirst: true } : { ...filters, limit, after: since };
  const listed = await store.audit.list(query).finally(() => store.close());
  return { records: since === undefined ? listed.reverse() : listed, label: store.label };
}
