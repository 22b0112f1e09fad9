// Distributions: every one in the store, with its aliases, viewer TLS and mTLS, and origins at a glance; operators and admins may create one.
import { useState } from "preact/hooks";
import { useSession } from "../api/session.ts";
import type { DistributionItem } from "../api/types.ts";
import { useApi } from "../api/use-api.ts";
import { describeRows, PAGE_SIZE, Pager } from "../components/pager.tsx";
import { Loading, ProblemView } from "../components/problem-view.tsx";
import { describeCertificateSource } from "./distribution-detail.tsx";

/** One page of the list, in name order, from the API's cursor (the last name of the page before). */
async function listPage(client: ReturnType<typeof useSession>["client"], cursor: string | undefined): Promise<{ revision: number; items: DistributionItem[]; nextCursor: string | undefined }> {
  const { data } = await client.GET("/distributions", { params: { query: { limit: PAGE_SIZE, ...(cursor ? { cursor } : {}) } } });
  return { revision: data!.revision, items: data!.items, nextCursor: data!.nextCursor };
}

export function DistributionsPage() {
  const { client, can } = useSession();
  // The cursors of the pages before this one, and this one's: Previous goes back one, Next on to the API's nextCursor.
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  const cursor = cursors.at(-1);
  const list = useApi(() => listPage(client, cursor), [client, cursor]);
  const page = cursors.length - 1;
  return (
    <section>
      <div class="page-head">
        <h1>Distributions</h1>
        {can("operator") && (
          <a class="button primary" href="/console/distributions/new">
            Create distribution
          </a>
        )}
      </div>
      {list.error && <ProblemView problem={list.error} />}
      {!list.data && !list.error && <Loading what="distributions" />}
      {list.data && (
        <>
          <p class="meta">Config revision {list.data.revision}, in name order.</p>
          {list.data.items.length === 0 && page === 0 ? (
            <p>No distributions yet.</p>
          ) : (
            <div class="table-wrap">
              <table>
                <caption class="visually-hidden">Distributions</caption>
                <thead>
                  <tr>
                    <th scope="col">Id</th>
                    <th scope="col">Aliases</th>
                    <th scope="col">Viewer certificate</th>
                    <th scope="col">Viewer mTLS</th>
                    <th scope="col">Origins</th>
                    <th scope="col">Version</th>
                  </tr>
                </thead>
                <tbody>
                  {list.data.items.map((item) => (
                    <tr key={item.id}>
                      <th scope="row">
                        <a href={`/console/distributions/${encodeURIComponent(item.id)}`}>{item.id}</a>
                      </th>
                      <td>{item.document.aliases.join(", ")}</td>
                      <td>{describeCertificateSource(item.document.viewerCertificate)}</td>
                      <td>{item.document.viewerMtls?.mode ?? "off"}</td>
                      <td>{item.document.origins.map((origin) => origin.id).join(", ")}</td>
                      <td>{item.version}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          <Pager
            label="Distributions"
            page={page}
            position={describeRows(page, list.data.items.length)}
            hasNext={list.data.nextCursor !== undefined}
            onPrevious={() => setCursors(cursors.slice(0, -1))}
            // While a page loads, the one shown is the one before it: Next waits for the page it names.
            onNext={() => list.isLoading || setCursors([...cursors, list.data!.nextCursor])}
          />
        </>
      )}
    </section>
  );
}
