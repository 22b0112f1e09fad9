// Audit: the trail of every change (admins only, as the API rules), newest first, filterable, with the result of walking its hash chain.
import { useState } from "preact/hooks";
import type { ConsoleClient } from "../api/client.ts";
import { useSession } from "../api/session.ts";
import type { AuditRecord } from "../api/types.ts";
import { useApi } from "../api/use-api.ts";
import { Field } from "../components/field.tsx";
import { describeRows, PAGE_SIZE, Pager } from "../components/pager.tsx";
import { Loading, ProblemView } from "../components/problem-view.tsx";
import { formatTime } from "../format.ts";

/** A filtered read walks the trail from its start, this many pages at most. */
const MAX_PAGES = 10;

interface Filters {
  resource: string;
  actor: string;
  action: string;
  distribution: string;
}

/** The actions the trail records, read from the API's own document (the enum of GET /audit's `action`): no copy here to drift. */
async function auditActions(client: ConsoleClient): Promise<string[]> {
  const { data } = await client.GET("/openapi.json");
  const parameters = (data as { paths?: Record<string, { get?: { parameters?: { name?: string; schema?: { enum?: unknown[] } }[] } }> } | undefined)?.paths?.["/audit"]?.get?.parameters ?? [];
  const values = parameters.find((parameter) => parameter.name === "action")?.schema?.enum ?? [];
  return values.filter((value): value is string => typeof value === "string");
}

/** `with resource distribution/shop and action certificate.rotate-request`, or `` for none. */
function describeFilters(filters: Filters): string {
  const named = Object.entries(filters).filter(([, value]) => value.trim() !== "").map(([key, value]) => `${key} ${value.trim()}`);
  return named.length === 0 ? "" : ` with ${named.join(" and ")}`;
}

/**
 * A page of the trail, newest first, 50 records. Unfiltered it is one read through the API's cursor: the records after
 * seq head - 50 × (page + 1) (the chain numbers them 1, 2, 3…). Filtered, the trail is read from its start (at most
 * MAX_PAGES reads of 1000) and the matches are cut into pages here.
 */
async function recordsPage(client: ConsoleClient, filters: Filters, headSeq: number, page: number): Promise<{ items: AuditRecord[]; total: number; isTruncated: boolean; filters: Filters }> {
  const query = Object.fromEntries(Object.entries(filters).filter(([, value]) => value.trim() !== "").map(([key, value]) => [key, value.trim()]));
  if (Object.keys(query).length === 0) {
    const newest = headSeq - page * PAGE_SIZE;
    const after = Math.max(0, newest - PAGE_SIZE);
    if (newest <= 0) return { items: [], total: headSeq, isTruncated: false, filters };
    const { data } = await client.GET("/audit", { params: { query: { after, limit: newest - after } } });
    return { items: data!.items.reverse(), total: headSeq, isTruncated: false, filters };
  }
  let after = 0;
  const items: AuditRecord[] = [];
  let isTruncated = true;
  for (let read = 0; read < MAX_PAGES; read++) {
    const { data } = await client.GET("/audit", { params: { query: { ...query, after, limit: 1000 } } });
    items.push(...data!.items);
    if (data!.nextAfter === undefined) {
      isTruncated = false;
      break;
    }
    after = data!.nextAfter;
  }
  items.reverse();
  return { items: items.slice(page * PAGE_SIZE, (page + 1) * PAGE_SIZE), total: items.length, isTruncated, filters };
}

export function AuditPage() {
  const { client } = useSession();
  const [filters, setFilters] = useState<Filters>({ resource: "", actor: "", action: "", distribution: "" });
  const actions = useApi(() => auditActions(client), [client]);
  const [applied, setApplied] = useState<Filters>(filters);
  const verification = useApi(async () => (await client.GET("/audit/verify")).data!, [client]);
  const [page, setPage] = useState(0);
  const records = useApi(async () => (verification.data ? recordsPage(client, applied, verification.data.head.seq, page) : undefined), [client, applied, verification.data, page]);

  return (
    <section>
      <h1>Audit trail</h1>
      {verification.error && <ProblemView problem={verification.error} />}
      {verification.data &&
        (verification.data.ok ? (
          <p class="chain chain-ok" data-testid="chain-status">
            ✓ Hash chain verified: {verification.data.records} records, head #{verification.data.head.seq} (<code>{verification.data.head.hash.slice(0, 16)}…</code>).
            {verification.data.checkpoints.count > 0 && ` Records 1–${verification.data.checkpoints.coveredThrough} are covered by ${verification.data.checkpoints.count} signed checkpoint${verification.data.checkpoints.count === 1 ? "" : "s"}.`}
          </p>
        ) : (
          <p class="chain chain-broken" role="alert" data-testid="chain-status">
            ✗ The hash chain is broken at record #{verification.data.problem?.seq} ({verification.data.problem?.kind}): {verification.data.problem?.message}. {verification.data.records} records verified before it.
          </p>
        ))}
      {verification.data?.ok &&
        verification.data.checkpoints.warnings.map((warning) => (
          <p class="chain" key={warning} data-testid="checkpoint-warning">
            ⚠ {warning}
          </p>
        ))}
      {!verification.error && (
      <form
        class="filters"
        onSubmit={(event) => {
          event.preventDefault();
          setApplied({ ...filters });
          setPage(0);
        }}
      >
        <Field id="audit-resource" label="Resource" hint="distribution/shop, token/<id>, certificate/<serial>">
          {(describedBy) => <input id="audit-resource" value={filters.resource} aria-describedby={describedBy} onInput={(event) => setFilters({ ...filters, resource: event.currentTarget.value })} />}
        </Field>
        <Field id="audit-actor" label="Actor" hint="api:token/<id>, cli:alice, edge:<name>">
          {(describedBy) => <input id="audit-actor" value={filters.actor} aria-describedby={describedBy} onInput={(event) => setFilters({ ...filters, actor: event.currentTarget.value })} />}
        </Field>
        <Field id="audit-action" label="Action">
          {() => (
            <select id="audit-action" value={filters.action} onChange={(event) => setFilters({ ...filters, action: event.currentTarget.value })}>
              <option value="">Any</option>
              {(actions.data ?? []).map((action) => (
                <option key={action} value={action}>
                  {action}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field id="audit-distribution" label="Distribution">
          {() => <input id="audit-distribution" value={filters.distribution} onInput={(event) => setFilters({ ...filters, distribution: event.currentTarget.value })} />}
        </Field>
        <div class="actions">
          <button type="submit" class="primary">
            Filter
          </button>
        </div>
      </form>
      )}
      {records.error && <ProblemView problem={records.error} />}
      {!records.data && !records.error && !verification.error && <Loading what="the trail" />}
      {records.data && (
        <>
          <p class="meta">
            {records.data.total} records{describeFilters(records.data.filters)}, newest first, {PAGE_SIZE} a page{records.data.isTruncated ? " (of the first 10 000 read; narrow the filter)" : ""}.
          </p>
          <div class="table-wrap">
            <table data-testid="audit">
              <thead>
                <tr>
                  <th scope="col">#</th>
                  <th scope="col">When</th>
                  <th scope="col">Actor</th>
                  <th scope="col">Action</th>
                  <th scope="col">Resource</th>
                  <th scope="col">Revision</th>
                </tr>
              </thead>
              <tbody>
                {records.data.items.map((record) => (
                  <tr key={record.seq}>
                    <td>{record.seq}</td>
                    <td>{formatTime(record.at)}</td>
                    <td>
                      <code>{record.actor}</code>
                    </td>
                    <td>{record.action}</td>
                    <td>
                      <code>{record.resource}</code>
                    </td>
                    <td>{record.revision ?? "—"}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <Pager
            label="Audit trail"
            page={page}
            position={describeRows(page, records.data.items.length, records.data.total)}
            hasNext={(page + 1) * PAGE_SIZE < records.data.total}
            onPrevious={() => records.isLoading || setPage(page - 1)}
            onNext={() => records.isLoading || setPage(page + 1)}
          />
        </>
      )}
    </section>
  );
}
