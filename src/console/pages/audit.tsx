// Audit: the trail of every change (admins only, as the API rules), newest first, filterable, with the result of walking its hash chain.
import { useState } from "preact/hooks";
import type { ConsoleClient } from "../api/client.ts";
import { useSession } from "../api/session.ts";
import type { AuditRecord } from "../api/types.ts";
import { useApi } from "../api/use-api.ts";
import { Field } from "../components/field.tsx";
import { Loading, ProblemView } from "../components/problem-view.tsx";
import { formatTime } from "../format.ts";

/** The most recent records a page shows. */
const SHOWN = 200;
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

async function latestRecords(client: ConsoleClient, filters: Filters, headSeq: number): Promise<{ items: AuditRecord[]; isTruncated: boolean; filters: Filters }> {
  const query = Object.fromEntries(Object.entries(filters).filter(([, value]) => value.trim() !== "").map(([key, value]) => [key, value.trim()]));
  const isFiltered = Object.keys(query).length > 0;
  // Unfiltered, the last SHOWN records are those after head - SHOWN; filtered, the trail is read from its start.
  let after = isFiltered ? 0 : Math.max(0, headSeq - SHOWN);
  const items: AuditRecord[] = [];
  for (let page = 0; page < MAX_PAGES; page++) {
    const { data } = await client.GET("/audit", { params: { query: { ...query, after, limit: 1000 } } });
    items.push(...data!.items);
    if (data!.nextAfter === undefined) return { items: items.slice(-SHOWN).reverse(), isTruncated: false, filters };
    after = data!.nextAfter;
  }
  return { items: items.slice(-SHOWN).reverse(), isTruncated: true, filters };
}

export function AuditPage() {
  const { client } = useSession();
  const [filters, setFilters] = useState<Filters>({ resource: "", actor: "", action: "", distribution: "" });
  const actions = useApi(() => auditActions(client), [client]);
  const [applied, setApplied] = useState<Filters>(filters);
  const verification = useApi(async () => (await client.GET("/audit/verify")).data!, [client]);
  const records = useApi(async () => (verification.data ? latestRecords(client, applied, verification.data.head.seq) : undefined), [client, applied, verification.data]);

  return (
    <section>
      <h1>Audit trail</h1>
      {verification.error && <ProblemView problem={verification.error} />}
      {verification.data &&
        (verification.data.ok ? (
          <p class="chain chain-ok" data-testid="chain-status">
            ✓ Hash chain verified: {verification.data.records} records, head #{verification.data.head.seq} (<code>{verification.data.head.hash.slice(0, 16)}…</code>).
          </p>
        ) : (
          <p class="chain chain-broken" role="alert" data-testid="chain-status">
            ✗ The hash chain is broken at record #{verification.data.problem?.seq} ({verification.data.problem?.kind}): {verification.data.problem?.message}. {verification.data.records} records verified before it.
          </p>
        ))}
      {!verification.error && (
      <form
        class="filters"
        onSubmit={(event) => {
          event.preventDefault();
          setApplied({ ...filters });
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
            The {records.data.items.length} most recent records{describeFilters(records.data.filters)}, newest first{records.data.isTruncated ? " (of the first 10 000 read; narrow the filter)" : ""}.
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
        </>
      )}
    </section>
  );
}
