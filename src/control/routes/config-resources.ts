// The routes of a config resource kept by name (distributions, trust stores): list, get, create, replace, delete, with ETags from versions.
import { z } from "zod";
import { closedObject, idSchema } from "../../config/index.ts";
import { ApiNotFoundError, ApiResourceExistsError, StoreVersionConflictError } from "../../errors.ts";
import { describeResource } from "../../store/index.ts";
import type { ApiRole, CommittedChange, ResourceKind, Store, StoredResource } from "../../store/index.ts";
import { defineRoute } from "../api-route.ts";
import type { ApiReply, ApiRoute } from "../api-route.ts";
import { actorOf } from "../auth.ts";
import { etagOf, writePrecondition } from "../preconditions.ts";

export interface ResourceRoutesSpec {
  kind: Exclude<ResourceKind, "setting">;
  /** `/distributions` */
  path: string;
  /** The name's field in a list item and its path parameter: `id` for a distribution, `name` for a trust store. */
  key: "id" | "name";
  tag: string;
  /** What the document is, for the OpenAPI document: `Distribution`. */
  title: string;
  document: z.ZodType;
  /** The least role that may change it. */
  writeRole: ApiRole;
  /** Whether POST to the collection creates one (the name is inside the document, as a distribution's id). */
  nameInDocument: boolean;
}

const DEFAULT_PAGE = 100;
const MAX_PAGE = 500;

/** `?limit=&cursor=`: a page of names in order, after the cursor (the last name of the previous page). */
const pageQuery = closedObject({
  limit: z.coerce.number().int().min(1).max(MAX_PAGE).optional().meta({ description: `At most this many items (default ${DEFAULT_PAGE})` }),
  cursor: z.string().min(1).optional().meta({ description: "The nextCursor of the previous page" }),
});

export function configResourceRoutes(store: Store, spec: ResourceRoutesSpec): ApiRoute[] {
  const { kind, key, path } = spec;
  const item = z.strictObject({ [key]: z.string(), version: z.int(), revision: z.int(), document: spec.document }).meta({ title: `${spec.title}Item` });
  const list = z.strictObject({ revision: z.int(), items: z.array(item), nextCursor: z.string().optional() });
  const params = closedObject({ [key]: idSchema }) as z.ZodType<Record<string, string>>;
  const itemPath = `${path}/:${key}`;

  const itemBody = (resource: StoredResource) => ({ [key]: resource.name, version: resource.version, revision: resource.revision, document: resource.document });
  const found = (resource: StoredResource, status = 200, extra: Record<string, string> = {}): ApiReply => ({
    status,
    body: itemBody(resource),
    headers: { etag: etagOf(resource.version), ...extra },
  });
  // What was written, at the version and revision the write made: no second read that another write could slip before.
  const written = (name: string, document: unknown, change: CommittedChange, status: 200 | 201) =>
    found({ kind, name, document, version: change.version as number, revision: change.revision }, status, status === 201 ? { location: `${path}/${encodeURIComponent(name)}` } : {});

  const routes: ApiRoute[] = [
    defineRoute({
      method: "GET",
      url: path,
      operationId: `list${spec.title}s`,
      summary: `List ${spec.tag.toLowerCase()}, a page at a time, in name order`,
      tag: spec.tag,
      role: "viewer",
      query: pageQuery,
      responses: { 200: { description: "A page, read at one revision", schema: list } },
      async handler({ query }) {
        const state = await store.read();
        const all = state.resources.filter((resource) => resource.kind === kind);
        const after = query.cursor === undefined ? all : all.filter((resource) => resource.name > (query.cursor as string));
        const page = after.slice(0, query.limit ?? DEFAULT_PAGE);
        const last = page.at(-1);
        const hasMore = after.length > page.length && last !== undefined;
        return { status: 200, body: { revision: state.revision, items: page.map(itemBody), ...(hasMore ? { nextCursor: last.name } : {}) } };
      },
    }),
    defineRoute({
      method: "GET",
      url: itemPath,
      operationId: `get${spec.title}`,
      summary: `Read one ${describeResource(kind, "").trim()}; its ETag is its version`,
      tag: spec.tag,
      role: "viewer",
      params,
      responses: { 200: { description: "The resource", schema: item, headers: ["ETag"] } },
      async handler({ params: named }) {
        const name = named[key] as string;
        const resource = await store.get(kind, name);
        if (!resource) throw new ApiNotFoundError(describeResource(kind, name));
        return found(resource);
      },
    }),
    defineRoute({
      method: "PUT",
      url: itemPath,
      operationId: `put${spec.title}`,
      summary: `Replace one (If-Match: its ETag), or create it (If-None-Match: *); the whole resulting config is validated`,
      tag: spec.tag,
      role: spec.writeRole,
      params,
      body: spec.document,
      conditionalHeaders: ["If-Match", "If-None-Match"],
      responses: { 200: { description: "Replaced", schema: item, headers: ["ETag"] }, 201: { description: "Created", schema: item, headers: ["ETag", "Location"] } },
      async handler({ params: named, sentBody, headers, identity }) {
        const name = named[key] as string;
        const resource = describeResource(kind, name);
        const ifVersion = await writePrecondition(headers, { resource, action: "replacing", current: () => store.get(kind, name) });
        const change = await store.put(kind, name, sentBody, { actor: actorOf(identity), ifVersion });
        return written(name, sentBody, change, ifVersion === "absent" ? 201 : 200);
      },
    }),
    defineRoute({
      method: "DELETE",
      url: itemPath,
      operationId: `delete${spec.title}`,
      summary: `Delete one (If-Match: its ETag); refused if the config would then be invalid`,
      tag: spec.tag,
      role: spec.writeRole,
      params,
      conditionalHeaders: ["If-Match"],
      responses: { 204: { description: "Deleted" } },
      async handler({ params: named, headers, identity }) {
        const name = named[key] as string;
        const ifVersion = await writePrecondition(headers, { resource: describeResource(kind, name), action: "deleting", current: () => store.get(kind, name) });
        await store.remove(kind, name, { actor: actorOf(identity), ifVersion });
        return { status: 204 };
      },
    }),
  ];
  if (spec.nameInDocument) {
    routes.push(
      defineRoute({
        method: "POST",
        url: path,
        operationId: `create${spec.title}`,
        summary: `Create one (refused with 409 if one with its ${key} exists); the whole resulting config is validated`,
        tag: spec.tag,
        role: spec.writeRole,
        body: spec.document,
        responses: { 201: { description: "Created", schema: item, headers: ["ETag", "Location"] } },
        async handler({ body, sentBody, identity }) {
          const name = (body as Record<string, unknown>)[key] as string;
          const change = await store.put(kind, name, sentBody, { actor: actorOf(identity), ifVersion: "absent" }).catch((error: unknown) => {
            throw error instanceof StoreVersionConflictError ? new ApiResourceExistsError(describeResource(kind, name)) : error;
          });
          return written(name, sentBody, change, 201);
        },
      }),
    );
  }
  return routes;
}
