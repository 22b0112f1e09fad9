// The routes of the config's settings sections (`listen`, `cache`, `pki`…): one path per section, each with its own schema.
import { z } from "zod";
import { configSchema } from "../../config/index.ts";
import { ApiNotFoundError } from "../../errors.ts";
import { describeResource, SETTING_NAMES } from "../../store/index.ts";
import type { Store, StoredResource } from "../../store/index.ts";
import { defineRoute } from "../api-route.ts";
import type { ApiRoute } from "../api-route.ts";
import { actorOf } from "../auth.ts";
import { etagOf, writePrecondition } from "../preconditions.ts";

const TAG = "Settings";

export function settingsRoutes(store: Store): ApiRoute[] {
  const itemOf = (resource: StoredResource) => ({ name: resource.name, version: resource.version, revision: resource.revision, document: resource.document });
  const listItem = z.strictObject({ name: z.enum(SETTING_NAMES), version: z.int(), revision: z.int(), document: z.unknown() });
  const routes: ApiRoute[] = [
    defineRoute({
      method: "GET",
      url: "/settings",
      operationId: "listSettings",
      summary: "Every settings section the store holds (a section not stored has its defaults)",
      tag: TAG,
      role: "viewer",
      responses: { 200: { description: "The sections, read at one revision", schema: z.strictObject({ revision: z.int(), items: z.array(listItem) }) } },
      async handler() {
        const state = await store.read();
        return { status: 200, body: { revision: state.revision, items: state.resources.filter((resource) => resource.kind === "setting").map(itemOf) } };
      },
    }),
  ];
  for (const name of SETTING_NAMES) {
    // The section's own schema from the config's: the API and `moat config check` take the same documents.
    const document = (configSchema.shape[name] as z.ZodOptional<z.ZodType>).unwrap();
    const item = z.strictObject({ name: z.literal(name), version: z.int(), revision: z.int(), document });
    const title = name.charAt(0).toUpperCase() + name.slice(1);
    const url = `/settings/${name}`;
    const resource = describeResource("setting", name);
    routes.push(
      defineRoute({
        method: "GET",
        url,
        operationId: `get${title}Setting`,
        summary: `Read the ${name} section; its ETag is its version`,
        tag: TAG,
        role: "viewer",
        responses: { 200: { description: "The section", schema: item, headers: ["ETag"] } },
        async handler() {
          const stored = await store.get("setting", name);
          if (!stored) throw new ApiNotFoundError(`${resource} (not stored: its defaults apply)`);
          return { status: 200, body: itemOf(stored), headers: { etag: etagOf(stored.version) } };
        },
      }),
      defineRoute({
        method: "PUT",
        url,
        operationId: `put${title}Setting`,
        summary: `Replace the ${name} section (If-Match: its ETag), or store it (If-None-Match: *)`,
        tag: TAG,
        role: "admin",
        body: document,
        conditionalHeaders: ["If-Match", "If-None-Match"],
        responses: { 200: { description: "Replaced", schema: item, headers: ["ETag"] }, 201: { description: "Stored", schema: item, headers: ["ETag", "Location"] } },
        async handler({ sentBody, headers, identity }) {
          const ifVersion = await writePrecondition(headers, { resource, action: "replacing", current: () => store.get("setting", name) });
          const change = await store.put("setting", name, sentBody, { actor: actorOf(identity), ifVersion });
          const version = change.version as number;
          const status = ifVersion === "absent" ? 201 : 200;
          return { status, body: { name, version, revision: change.revision, document: sentBody }, headers: { etag: etagOf(version), ...(status === 201 ? { location: url } : {}) } };
        },
      }),
      defineRoute({
        method: "DELETE",
        url,
        operationId: `delete${title}Setting`,
        summary: `Remove the ${name} section (If-Match: its ETag): its defaults apply again`,
        tag: TAG,
        role: "admin",
        conditionalHeaders: ["If-Match"],
        responses: { 204: { description: "Removed" } },
        async handler({ headers, identity }) {
          const ifVersion = await writePrecondition(headers, { resource, action: "deleting", current: () => store.get("setting", name) });
          await store.remove("setting", name, { actor: actorOf(identity), ifVersion });
          return { status: 204 };
        },
      }),
    );
  }
  return routes;
}
