// `moat audit verify|export|list --store ADDRESS` (or over the admin API): the store's audit trail: walk its hash chain, write it out for another system, show it.
import { once } from "node:events";
import { AuditChainBrokenError, CliUsageError } from "../../errors.ts";
import { AUDIT_ACTIONS } from "../../store/index.ts";
import type { AuditQuery, AuditRecord } from "../../store/index.ts";
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

export async function runAuditVerify(args: string[]): Promise<number> {
  const { values } = parseCliArgs("audit verify", args, { json: { type: "boolean" }, ...STORE_FLAG, ...API_FLAGS });
  if (await isConfigOverApi("audit verify", values)) return (await import("../over-api/audit-api-command.ts")).runAuditVerifyOverApi(values);
  const store = await openCommandStore("audit verify", values.store);
  const result = await store.audit.verify().finally(() => store.close());
  if (values.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  if (!result.ok) throw new AuditChainBrokenError(store.label, result.problem, result.records);
  if (!values.json) {
    process.stdout.write(`${store.label}: the audit trail is intact: ${result.records} records, head record ${result.head.seq} (hash ${result.head.hash}).\n`);
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
