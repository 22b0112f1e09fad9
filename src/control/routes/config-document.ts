// The whole config document at once: export it (ETag = revision), apply one in one revision (If-Match required), or see what applying it would change.
import { z } from "zod";
import { validateStoredDocument } from "../../config/index.ts";
import { ConfigInvalidError, StoreRevisionConflictError } from "../../errors.ts";
import { changedResources, diffConfig, preferStored } from "../../store/index.ts";
import type { ConfigDiff, Store } from "../../store/index.ts";
import { defineRoute } from "../api-route.ts";
import type { ApiRoute } from "../api-route.ts";
import { actorOf } from "../auth.ts";
import { etagOf, revisionPrecondition } from "../preconditions.ts";

const TAG = "Config";

/**
 * A config document as a config file holds it (the config reference has its fields). The body is taken as any
 * JSON object and judged whole by the config's own validation, so that an invalid one is answered 422 with every
 * issue named by its path in the config, as `moat config check` names them.
 */
const configDocument = z.record(z.string(), z.unknown()).meta({
  title: "ConfigDocument",
  description: "A whole config document, as a config file holds it: settings sections, trustStores, distributions; every path absolute",
});

const fieldChange = z.strictObject({
  change: z.enum(["added", "removed", "changed", "reordered"]),
  /** Relative to the resource: `origins[id=app].url`; "" for a setting's whole value. */
  path: z.string(),
  before: z.unknown().optional(),
  after: z.unknown().optional(),
});
const resourceChange = z
  .strictObject({
    action: z.enum(["create", "change", "delete"]),
    kind: z.enum(["setting", "trustStore", "distribution"]),
    name: z.string(),
    document: z.unknown().optional().meta({ description: "What is created or deleted" }),
    fields: z.array(fieldChange).optional().meta({ description: "What changes, field by field" }),
  })
  .meta({ title: "ResourceChange" });
const diffAnswer = z.strictObject({
  revision: z.int().meta({ description: "The store revision the document was compared with (send it as If-Match to apply exactly this)" }),
  changes: z.array(resourceChange),
  unchanged: z.int().meta({ description: "Resources the document and the store hold alike" }),
});
const applyAnswer = z.strictObject({
  revision: z.int().meta({ description: "The store's revision now: a new one if anything changed, the one it had otherwise" }),
  applied: z.boolean(),
  changes: z.array(resourceChange),
  unchanged: z.int(),
});
const exportAnswer = z.strictObject({ revision: z.int(), document: configDocument });

/** Judged as the store judges a write: the config's schema and cross-references, and only absolute paths. */
function checked(document: Record<string, unknown>): Record<string, unknown> {
  const issues = validateStoredDocument(document);
  if (issues.length > 0) throw new ConfigInvalidError("the config document", issues);
  return document;
}

function diffBody(diff: ConfigDiff) {
  return { revision: diff.revision, changes: diff.changes, unchanged: diff.unchanged };
}

export function configDocumentRoutes(store: Store): ApiRoute[] {
  return [
    defineRoute({
      method: "GET",
      url: "/config",
      operationId: "getConfig",
      // A config document names files (certificates, keys, CA bundles, the master key file) by path only: the
      // schema has no field that holds a key, so a viewer reads no key material here.
      summary: "The whole config document at the newest revision (as `moat export` writes it); its ETag is the revision",
      tag: TAG,
      role: "viewer",
      responses: { 200: { description: "The document and its revision", schema: exportAnswer, headers: ["ETag"] } },
      async handler() {
        const read = await store.read();
        return { status: 200, body: { revision: read.revision, document: read.document }, headers: { etag: etagOf(read.revision) } };
      },
    }),
    defineRoute({
      method: "PUT",
      url: "/config",
      operationId: "putConfig",
      summary: "Make the store hold this whole document, in one revision (If-Match: the revision it was planned against; 412 if the store has moved)",
      tag: TAG,
      role: "admin",
      body: configDocument,
      conditionalHeaders: ["If-Match"],
      responses: { 200: { description: "Applied (or already held: no new revision)", schema: applyAnswer, headers: ["ETag"] } },
      async handler({ body, headers, identity }) {
        const ifRevision = revisionPrecondition(headers);
        const document = checked(body);
        const current = await store.read();
        if (current.revision !== ifRevision) throw new StoreRevisionConflictError(ifRevision, current.revision);
        const diff = diffConfig(current, document);
        if (diff.changes.length === 0) return { status: 200, body: { ...diffBody(diff), applied: false }, headers: { etag: etagOf(current.revision) } };
        // The store checks the revision again under its write lock: a write that landed since this read refuses it.
        const committed = await store.replaceAll(preferStored(current, document), {
          actor: actorOf(identity),
          summary: `PUT /config: ${changedResources(diff)}`,
          ifRevision,
        });
        return { status: 200, body: { ...diffBody(diff), revision: committed.revision, applied: true }, headers: { etag: etagOf(committed.revision) } };
      },
    }),
    defineRoute({
      method: "POST",
      url: "/config/diff",
      operationId: "diffConfig",
      summary: "What PUT /config of this document would change, per resource, field by field; nothing is written",
      tag: TAG,
      role: "operator",
      body: configDocument,
      responses: { 200: { description: "The changes against the newest revision", schema: diffAnswer } },
      async handler({ body }) {
        return { status: 200, body: diffBody(diffConfig(await store.read(), checked(body))) };
      },
    }),
  ];
}
