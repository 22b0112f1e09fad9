// One distribution: its aliases, viewer TLS and mTLS, origins with the identity the edge presents to each, origin groups, behaviors, and its certificates as the edges hold them.
import { useState } from "preact/hooks";
import { useLocation, useRoute } from "preact-iso";
import { asProblem } from "../api/client.ts";
import type { ProblemError } from "../api/client.ts";
import { useSession } from "../api/session.ts";
import type { Certificate, Distribution } from "../api/types.ts";
import { useApi } from "../api/use-api.ts";
import { ConfirmDialog } from "../components/confirm-dialog.tsx";
import { Loading, ProblemView } from "../components/problem-view.tsx";
import { StateBadge } from "../components/state-badge.tsx";
import { formatRelative, formatTime } from "../format.ts";

type CertificateSource = Distribution["viewerCertificate"] | NonNullable<NonNullable<Distribution["origins"][number]["mtls"]>["clientCertificate"]>;

/** `issued by Moat`, `imported shop-ev`, `files`, `none`. */
export function describeCertificateSource(source: CertificateSource | undefined): string {
  if (source === undefined) return "issued by Moat";
  if (source === "none") return "none";
  if (source.imported) return `imported ${source.imported}`;
  if (source.cert || source.pkcs12) return "from files";
  return "issued by Moat";
}

/** A distribution's certificates, refreshed while the edge is still issuing them (a new distribution's appear within seconds). */
function useDistributionCertificates(id: string) {
  const { client } = useSession();
  return useApi(
    async () => (await client.GET("/certificates", { params: { query: { distribution: id, limit: 500 } } })).data!.items,
    [client, id],
    { refreshMs: 3_000 },
  );
}

export function DistributionDetailPage() {
  const { params } = useRoute();
  const id = params.id as string;
  const { client, can } = useSession();
  const { route } = useLocation();
  const item = useApi(async () => {
    const { data, response } = await client.GET("/distributions/{id}", { params: { path: { id } } });
    return { item: data!, etag: response.headers.get("etag") ?? undefined };
  }, [client, id]);
  const certificates = useDistributionCertificates(id);
  const [isDeleting, setDeleting] = useState(false);
  const [deleteProblem, setDeleteProblem] = useState<ProblemError | undefined>(undefined);
  const [isBusy, setBusy] = useState(false);

  if (item.error) return <section><h1>Distribution {id}</h1><ProblemView problem={item.error} /></section>;
  if (!item.data) return <section><h1>Distribution {id}</h1><Loading what="the distribution" /></section>;
  const document = item.data.item.document;
  const active = (certificates.data ?? []).filter((certificate) => certificate.state === "active");
  const identityOf = (origin: string) => active.find((certificate) => certificate.use === "origin-client" && certificate.usedBy.some((use) => use.origin === origin))?.spiffeId ?? undefined;
  const remove = async () => {
    setBusy(true);
    try {
      await client.DELETE("/distributions/{id}", { params: { path: { id }, header: { "If-Match": item.data!.etag ?? "" } } });
      route("/console/distributions");
    } catch (error) {
      setDeleteProblem(asProblem(error));
      setDeleting(false);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section>
      <div class="page-head">
        <h1>Distribution {id}</h1>
        {can("operator") && (
          <div class="actions">
            <a class="button" href={`/console/distributions/${encodeURIComponent(id)}/edit`}>
              Edit
            </a>
            <button type="button" class="danger" onClick={() => setDeleting(true)}>
              Delete
            </button>
          </div>
        )}
      </div>
      <p class="meta">
        Version {item.data.item.version}, written at config revision {item.data.item.revision}.
      </p>
      {deleteProblem && <ProblemView problem={deleteProblem} title="Not deleted" />}
      {isDeleting && (
        <ConfirmDialog title={`Delete distribution ${id}?`} confirmLabel="Delete" isDanger isBusy={isBusy} onCancel={() => setDeleting(false)} onConfirm={() => void remove()}>
          <p>Every edge stops serving {document.aliases.join(", ")} at its next config revision. The audit trail keeps the document.</p>
        </ConfirmDialog>
      )}

      <h2>Viewers</h2>
      <dl class="facts">
        <dt>Aliases</dt>
        <dd>{document.aliases.join(", ")}</dd>
        <dt>Viewer certificate</dt>
        <dd>{describeCertificateSource(document.viewerCertificate)}</dd>
        <dt>Minimum TLS version</dt>
        <dd>{document.tls?.minVersion ?? "default (TLSv1.2)"}</dd>
        <dt>Viewer mTLS</dt>
        <dd>
          {document.viewerMtls ? `${document.viewerMtls.mode}${document.viewerMtls.trustStore ? `, trust store ${document.viewerMtls.trustStore}` : ""}${document.viewerMtls.edgesOnly ? ", edges of this fleet only" : ""}` : "off"}
        </dd>
      </dl>

      <h2>Origins</h2>
      <div class="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">Id</th>
              <th scope="col">URL</th>
              <th scope="col">Client certificate</th>
              <th scope="col">mTLS identity the edge presents</th>
            </tr>
          </thead>
          <tbody>
            {document.origins.map((origin) => (
              <tr key={origin.id}>
                <th scope="row">{origin.id}</th>
                <td>
                  <code>{origin.url}</code>
                </td>
                <td>{describeCertificateSource(origin.mtls?.clientCertificate)}</td>
                <td data-testid={`identity-${origin.id}`}>{identityOf(origin.id) ? <code>{identityOf(origin.id)}</code> : origin.mtls?.clientCertificate === "none" ? "none" : "not issued yet"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>

      {document.originGroups && document.originGroups.length > 0 && (
        <>
          <h2>Origin groups</h2>
          <ul>
            {document.originGroups.map((group) => (
              <li key={group.id}>
                <strong>{group.id}</strong>: {group.members.join(" then ")}
                {group.failoverOn ? `, failover on ${group.failoverOn.join(", ")}` : ""}
              </li>
            ))}
          </ul>
        </>
      )}

      <h2>Behaviors</h2>
      {document.behaviors && document.behaviors.length > 0 ? (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Path</th>
                <th scope="col">Target</th>
                <th scope="col">Methods</th>
                <th scope="col">Cache</th>
                <th scope="col">Viewer mTLS</th>
              </tr>
            </thead>
            <tbody>
              {document.behaviors.map((behavior) => (
                <tr key={behavior.path}>
                  <th scope="row">
                    <code>{behavior.path}</code>
                  </th>
                  <td>{behavior.target}</td>
                  <td>{behavior.allowedMethods?.join(", ") ?? "GET, HEAD"}</td>
                  <td>
                    <code>{behavior.cache ? JSON.stringify(behavior.cache) : "default"}</code>
                  </td>
                  <td>{behavior.viewerMtls ?? "—"}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : (
        <p>No behaviors: every path goes to the first origin with the default cache policy.</p>
      )}

      <h2>Certificates</h2>
      <CertificateList certificates={certificates.data} error={certificates.error} />
    </section>
  );
}

function CertificateList(props: { certificates: readonly Certificate[] | undefined; error: ProblemError | undefined }) {
  if (props.error) return <ProblemView problem={props.error} />;
  if (!props.certificates) return <Loading what="certificates" />;
  if (props.certificates.length === 0) return <p role="status">No certificate recorded yet: the edge issues them when it applies the distribution (this list refreshes).</p>;
  return (
    <div class="table-wrap">
      <table data-testid="distribution-certificates">
        <thead>
          <tr>
            <th scope="col">Use</th>
            <th scope="col">Name</th>
            <th scope="col">State</th>
            <th scope="col">Edge</th>
            <th scope="col">Expires</th>
          </tr>
        </thead>
        <tbody>
          {props.certificates.map((certificate) => (
            <tr key={`${certificate.edge}:${certificate.serialHex}`}>
              <td>{certificate.use}</td>
              <td>
                <a href={`/console/certificates#${encodeURIComponent(certificate.name)}`}>{certificate.name}</a>
              </td>
              <td>
                <StateBadge state={certificate.state} />
                {certificate.source === "imported" && <StateBadge state="imported" />}
              </td>
              <td>{certificate.edge ?? "—"}</td>
              <td>
                {formatTime(certificate.notAfter)} ({formatRelative(certificate.notAfter)})
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
