// The tokens page's edge join tokens: each names the edge it joins (and its region), works once and expires soon; created with the secret shown once, revoked while unused.
import { useRef, useState } from "preact/hooks";
import { asProblem } from "../api/client.ts";
import type { ProblemError } from "../api/client.ts";
import { useSession } from "../api/session.ts";
import type { JoinToken } from "../api/types.ts";
import { useApi } from "../api/use-api.ts";
import { ConfirmDialog } from "../components/confirm-dialog.tsx";
import { Field } from "../components/field.tsx";
import { useNotice } from "../components/notice.tsx";
import { Loading, ProblemView } from "../components/problem-view.tsx";
import { SecretDialog } from "../components/secret-dialog.tsx";
import { StateBadge } from "../components/state-badge.tsx";
import { formatRelative, formatTime } from "../format.ts";
import { useRefusal } from "./use-refusal.ts";

export function JoinTokensSection() {
  const { client } = useSession();
  const list = useApi(async () => (await client.GET("/edges/join-tokens")).data!.items, [client]);
  const [name, setName] = useState("");
  const [region, setRegion] = useState("");
  const [ttl, setTtl] = useState("");
  const [isBusy, setBusy] = useState(false);
  const [created, setCreated] = useState<{ secret: string; token: JoinToken } | undefined>(undefined);
  const [revoking, setRevoking] = useState<JoinToken | undefined>(undefined);
  const [revokeProblem, setRevokeProblem] = useState<ProblemError | undefined>(undefined);
  const refusal = useRefusal();
  const notice = useNotice();
  const createButton = useRef<HTMLButtonElement>(null);

  const create = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    refusal.setProblem(undefined);
    try {
      const body = { name: name.trim(), ...(region.trim() ? { region: region.trim() } : {}), ...(ttl.trim() ? { ttl: ttl.trim() } : {}) };
      const { data } = await client.POST("/edges/join-tokens", { body });
      setCreated(data!);
      setName("");
      setRegion("");
      setTtl("");
      list.reload();
    } catch (error) {
      refusal.setProblem(asProblem(error));
    } finally {
      setBusy(false);
    }
  };
  const revoke = async () => {
    if (!revoking) return;
    setBusy(true);
    setRevokeProblem(undefined);
    try {
      await client.DELETE("/edges/join-tokens/{id}", { params: { path: { id: revoking.id } } });
      notice.setNotice(`Join token ${revoking.id} for edge ${revoking.name} is revoked: it joins nobody from now on.`);
      list.reload();
    } catch (error) {
      setRevokeProblem(asProblem(error));
    } finally {
      setBusy(false);
      setRevoking(undefined);
    }
  };

  return (
    <>
      <h2 id="join-tokens">Edge join tokens</h2>
      <form ref={refusal.form} class="card" aria-labelledby="create-join-token" onSubmit={(event) => void create(event)} noValidate>
        <h3 id="create-join-token">Create a join token</h3>
        <Field id="join-name" label="Edge name" hint="The name the edge joins, runs and is listed under." errors={refusal.errorsFor("name")}>
          {(describedBy, isInvalid) => <input id="join-name" value={name} autocomplete="off" spellcheck={false} aria-describedby={describedBy} aria-invalid={isInvalid} onInput={(event) => setName(event.currentTarget.value)} />}
        </Field>
        <Field id="join-region" label="Region (optional)" errors={refusal.errorsFor("region")}>
          {(describedBy, isInvalid) => <input id="join-region" value={region} autocomplete="off" spellcheck={false} aria-describedby={describedBy} aria-invalid={isInvalid} onInput={(event) => setRegion(event.currentTarget.value)} />}
        </Field>
        <Field id="join-ttl" label="Usable for (optional)" hint="A duration such as 1h or 2d; 1h when empty, at most 7d." errors={refusal.errorsFor("ttl")}>
          {(describedBy, isInvalid) => <input id="join-ttl" value={ttl} placeholder="1h" autocomplete="off" spellcheck={false} aria-describedby={describedBy} aria-invalid={isInvalid} onInput={(event) => setTtl(event.currentTarget.value)} />}
        </Field>
        <div class="actions">
          <button ref={createButton} type="submit" class="primary" disabled={isBusy}>
            Create join token
          </button>
        </div>
        <div ref={refusal.summary} tabIndex={-1}>
          {refusal.problem && <ProblemView problem={refusal.problem} title="Not created" />}
        </div>
      </form>
      {notice.view}
      {revokeProblem && <ProblemView problem={revokeProblem} title="Not revoked" />}
      {list.error && <ProblemView problem={list.error} />}
      {!list.data && !list.error && <Loading what="join tokens" />}
      {list.data && list.data.length === 0 && <p>No join token yet.</p>}
      {list.data && list.data.length > 0 && (
        <div class="table-wrap">
          <table data-testid="join-tokens">
            <caption class="visually-hidden">Edge join tokens, oldest first</caption>
            <thead>
              <tr>
                <th scope="col">Edge</th>
                <th scope="col">Id</th>
                <th scope="col">Region</th>
                <th scope="col">State</th>
                <th scope="col">Created</th>
                <th scope="col">Expires</th>
                <th scope="col">Used</th>
                <th scope="col">
                  <span class="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {list.data.map((token) => (
                <tr key={token.id} data-id={token.id}>
                  <th scope="row">{token.name}</th>
                  <td>
                    <code>{token.id}</code>
                  </td>
                  <td>{token.region ?? "—"}</td>
                  <td>
                    <StateBadge state={token.state} />
                  </td>
                  <td>
                    {formatTime(token.createdAt)} by <code>{token.createdBy}</code>
                  </td>
                  <td>
                    {formatTime(token.expiresAt)} ({formatRelative(token.expiresAt)})
                  </td>
                  <td>{token.usedAt ? formatTime(token.usedAt) : "—"}</td>
                  <td class="row-actions">
                    {token.state === "usable" && (
                      <button type="button" class="danger" onClick={() => setRevoking(token)} aria-label={`Revoke join token for ${token.name} (${token.id})`}>
                        Revoke
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {created && (
        <SecretDialog title={`Join token for edge ${created.token.name} created`} label={`Join token for edge ${created.token.name}`} secret={created.secret} returnFocusTo={createButton} onClose={() => setCreated(undefined)}>
          <p>
            Give it to the edge's operator for <code>moat edge join</code>: it works once, until {formatTime(created.token.expiresAt)}.
          </p>
        </SecretDialog>
      )}
      {revoking && (
        <ConfirmDialog title={`Revoke the join token for ${revoking.name}?`} confirmLabel="Revoke" isDanger isBusy={isBusy} onCancel={() => setRevoking(undefined)} onConfirm={() => void revoke()}>
          <p>
            Revocation is final: no edge can join with {revoking.id} any more. An edge that joined with it already is not affected.
          </p>
        </ConfirmDialog>
      )}
    </>
  );
}
