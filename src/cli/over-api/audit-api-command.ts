// `moat audit list|verify|export` over the admin API (admins only): GET /audit a page at a time, GET /audit/verify; the same output as the store's form.
import { once } from "node:events";
import type { MoatClient, paths } from "../../sdk/index.ts";
import type { AuditRecord, AuditVerification } from "../../store/index.ts";
import { withApi } from "./api-connection.ts";
import type { ApiFlagValues } from "./api-connection.ts";

const PAGE = 1_000;

type AuditQuery = NonNullable<paths["/audit"]["get"]["parameters"]["query"]>;
type Filters = Partial<Record<"resource" | "actor" | "action" | "distribution", string>>;

/** Each page of records after `after` (oldest first), until the last. */
async function* pages(moat: MoatClient, after: number, filters: Filters): AsyncGenerator<AuditRecord[]> {
  let cursor: number | undefined = after;
  while (cursor !== undefined) {
    // --action is checked against AUDIT_ACTIONS before any request.
    const query = { ...filters, after: cursor, limit: PAGE } as AuditQuery;
    const { data } = await moat.GET("/audit", { params: { query } });
    yield (data?.items ?? []) as AuditRecord[];
    cursor = data?.nextAfter;
  }
}

export async function runAuditVerifyOverApi(values: ApiFlagValues & { json?: boolean | undefined }): Promise<number> {
  const { result, url } = await withApi("audit verify", values, async (moat) => ({ result: (await moat.GET("/audit/verify")).data, url: moat.url }));
  const label = `the admin API at ${url}`;
  if (!result) return 1;
  // The same report as from a store: the API's answer has the shape of AuditVerification.
  const { reportVerification } = await import("../local/audit-command.ts");
  return reportVerification(label, result as unknown as AuditVerification, values.json === true);
}

/** JSON lines, as the store's form writes them; a slow reader holds the next page back. */
export async function runAuditExportOverApi(values: ApiFlagValues, since: number): Promise<number> {
  await withApi("audit export", values, async (moat) => {
    for await (const records of pages(moat, since, {})) {
      const text = records.map((record) => `${JSON.stringify(record)}\n`).join("");
      if (text !== "" && !process.stdout.write(text)) await once(process.stdout, "drain");
    }
  });
  return 0;
}

/**
 * The records `moat audit list` shows: after --since (the first `limit`), or else the newest `limit`, oldest first. The
 * API pages oldest first only, so the newest are the tail of every page read.
 */
export async function listAuditOverApi(values: ApiFlagValues, filters: Filters, limit: number, since: number | undefined): Promise<{ records: AuditRecord[]; label: string }> {
  return withApi("audit list", values, async (moat) => {
    let records: AuditRecord[] = [];
    for await (const page of pages(moat, since ?? 0, filters)) {
      records = since === undefined ? [...records, ...page].slice(-limit) : [...records, ...page];
      if (since !== undefined && records.length >= limit) break;
    }
    return { records: since === undefined ? records : records.slice(0, limit), label: `the admin API at ${moat.url}` };
  });
}
