// Certificates: every one Moat holds, grouped by what it is for, the soonest expiry on top, each group's generations on a timeline; rotate and revoke with a confirmation; the CA bundle and CRL to download.
import { useEffect, useRef, useState } from "preact/hooks";
import { asProblem } from "../api/client.ts";
import type { ConsoleClient, ProblemError } from "../api/client.ts";
import { useSession } from "../api/session.ts";
import type { Certificate } from "../api/types.ts";
import { useApi } from "../api/use-api.ts";
import { CertificateTimeline } from "../components/certificate-timeline.tsx";
import { ConfirmDialog } from "../components/confirm-dialog.tsx";
import { Field } from "../components/field.tsx";
import { Pager, pageGroups } from "../components/pager.tsx";
import { Loading, ProblemView } from "../components/problem-view.tsx";
import { StateBadge } from "../components/state-badge.tsx";
import { formatRelative, formatTime } from "../format.ts";
import { groupCertificates } from "./certificate-groups.ts";

const REASONS = ["unspecified", "keyCompromise", "cACompromise", "affiliationChanged", "superseded", "cessationOfOperation", "privilegeWithdrawn"];

/**
 * Every certificate, through the API's cursor (500 a read): the page orders groups by their soonest expiry and
 * keeps a name's generations together, which the API's serial order cannot give a page at a time; it shows 50 rows.
 */
async function listAll(client: ConsoleClient): Promise<Certificate[]> {
  const items: Certificate[] = [];
  let cursor: string | undefined;
  do {
    const { data } = await client.GET("/certificates", { params: { query: { limit: 500, ...(cursor ? { cursor } : {}) } } });
    items.push(...data!.items);
    cursor = data!.nextCursor;
  } while (cursor !== undefined);
  return items;
}

/** A response body saved as a file: the API needs the Authorization header, so a plain link would not do. */
async function download(client: ConsoleClient, path: "/ca/bundle" | "/ca/crl", fileName: string): Promise<void> {
  const { data } = await client.GET(path, { parseAs: "blob" });
  const url = URL.createObjectURL(data as Blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = fileName;
  link.click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

type Pending = { kind: "rotate" | "revoke"; certificate: Certificate };

export function CertificatesPage() {
  const { client, can } = useSession();
  const list = useApi(() => listAll(client), [client], { refreshMs: 3_000 });
  const [filter, setFilter] = useState("");
  const [state, setState] = useState("");
  const [page, setPage] = useState(0);
  const [pending, setPending] = useState<Pending | undefined>(undefined);
  const [reason, setReason] = useState("superseded");
  const [isBusy, setBusy] = useState(false);
  const [problem, setProblem] = useState<ProblemError | undefined>(undefined);
  const [notice, setNotice] = useState<string | undefined>(undefined);
  const noticeElement = useRef<HTMLParagraphElement>(null);
  // After a confirmed act its button may be gone (a rotated certificate is retired): focus goes to what happened instead.
  useEffect(() => {
    if (notice) noticeElement.current?.focus();
  }, [notice]);

  const act = async () => {
    if (!pending) return;
    setBusy(true);
    setProblem(undefined);
    const serial = pending.certificate.serialHex;
    try {
      if (pending.kind === "rotate") {
        const { data } = await client.POST("/certificates/{serial}/rotate", { params: { path: { serial } } });
        setNotice(data!.wasAlreadyRequested ? `A rotation of ${pending.certificate.name} was already asked for; the edge re-issues it.` : `Rotation of ${pending.certificate.name} asked for: the edge re-issues it now, and the timeline shows the new certificate once it does.`);
      } else {
        await client.POST("/certificates/{serial}/revoke", { params: { path: { serial } }, body: { reason } });
        setNotice(`Certificate ${serial} is revoked and in a fresh CRL.`);
      }
      list.reload();
    } catch (error) {
      setProblem(asProblem(error));
    } finally {
      setBusy(false);
      setPending(undefined);
    }
  };

  const shown = (list.data ?? []).filter((certificate) => (!state || certificate.state === state || (state === "imported" && certificate.source === "imported")) && (!filter || `${certificate.name} ${certificate.serialHex} ${certificate.edge ?? ""}`.includes(filter.trim())));
  // 50 rows a page, whole groups only (a name's generations stay on one timeline): the soonest expiry on the first.
  const pages = pageGroups(groupCertificates(shown), (group) => group.certificates.length);
  const pageIndex = Math.min(page, Math.max(0, pages.length - 1));
  const groups = pages[pageIndex] ?? [];
  const rowsBefore = pages.slice(0, pageIndex).reduce((sum, groupsOfPage) => sum + groupsOfPage.reduce((rows, group) => rows + group.certificates.length, 0), 0);
  const rowsHere = groups.reduce((rows, group) => rows + group.certificates.length, 0);
  return (
    <section>
      <div class="page-head">
        <h1>Certificates</h1>
        <div class="actions">
          <button type="button" onClick={() => void download(client, "/ca/bundle", "moat-ca-bundle.pem").catch((error: unknown) => setProblem(asProblem(error)))}>
            Download CA bundle
          </button>
          <button type="button" onClick={() => void download(client, "/ca/crl", "moat-crl.pem").catch((error: unknown) => setProblem(asProblem(error)))}>
            Download CRL
          </button>
        </div>
      </div>
      <p>Grouped by what each certificate is for, the soonest expiry first. A rotation makes a new generation: the bar of the new one starts where the edge issued it.</p>
      <div class="filters">
        <Field id="cert-filter" label="Name, serial or edge contains">
          {() => <input id="cert-filter" type="search" value={filter} onInput={(event) => (setFilter(event.currentTarget.value), setPage(0))} />}
        </Field>
        <Field id="cert-state" label="State">
          {() => (
            <select id="cert-state" value={state} onChange={(event) => (setState(event.currentTarget.value), setPage(0))}>
              <option value="">Any</option>
              {["active", "next", "retired", "revoked", "expired", "imported"].map((value) => (
                <option key={value} value={value}>
                  {value}
                </option>
              ))}
            </select>
          )}
        </Field>
      </div>
      <div aria-live="polite">
        {notice && (
          <p class="notice" ref={noticeElement} tabIndex={-1}>
            {notice}
          </p>
        )}
      </div>
      {problem && <ProblemView problem={problem} />}
      {list.error && <ProblemView problem={list.error} />}
      {!list.data && !list.error && <Loading what="certificates" />}
      {list.data && groups.length === 0 && <p>No certificate matches.</p>}
      {groups.map((group) => (
        <article class="card" key={group.key} id={group.name} data-testid="certificate-group" data-name={group.name}>
          <h2>
            {group.name} <span class="meta">{group.use}{group.edge ? `, edge ${group.edge}` : ", shared by the fleet"}</span>
          </h2>
          <div class="timeline-wrap">
            <CertificateTimeline certificates={group.certificates} name={group.name} />
          </div>
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Serial</th>
                  <th scope="col">State</th>
                  <th scope="col">Valid from</th>
                  <th scope="col">Expires</th>
                  <th scope="col">Renews</th>
                  <th scope="col">Identity</th>
                  <th scope="col">
                    <span class="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {group.certificates.map((certificate) => {
                  const isRotatable = certificate.source === "issued" && certificate.state === "active" && (certificate.use === "viewer-server" || certificate.use === "origin-client");
                  return (
                    <tr key={certificate.serialHex} data-serial={certificate.serialHex}>
                      <td>
                        <code>{certificate.serialHex}</code>
                      </td>
                      <td>
                        <StateBadge state={certificate.state} />
                        {certificate.source === "imported" && <StateBadge state="imported" />}
                      </td>
                      <td>{formatTime(certificate.notBefore)}</td>
                      <td>
                        {formatTime(certificate.notAfter)} ({formatRelative(certificate.notAfter)})
                      </td>
                      <td data-testid="renews">{certificate.renewsAt ? `${formatTime(certificate.renewsAt)} (${formatRelative(certificate.renewsAt)})` : certificate.source === "imported" ? "— (imported)" : "—"}</td>
                      <td>{certificate.spiffeId ? <code>{certificate.spiffeId}</code> : certificate.sans.join(", ")}</td>
                      <td class="row-actions">
                        {isRotatable && can("operator") && (
                          <button type="button" onClick={() => setPending({ kind: "rotate", certificate })} aria-label={`Rotate ${certificate.name} now`}>
                            Rotate
                          </button>
                        )}
                        {certificate.state !== "revoked" && (certificate.use === "viewer-server" || certificate.use === "origin-client") && can("admin") && (
                          <button type="button" class="danger" onClick={() => setPending({ kind: "revoke", certificate })} aria-label={`Revoke ${certificate.serialHex}`}>
                            Revoke
                          </button>
                        )}
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        </article>
      ))}
      {list.data && (
        <Pager
          label="Certificates"
          page={pageIndex}
          position={rowsHere === 0 ? "no rows" : `rows ${rowsBefore + 1}–${rowsBefore + rowsHere} of ${shown.length}`}
          hasNext={pageIndex < pages.length - 1}
          onPrevious={() => setPage(pageIndex - 1)}
          onNext={() => setPage(pageIndex + 1)}
        />
      )}
      {pending?.kind === "rotate" && (
        <ConfirmDialog title={`Rotate ${pending.certificate.name} now?`} confirmLabel="Rotate now" isBusy={isBusy} onCancel={() => setPending(undefined)} onConfirm={() => void act()}>
          <p>
            The edge issues a new certificate for {pending.certificate.name} at once and presents it on new connections; {pending.certificate.serialHex} is retired.
          </p>
        </ConfirmDialog>
      )}
      {pending?.kind === "revoke" && (
        <ConfirmDialog title={`Revoke ${pending.certificate.serialHex}?`} confirmLabel="Revoke" isDanger isBusy={isBusy} onCancel={() => setPending(undefined)} onConfirm={() => void act()}>
          <p>
            Revocation is final: {pending.certificate.name} ({pending.certificate.serialHex}) goes into a fresh CRL, and a running edge replaces it if it is in use.
          </p>
          <Field id="revoke-reason" label="Reason (RFC 5280)">
            {() => (
              <select id="revoke-reason" value={reason} onChange={(event) => setReason(event.currentTarget.value)}>
                {REASONS.map((value) => (
                  <option key={value} value={value}>
                    {value}
                  </option>
                ))}
              </select>
            )}
          </Field>
        </ConfirmDialog>
      )}
    </section>
  );
}
