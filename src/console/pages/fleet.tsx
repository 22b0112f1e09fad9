// Fleet: every edge run from the store, with its region, revision, heartbeat and certificate expiry; those behind, silent or gone on top. Refreshed every five seconds.
import { useSession } from "../api/session.ts";
import { useApi } from "../api/use-api.ts";
import { Loading, ProblemView } from "../components/problem-view.tsx";
import { StateBadge } from "../components/state-badge.tsx";
import { formatDuration, formatRelative, formatTime } from "../format.ts";
import { orderEdges } from "./fleet-order.ts";

export function FleetPage() {
  const { client } = useSession();
  const fleet = useApi(async () => (await client.GET("/edges")).data!, [client], { refreshMs: 5_000 });
  return (
    <section>
      <h1>Fleet</h1>
      {fleet.error && <ProblemView problem={fleet.error} />}
      {!fleet.data && !fleet.error && <Loading what="the fleet" />}
      {fleet.data && (
        <>
          <p class="meta">
            The store's newest revision is {fleet.data.revision}
            {fleet.data.revisionAt ? `, committed ${formatRelative(fleet.data.revisionAt)}` : ""}. An edge is behind when it serves an older one for more than {formatDuration(fleet.data.maxLagMs)}.
          </p>
          {fleet.data.items.length === 0 ? (
            <p>No edge has reported to this store yet.</p>
          ) : (
            <div class="table-wrap">
              <table data-testid="fleet">
                <thead>
                  <tr>
                    <th scope="col">Edge</th>
                    <th scope="col">Health</th>
                    <th scope="col">Region</th>
                    <th scope="col">Revision</th>
                    <th scope="col">Last heartbeat</th>
                    <th scope="col">Certificates expire</th>
                    <th scope="col">Version</th>
                  </tr>
                </thead>
                <tbody>
                  {orderEdges(fleet.data.items).map((edge) => (
                    <tr key={edge.name} data-health={edge.health}>
                      <th scope="row">
                        {edge.name}
                        {edge.joinedAt && (
                          <span class="meta" title={`joined with a join token at ${formatTime(edge.joinedAt)}`}>
                            {" "}
                            (joined)
                          </span>
                        )}
                      </th>
                      <td>
                        <StateBadge state={edge.health} />
                      </td>
                      <td>{edge.region ?? "—"}</td>
                      <td>
                        {edge.revision ?? "none"}
                        {edge.behindRevisions > 0 ? ` (${edge.behindRevisions} behind)` : ""}
                      </td>
                      <td>{formatRelative(edge.lastSeenAt)}</td>
                      <td>
                        {edge.certificatesExpireAt ? `${formatTime(edge.certificatesExpireAt)} (${formatRelative(edge.certificatesExpireAt)})` : "—"}
                        {edge.certificatesExpiringSoon > 0 ? `, ${edge.certificatesExpiringSoon} within 7 days` : ""}
                      </td>
                      <td>{edge.version}</td>
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
