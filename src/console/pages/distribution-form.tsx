// Creating or editing a distribution: the common fields as a form, the rest as JSON; the API validates the whole config and its messages appear next to the fields they name.
import { useEffect, useRef, useState } from "preact/hooks";
import { useLocation, useRoute } from "preact-iso";
import { asProblem } from "../api/client.ts";
import type { ProblemError } from "../api/client.ts";
import { useSession } from "../api/session.ts";
import type { Distribution, DistributionReplacement } from "../api/types.ts";
import { useApi } from "../api/use-api.ts";
import { Field } from "../components/field.tsx";
import { Loading, ProblemView } from "../components/problem-view.tsx";
import { EMPTY_ORIGIN, fieldKey, FORM_KEYS, toDocument, toForm } from "./distribution-document.ts";
import type { FormState, OriginForm, SourceKind } from "./distribution-document.ts";

export function DistributionFormPage() {
  const { params } = useRoute();
  const editing = params.id as string | undefined;
  const { client, can } = useSession();
  const { route } = useLocation();
  const loaded = useApi(async () => {
    if (!editing) return undefined;
    const { data, response } = await client.GET("/distributions/{id}", { params: { path: { id: editing } } });
    return { document: data!.document, etag: response.headers.get("etag") ?? "" };
  }, [client, editing]);
  const [form, setForm] = useState<FormState | undefined>(editing ? undefined : toForm(undefined));
  const [problem, setProblem] = useState<ProblemError | undefined>(undefined);
  const [extraError, setExtraError] = useState<string | undefined>(undefined);
  const [isBusy, setBusy] = useState(false);
  const summary = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (editing && loaded.data && !form) setForm(toForm(loaded.data.document));
  }, [loaded.data]);
  const formElement = useRef<HTMLFormElement>(null);
  // A refusal moves focus to the first field it names (its message is that field's description), else to the summary.
  useEffect(() => {
    if (!problem && !extraError) return;
    (formElement.current?.querySelector<HTMLElement>('[aria-invalid="true"]') ?? summary.current)?.focus();
  }, [problem, extraError]);

  const title = editing ? `Edit distribution ${editing}` : "Create a distribution";
  if (!can("operator")) {
    return (
      <section>
        <h1>{title}</h1>
        <p class="problem" role="alert">
          Your role may not change distributions (it needs operator or admin); the API would refuse the change.
        </p>
      </section>
    );
  }
  if (loaded.error) return <section><h1>{title}</h1><ProblemView problem={loaded.error} /></section>;
  if (!form) return <section><h1>{title}</h1><Loading what="the distribution" /></section>;

  const issues = problem?.issues ?? [];
  const known = FORM_KEYS(form.origins.length);
  const errorsFor = (key: string) => issues.filter((issue) => { const k = fieldKey(issue); return k === key || k.startsWith(`${key}.`); }).map((issue) => issue.message);
  const otherErrors = [
    ...(extraError ? [extraError] : []),
    ...issues.filter((issue) => !known.some((key) => { const k = fieldKey(issue); return k === key || k.startsWith(`${key}.`); })).map((issue) => `${issue.path || "(body)"}: ${issue.message}`),
  ];
  const set = (patch: Partial<FormState>) => setForm({ ...form, ...patch });
  const setOrigin = (index: number, patch: Partial<OriginForm>) => set({ origins: form.origins.map((origin, at) => (at === index ? { ...origin, ...patch } : origin)) });

  const submit = async (event: Event) => {
    event.preventDefault();
    const { document, extraError: jsonError } = toDocument(form);
    setExtraError(jsonError);
    if (!document) return;
    setBusy(true);
    setProblem(undefined);
    try {
      if (editing) {
        await client.PUT("/distributions/{id}", { params: { path: { id: editing }, header: { "If-Match": loaded.data!.etag } }, body: document as DistributionReplacement });
      } else {
        await client.POST("/distributions", { body: document as Distribution });
      }
      route(`/console/distributions/${encodeURIComponent(String(document.id))}`);
    } catch (error) {
      setProblem(asProblem(error));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section>
      <h1>{title}</h1>
      <p>The API checks the whole config this change would make; what it refuses appears next to the field it names.</p>
      {problem && (
        <div ref={summary} tabIndex={-1}>
          <ProblemView problem={problem} title={editing ? "Not saved" : "Not created"} />
        </div>
      )}
      <form ref={formElement} onSubmit={(event) => void submit(event)} noValidate>
        <fieldset>
          <legend>Viewers</legend>
          <Field id="dist-id" label="Id" hint="Lower-case letters, digits and dashes: it names the distribution in URLs, certificates and logs." errors={errorsFor("id")}>
            {(describedBy, isInvalid) => (
              <input id="dist-id" name="id" value={form.id} readOnly={editing !== undefined} aria-describedby={describedBy} aria-invalid={isInvalid} onInput={(event) => set({ id: event.currentTarget.value })} />
            )}
          </Field>
          <Field id="dist-aliases" label="Aliases" hint="The host names viewers use, one per line." errors={errorsFor("aliases")}>
            {(describedBy, isInvalid) => (
              <textarea id="dist-aliases" name="aliases" rows={3} value={form.aliases} aria-describedby={describedBy} aria-invalid={isInvalid} onInput={(event) => set({ aliases: event.currentTarget.value })} />
            )}
          </Field>
          <Field id="dist-viewer-cert" label="Viewer certificate" errors={errorsFor("viewerCertificate")}>
            {(describedBy, isInvalid) => (
              <select id="dist-viewer-cert" value={form.viewer} aria-describedby={describedBy} aria-invalid={isInvalid} onChange={(event) => set({ viewer: event.currentTarget.value as SourceKind })}>
                <option value="moat">Issued by Moat (renewed automatically)</option>
                <option value="imported">Imported through the API</option>
                {form.viewer === "files" && <option value="files">From files (kept as is)</option>}
              </select>
            )}
          </Field>
          {form.viewer === "imported" && (
            <Field id="dist-viewer-imported" label="Imported certificate's name" errors={errorsFor("viewerCertificate.imported")}>
              {(describedBy, isInvalid) => <input id="dist-viewer-imported" value={form.viewerImported} aria-describedby={describedBy} aria-invalid={isInvalid} onInput={(event) => set({ viewerImported: event.currentTarget.value })} />}
            </Field>
          )}
          <Field id="dist-min-tls" label="Minimum TLS version" errors={errorsFor("tls.minVersion")}>
            {(describedBy, isInvalid) => (
              <select id="dist-min-tls" value={form.minVersion} aria-describedby={describedBy} aria-invalid={isInvalid} onChange={(event) => set({ minVersion: event.currentTarget.value })}>
                <option value="">Default</option>
                <option value="TLSv1.2">TLS 1.2</option>
                <option value="TLSv1.3">TLS 1.3</option>
              </select>
            )}
          </Field>
          <Field id="dist-mtls-mode" label="Viewer mTLS" hint="required: only viewers with a certificate from the trust store; optional: verified when presented." errors={errorsFor("viewerMtls.mode")}>
            {(describedBy, isInvalid) => (
              <select id="dist-mtls-mode" value={form.mtlsMode} aria-describedby={describedBy} aria-invalid={isInvalid} onChange={(event) => set({ mtlsMode: event.currentTarget.value })}>
                <option value="off">off</option>
                <option value="optional">optional</option>
                <option value="required">required</option>
                <option value="passthrough">passthrough</option>
              </select>
            )}
          </Field>
          {form.mtlsMode !== "off" && (
            <Field id="dist-trust-store" label="Viewer trust store" hint="The name of a trust store (trustStores in the config)." errors={errorsFor("viewerMtls.trustStore")}>
              {(describedBy, isInvalid) => <input id="dist-trust-store" value={form.trustStore} aria-describedby={describedBy} aria-invalid={isInvalid} onInput={(event) => set({ trustStore: event.currentTarget.value })} />}
            </Field>
          )}
        </fieldset>

        {form.origins.map((origin, index) => (
          <fieldset key={index}>
            <legend>Origin {index + 1}</legend>
            <Field id={`origin-${index}-id`} label="Origin id" errors={errorsFor(`origins.${index}.id`)}>
              {(describedBy, isInvalid) => <input id={`origin-${index}-id`} value={origin.id} aria-describedby={describedBy} aria-invalid={isInvalid} onInput={(event) => setOrigin(index, { id: event.currentTarget.value })} />}
            </Field>
            <Field id={`origin-${index}-url`} label="Origin URL" hint="https://host:port[/base path]: the edge connects with TLS, verifying the origin." errors={errorsFor(`origins.${index}.url`)}>
              {(describedBy, isInvalid) => <input id={`origin-${index}-url`} value={origin.url} inputMode="url" aria-describedby={describedBy} aria-invalid={isInvalid} onInput={(event) => setOrigin(index, { url: event.currentTarget.value })} />}
            </Field>
            <Field id={`origin-${index}-client`} label="Client certificate towards the origin" errors={errorsFor(`origins.${index}.mtls.clientCertificate`)}>
              {(describedBy, isInvalid) => (
                <select id={`origin-${index}-client`} value={origin.client} aria-describedby={describedBy} aria-invalid={isInvalid} onChange={(event) => setOrigin(index, { client: event.currentTarget.value as SourceKind })}>
                  <option value="moat">Issued by Moat (its SPIFFE ID names this distribution and origin)</option>
                  <option value="imported">Imported through the API</option>
                  <option value="none">None (the origin takes no client certificate)</option>
                  {origin.client === "files" && <option value="files">From files (kept as is)</option>}
                </select>
              )}
            </Field>
            {origin.client === "imported" && (
              <Field id={`origin-${index}-imported`} label="Imported certificate's name" errors={errorsFor(`origins.${index}.mtls.clientCertificate.imported`)}>
                {(describedBy, isInvalid) => <input id={`origin-${index}-imported`} value={origin.importedName} aria-describedby={describedBy} aria-invalid={isInvalid} onInput={(event) => setOrigin(index, { importedName: event.currentTarget.value })} />}
              </Field>
            )}
            <Field id={`origin-${index}-server-name`} label="Server name (optional)" hint="The name to verify in the origin's certificate, when it is not the URL's host." errors={errorsFor(`origins.${index}.mtls.serverName`)}>
              {(describedBy, isInvalid) => <input id={`origin-${index}-server-name`} value={origin.serverName} aria-describedby={describedBy} aria-invalid={isInvalid} onInput={(event) => setOrigin(index, { serverName: event.currentTarget.value })} />}
            </Field>
            {form.origins.length > 1 && (
              <button type="button" onClick={() => set({ origins: form.origins.filter((_, at) => at !== index) })}>
                Remove origin {index + 1}
              </button>
            )}
          </fieldset>
        ))}
        <div class="actions">
          <button type="button" onClick={() => set({ origins: [...form.origins, { ...EMPTY_ORIGIN, id: `origin-${form.origins.length + 1}` }] })}>
            Add an origin
          </button>
        </div>

        <fieldset>
          <legend>Everything else</legend>
          <Field
            id="dist-extra"
            label="Other settings (JSON)"
            hint="originGroups, behaviors, shield, accessLog, viewerMtls.forward…: as the config file writes them (docs: reference/config)."
            errors={otherErrors}
          >
            {(describedBy, isInvalid) => (
              <textarea id="dist-extra" class="code" rows={8} spellcheck={false} value={form.extra} aria-describedby={describedBy} aria-invalid={isInvalid} onInput={(event) => set({ extra: event.currentTarget.value })} />
            )}
          </Field>
        </fieldset>
        <div class="actions">
          <button type="submit" class="primary" disabled={isBusy}>
            {isBusy ? "Saving…" : editing ? "Save" : "Create"}
          </button>
          <a class="button" href={editing ? `/console/distributions/${encodeURIComponent(editing)}` : "/console/distributions"}>
            Cancel
          </a>
        </div>
      </form>
    </section>
  );
}
