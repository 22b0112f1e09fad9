// Invalidations: a form (exact paths and /prefix* wildcards) and the recent ones with their progress, edge by edge, until every live edge has applied them.
import { useEffect, useRef, useState } from "preact/hooks";
import { asProblem } from "../api/client.ts";
import type { ProblemError } from "../api/client.ts";
import { useSession } from "../api/session.ts";
import type { Invalidation } from "../api/types.ts";
import { useApi } from "../api/use-api.ts";
import { Field } from "../components/field.tsx";
import { Loading, ProblemView } from "../components/problem-view.tsx";
import { StateBadge } from "../components/state-badge.tsx";
import { formatRelative, formatTime } from "../format.ts";
import { fieldKey } from "./distribution-document.ts";

/** While one is pending its progress is read every second; otherwise every five. */
const PENDING_REFRESH_MS = 1_000;
const IDLE_REFRESH_MS = 5_000;

export function InvalidationsPage() {
  const { client, can } = useSession();
  const [refreshMs, setRefreshMs] = useState(IDLE_REFRESH_MS);
  const list = useApi(async () => (await client.GET("/invalidations", { params: { query: { limit: 25 } } })).data!.items, [client], { refreshMs });
  const distributions = useApi(async () => (await client.GET("/distributions", { params: { query: { limit: 500 } } })).data!.items.map((item) => item.id), [client]);
  useEffect(() => {
    setRefreshMs((list.data ?? []).some((item) => item.status === "pending") ? PENDING_REFRESH_MS : IDLE_REFRESH_MS);
  }, [list.data]);

  return (
    <section>
      <h1>Invalidations</h1>
      {can("operator") ? (
        <InvalidationForm distributions={distributions.data ?? []} onCreated={list.reload} />
      ) : (
        <p class="meta">Your role may read invalidations; recording one needs operator or admin.</p>
      )}
      <h2>Recent</h2>
      {list.error && <ProblemView problem={list.error} />}
      {!list.data && !list.error && <Loading what="invalidations" />}
      {list.data && list.data.length === 0 && <p>None yet.</p>}
      <ol class="invalidations" aria-live="polite">
        {(list.data ?? []).map((item) => (
          <InvalidationItem key={item.id} item={item} />
        ))}
      </ol>
    </section>
  );
}

function InvalidationForm(props: { distributions: readonly string[]; onCreated(): void }) {
  const { client } = useSession();
  const [distribution, setDistribution] = useState("");
  const [paths, setPaths] = useState("");
  const [problem, setProblem] = useState<ProblemError | undefined>(undefined);
  const [isBusy, setBusy] = useState(false);
  const [created, setCreated] = useState<string | undefined>(undefined);
  const summary = useRef<HTMLDivElement>(null);
  const formElement = useRef<HTMLFormElement>(null);
  // A refusal moves focus to the first field it names (its message is that field's description), else to the summary.
  useEffect(() => {
    if (problem) (formElement.current?.querySelector<HTMLElement>('[aria-invalid="true"]') ?? summary.current)?.focus();
  }, [problem]);
  const chosen = distribution || props.distributions[0] || "";
  const errorsFor = (key: string) => (problem?.issues ?? []).filter((issue) => fieldKey(issue) === key || fieldKey(issue).startsWith(`${key}.`)).map((issue) => `${issue.path}: ${issue.message}`);
  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setProblem(undefined);
    try {
      const { data } = await client.POST("/invalidations", { body: { distribution: chosen, paths: paths.split(/\s+/).filter(Boolean) } });
      setCreated(`Invalidation ${data!.id} recorded: its progress is below.`);
      setPaths("");
      props.onCreated();
    } catch (error) {
      setProblem(asProblem(error));
      setCreated(undefined);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form ref={formElement} class="card" onSubmit={(event) => void submit(event)} noValidate>
      <h2>Invalidate</h2>
      <Field id="inv-distribution" label="Distribution" errors={errorsFor("distribution")}>
        {(describedBy, isInvalid) => (
          <select id="inv-distribution" value={chosen} aria-describedby={describedBy} aria-invalid={isInvalid} onChange={(event) => setDistribution(event.currentTarget.value)}>
            {props.distributions.map((id) => (
              <option key={id} value={id}>
                {id}
              </option>
            ))}
          </select>
        )}
      </Field>
      <Field id="inv-paths" label="Paths" hint="One per line: /exact/path, or /prefix* for everything under it (* alone: everything). * only at the end." errors={errorsFor("paths")}>
        {(describedBy, isInvalid) => <textarea id="inv-paths" rows={4} spellcheck={false} value={paths} aria-describedby={describedBy} aria-invalid={isInvalid} onInput={(event) => setPaths(event.currentTarget.value)} />}
      </Field>
      <div class="actions">
        <button type="submit" class="primary" disabled={isBusy || chosen === ""}>
          {isBusy ? "Recording…" : "Invalidate"}
        </button>
      </div>
      <div ref={summary} tabIndex={-1}>
        {problem && <ProblemView problem={problem} title="Not recorded" />}
      </div>
      <div aria-live="polite">{created && <p class="notice">{created}</p>}</div>
    </form>
  );
}

function InvalidationItem(props: { item: Invalidation }) {
  const { item } = props;
  const waited = item.edges.filter((edge) => edge.status !== "not-waited-for");
  const applied = waited.filter((edge) => edge.status === "applied").length;
  return (
    <li class="card invalidation" data-testid="invalidation" data-id={item.id} data-status={item.status}>
      <p>
        <strong>#{item.id}</strong> {item.distribution}: <code>{item.paths.join(" ")}</code> <StateBadge state={item.status} />
      </p>
      <p class="meta">
        {formatTime(item.at)} ({formatRelative(item.at)}) by {item.actor}
      </p>
      <label class="progress-label">
        {applied} of {waited.length} live edge{waited.length === 1 ? "" : "s"} applied it
        <progress max={Math.max(waited.length, 1)} value={applied} />
      </label>
      {item.edges.length > 0 && (
        <details>
          <summary>Edges</summary>
          <ul>
            {item.edges.map((edge) => (
              <li key={edge.edge}>
                {edge.edge} <StateBadge state={edge.status} /> {edge.appliedAt ? `at ${formatTime(edge.appliedAt)}` : edge.heartbeat ? `(${edge.heartbeat})` : ""}
              </li>
            ))}
          </ul>
        </details>
      )}
    </li>
  );
}
