// A distribution's document and the form that edits it, both ways: the form's fields from the stored document, the document from the fields (what the form does not show kept as it was), and the API's issues matched to the fields they name.
import type { DistributionItem, ProblemIssue } from "../api/types.ts";

/** A distribution as the API answers it (GET), which the form starts from. */
type Answered = DistributionItem["document"];
type Origin = Answered["origins"][number];
export type SourceKind = "moat" | "imported" | "none" | "files";

export interface OriginForm {
  id: string;
  url: string;
  client: SourceKind;
  importedName: string;
  serverName: string;
  /** What the form does not edit (timeouts, trustedCa), kept as it was. */
  rest: Partial<Origin>;
  /** The certificate source as read, for "from files". */
  original: unknown;
}

export interface FormState {
  id: string;
  aliases: string;
  viewer: SourceKind;
  viewerImported: string;
  viewerOriginal: unknown;
  minVersion: string;
  mtlsMode: string;
  trustStore: string;
  origins: OriginForm[];
  /** Every other key of the document, as JSON: origin groups, behaviors, shield, access log… */
  extra: string;
}

export const EMPTY_ORIGIN: OriginForm = { id: "app", url: "https://", client: "moat", importedName: "", serverName: "", rest: {}, original: undefined };

function sourceKind(source: unknown): { kind: SourceKind; imported: string } {
  if (source === "none") return { kind: "none", imported: "" };
  const object = (source ?? {}) as { imported?: string; cert?: string; pkcs12?: string };
  if (object.imported) return { kind: "imported", imported: object.imported };
  if (object.cert || object.pkcs12) return { kind: "files", imported: "" };
  return { kind: "moat", imported: "" };
}

export function toForm(document: Answered | undefined): FormState {
  if (!document) {
    return { id: "", aliases: "", viewer: "moat", viewerImported: "", viewerOriginal: undefined, minVersion: "", mtlsMode: "off", trustStore: "", origins: [{ ...EMPTY_ORIGIN }], extra: "{}" };
  }
  const { id, aliases, viewerCertificate, tls, viewerMtls, origins, ...extra } = document;
  const viewer = sourceKind(viewerCertificate);
  const { mode: _mode, trustStore: _trustStore, ...mtlsRest } = viewerMtls ?? { mode: "off" };
  const { minVersion: _minVersion, ...tlsRest } = tls ?? {};
  const extraDocument: Record<string, unknown> = { ...extra };
  if (Object.keys(mtlsRest).length > 0) extraDocument.viewerMtls = mtlsRest;
  if (Object.keys(tlsRest).length > 0) extraDocument.tls = tlsRest;
  return {
    id,
    aliases: aliases.join("\n"),
    viewer: viewer.kind,
    viewerImported: viewer.imported,
    viewerOriginal: viewerCertificate,
    minVersion: tls?.minVersion ?? "",
    mtlsMode: viewerMtls?.mode ?? "off",
    trustStore: viewerMtls?.trustStore ?? "",
    origins: origins.map((origin) => {
      const { id: originId, url, mtls, ...rest } = origin;
      const client = sourceKind(mtls?.clientCertificate);
      const { clientCertificate: _client, serverName, ...mtlsRestOfOrigin } = mtls ?? {};
      return { id: originId, url, client: client.kind, importedName: client.imported, serverName: serverName ?? "", rest: { ...rest, ...(Object.keys(mtlsRestOfOrigin).length > 0 ? { mtls: mtlsRestOfOrigin } : {}) }, original: mtls?.clientCertificate };
    }),
    extra: JSON.stringify(extraDocument, null, 2),
  };
}

function certificateSource(kind: SourceKind, imported: string, original: unknown): unknown {
  if (kind === "imported") return { imported };
  if (kind === "none") return "none";
  if (kind === "files") return original;
  return { issuedBy: "moat" };
}

/** The document the form describes; a problem with the JSON part is the console's only own check (it must parse). */
export function toDocument(form: FormState): { document?: Record<string, unknown>; extraError?: string } {
  let extra: Record<string, unknown>;
  try {
    extra = JSON.parse(form.extra.trim() || "{}") as Record<string, unknown>;
    if (typeof extra !== "object" || extra === null || Array.isArray(extra)) return { extraError: "must be a JSON object ({ … })" };
  } catch (error) {
    return { extraError: `is not JSON: ${(error as Error).message}` };
  }
  const extraMtls = (extra.viewerMtls ?? {}) as Record<string, unknown>;
  const extraTls = (extra.tls ?? {}) as Record<string, unknown>;
  const { viewerMtls: _m, tls: _t, ...others } = extra;
  const document: Record<string, unknown> = {
    id: form.id.trim(),
    aliases: form.aliases.split(/[\s,]+/).filter(Boolean),
    viewerCertificate: certificateSource(form.viewer, form.viewerImported.trim(), form.viewerOriginal),
    ...(form.minVersion || Object.keys(extraTls).length > 0 ? { tls: { ...extraTls, ...(form.minVersion ? { minVersion: form.minVersion } : {}) } } : {}),
    ...(form.mtlsMode !== "off" || Object.keys(extraMtls).length > 0 ? { viewerMtls: { ...extraMtls, mode: form.mtlsMode, ...(form.trustStore.trim() ? { trustStore: form.trustStore.trim() } : {}) } } : {}),
    origins: form.origins.map((origin) => {
      const restMtls = (origin.rest.mtls ?? {}) as Record<string, unknown>;
      const mtls = { ...restMtls, clientCertificate: certificateSource(origin.client, origin.importedName.trim(), origin.original), ...(origin.serverName.trim() ? { serverName: origin.serverName.trim() } : {}) };
      return { ...origin.rest, id: origin.id.trim(), url: origin.url.trim(), mtls };
    }),
    ...others,
  };
  return { document };
}

/** `distributions[2].origins[0].url` or `/origins/0/url` → `origins.0.url`: the key the form's fields are known by. */
export function fieldKey(issue: ProblemIssue): string {
  if (issue.pointer !== undefined) return issue.pointer.split("/").slice(1).map((part) => part.replaceAll("~1", "/").replaceAll("~0", "~")).join(".");
  return issue.path.replace(/\[(\d+)\]/g, ".$1").replace(/^distributions\.\d+\./, "");
}

export const FORM_KEYS = (origins: number) => ["id", "aliases", "viewerCertificate", "tls.minVersion", "viewerMtls.mode", "viewerMtls.trustStore", ...Array.from({ length: origins }, (_, index) => [`origins.${index}.id`, `origins.${index}.url`, `origins.${index}.mtls.clientCertificate`, `origins.${index}.mtls.serverName`]).flat()];

