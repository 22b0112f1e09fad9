// Distributions: every one in the store, with its aliases, viewer TLS and mTLS, and origins at a glance; operators and admins may create one.
import { useSession } from "../api/session.ts";
import type { DistributionItem } from "../api/types.ts";
import { useApi } from "../api/use-api.ts";
import { Loading, ProblemView } from "../components/problem-view.tsx";
import { describeCertificateSource } from "./distribution-detail.tsx";

/** Every page of the list, in name order (the API answers 100 at a time). */
async function listAll(client: ReturnType<typeof useSession>["client"]): Promise<{ revision: number; items: DistributionItem[] }> {
  const items: DistributionItem[] = [];
  let cursor: string | undefined;
  let revision = 0;
  do {
    const { data } = await client.GET("/distributions", { params: { query: { limit: 500, ...(cursor ? { cursor } : {}) } } });
    items.push(...data!.items);
    revision = data!.revision;
    cursor = data!.nextCursor;
  } while (cursor !== undefined);
  return { revision, items };
}

export function DistributionsPage() {
  const { client, can } = useSession();
  const list = useApi(() => listAll(client), [client]);
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
          <p class="meta">Config revision {list.data.revision}.</p>
          {list.data.items.length === 0 ? (
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
        </>
      )}
    </section>
  );
}
