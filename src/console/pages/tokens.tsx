// Tokens (admins only, as the API rules): API tokens and edge join tokens, listed without secrets; a new one's secret shown once in a dialog with a copy button; revoke with a confirmation.
import { useRef, useState } from "preact/hooks";
import { asProblem } from "../api/client.ts";
import type { ProblemError } from "../api/client.ts";
import { useSession } from "../api/session.ts";
import type { ApiToken, Role } from "../api/types.ts";
import { useApi } from "../api/use-api.ts";
import { ConfirmDialog } from "../components/confirm-dialog.tsx";
import { Field } from "../components/field.tsx";
import { useNotice } from "../components/notice.tsx";
import { Loading, ProblemView } from "../components/problem-view.tsx";
import { SecretDialog } from "../components/secret-dialog.tsx";
import { StateBadge } from "../components/state-badge.tsx";
import { formatRelative, formatTime } from "../format.ts";
import { JoinTokensSection } from "./join-tokens.tsx";
import { useRefusal } from "./use-refusal.ts";

const ROLES: readonly Role[] = ["viewer", "operator", "admin"];

/** An API token's state, as `moat token list` tells it: revoked, expired, or active. */
export function apiTokenState(token: ApiToken, now: number = Date.now()): "active" | "revoked" | "expired" {
  if (token.revokedAt) return "revoked";
  return Date.parse(token.expiresAt) <= now ? "expired" : "active";
}

export function TokensPage() {
  return (
    <section>
      <h1>Tokens</h1>
      <p>
        API tokens sign in to the API, the CLI and this console; a join token lets one edge join the fleet (<code>moat edge join</code>), once. Moat keeps only a hash of
        each: a new token's secret is shown once, when it is created.
      </p>
      <ApiTokensSection />
      <JoinTokensSection />
    </section>
  );
}

function ApiTokensSection() {
  const { client } = useSession();
  const list = useApi(async () => (await client.GET("/tokens")).data!.items, [client]);
  const [name, setName] = useState("");
  const [role, setRole] = useState<Role>("viewer");
  const [expiresIn, setExpiresIn] = useState("");
  const [isBusy, setBusy] = useState(false);
  const [created, setCreated] = useState<{ secret: string; token: ApiToken } | undefined>(undefined);
  const [revoking, setRevoking] = useState<ApiToken | undefined>(undefined);
  const [revokeProblem, setRevokeProblem] = useState<ProblemError | undefined>(undefined);
  const refusal = useRefusal();
  const notice = useNotice();
  const createButton = useRef<HTMLButtonElement>(null);

  const create = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    refusal.setProblem(undefined);
    try {
      const { data } = await client.POST("/tokens", { body: { name: name.trim(), role, ...(expiresIn.trim() ? { expiresIn: expiresIn.trim() } : {}) } });
      setCreated(data!);
      setName("");
      setExpiresIn("");
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
      await client.DELETE("/tokens/{id}", { params: { path: { id: revoking.id } } });
      notice.setNotice(`Token ${revoking.name} (${revoking.id}) is revoked: the API refuses it from now on.`);
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
      <h2 id="api-tokens">API tokens</h2>
      <form ref={refusal.form} class="card" aria-labelledby="create-api-token" onSubmit={(event) => void create(event)} noValidate>
        <h3 id="create-api-token">Create an API token</h3>
        <Field id="token-name" label="Name" hint="What it is for (ci-deploy): lists, logs and the audit trail show it." errors={refusal.errorsFor("name")}>
          {(describedBy, isInvalid) => <input id="token-name" value={name} autocomplete="off" spellcheck={false} aria-describedby={describedBy} aria-invalid={isInvalid} onInput={(event) => setName(event.currentTarget.value)} />}
        </Field>
        <Field id="token-role" label="Role" errors={refusal.errorsFor("role")}>
          {(describedBy, isInvalid) => (
            <select id="token-role" value={role} aria-describedby={describedBy} aria-invalid={isInvalid} onChange={(event) => setRole(event.currentTarget.value as Role)}>
              {ROLES.map((value) => (
                <option key={value} value={value}>
                  {value}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field id="token-expires" label="Expires in (optional)" hint="A duration such as 90d or 12h; 90d when empty, at most 366d." errors={refusal.errorsFor("expiresIn")}>
          {(describedBy, isInvalid) => <input id="token-expires" value={expiresIn} placeholder="90d" autocomplete="off" spellcheck={false} aria-describedby={describedBy} aria-invalid={isInvalid} onInput={(event) => setExpiresIn(event.currentTarget.value)} />}
        </Field>
        <div class="actions">
          <button ref={createButton} type="submit" class="primary" disabled={isBusy}>
            Create API token
          </button>
        </div>
        <div ref={refusal.summary} tabIndex={-1}>
          {refusal.problem && <ProblemView problem={refusal.problem} title="Not created" />}
        </div>
      </form>
      {notice.view}
      {revokeProblem && <ProblemView problem={revokeProblem} title="Not revoked" />}
      {list.error && <ProblemView problem={list.error} />}
      {!list.data && !list.error && <Loading what="API tokens" />}
      {list.data && list.data.length === 0 && <p>No API token yet.</p>}
      {list.data && list.data.length > 0 && (
        <div class="table-wrap">
          <table data-testid="api-tokens">
            <caption class="visually-hidden">API tokens, oldest first</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Id</th>
                <th scope="col">Role</th>
                <th scope="col">State</th>
                <th scope="col">Created</th>
                <th scope="col">Expires</th>
                <th scope="col">Last used</th>
                <th scope="col">
                  <span class="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {list.data.map((token) => {
                const state = apiTokenState(token);
                return (
                  <tr key={token.id} data-id={token.id}>
                    <th scope="row">{token.name}</th>
                    <td>
                      <code>{token.id}</code>
                    </td>
                    <td>
                      <StateBadge state={token.role} />
                    </td>
                    <td>
                      <StateBadge state={state} />
                    </td>
                    <td>
                      {formatTime(token.createdAt)} by <code>{token.createdBy}</code>
                    </td>
                    <td>
                      {formatTime(token.expiresAt)} ({formatRelative(token.expiresAt)})
                    </td>
                    <td>{token.lastUsedAt ? formatRelative(token.lastUsedAt) : "never"}</td>
                    <td class="row-actions">
                      {state === "active" && (
                        <button type="button" class="danger" onClick={() => setRevoking(token)} aria-label={`Revoke token ${token.name} (${token.id})`}>
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
      )}
      {created && (
        <SecretDialog title={`API token ${created.token.name} created`} label={`API token ${created.token.name} (${created.token.role})`} secret={created.secret} returnFocusTo={createButton} onClose={() => setCreated(undefined)}>
          <p>
            Send it as <code>Authorization: Bearer &lt;token&gt;</code>, or sign in to the console with it. It expires {formatTime(created.token.expiresAt)}.
          </p>
        </SecretDialog>
      )}
      {revoking && (
        <ConfirmDialog title={`Revoke token ${revoking.name}?`} confirmLabel="Revoke" isDanger isBusy={isBusy} onCancel={() => setRevoking(undefined)} onConfirm={() => void revoke()}>
          <p>
            Revocation is final: the API refuses {revoking.name} ({revoking.id}, {revoking.role}) from its next request, on every connection.
          </p>
        </ConfirmDialog>
      )}
    </>
  );
}
